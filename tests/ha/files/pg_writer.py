"""Inserts one row at a time into mlflow_db.ha_probe through libpq's multi-host connection until a stop file appears,
reconnecting after every error, and records which inserts PostgreSQL acknowledged (their commit returned).

Usage: pg_writer.py CONFIG OUTPUT STOPFILE; CONFIG (0600) holds psycopg2.connect() keywords and a note for the rows.
OUTPUT gets {"acked": [...], "failed": n, "servers": [...], "longest_gap_s": s}; OUTPUT.progress appears at the first
acknowledged insert.
"""

from __future__ import annotations

import json
import os
import sys
import time

import psycopg2

CREATE = (
    "create table if not exists ha_probe (id bigserial primary key, note text not null, at timestamptz default now())"
)


def main(config_path: str, output: str, stop: str) -> None:
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    acked: list[int] = []
    servers: set[str] = set()
    failed, longest, last_ok, connection = 0, 0.0, time.monotonic(), None
    while not os.path.exists(stop):
        try:
            if connection is None:
                connection = psycopg2.connect(**config["params"])
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute(CREATE)
            with connection.cursor() as cursor:
                cursor.execute(
                    "insert into ha_probe (note) values (%s) returning id, host(inet_server_addr())", (config["note"],)
                )
                row_id, server = cursor.fetchone()
            now = time.monotonic()
            acked.append(row_id)
            servers.add(server)
            longest, last_ok = max(longest, now - last_ok), now
            if len(acked) == 1:
                open(output + ".progress", "w", encoding="utf-8").close()
        except psycopg2.Error:
            failed += 1
            if connection is not None:
                connection.close()
            connection = None
            time.sleep(0.2)
        time.sleep(0.05)
    result = {"acked": acked, "failed": failed, "servers": sorted(servers), "longest_gap_s": round(longest, 1)}
    with open(output + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main(*sys.argv[1:4])
