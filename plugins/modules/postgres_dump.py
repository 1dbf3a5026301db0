#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Dump PostgreSQL databases consistently, compressed and encrypted, with row counts and checksums."""

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_dump
short_description: Dump PostgreSQL databases consistently, compressed and encrypted, with a state to verify against
version_added: 0.3.0
description:
  - For each database, opens a read-only REPEATABLE READ transaction, exports its snapshot, records every public
    table's row count and content checksum and the alembic revision in that snapshot, and runs C(pg_dump --snapshot)
    on the same snapshot. What the manifest says is therefore exactly what the dump holds, even while MLflow writes.
  - Works the same on a streaming standby, which exports snapshots too, so a backup can read from a replica instead
    of the primary; RV(standby) says which it was.
  - Dumps are in C(pg_dump)'s custom format (so C(pg_restore -j) can restore in parallel), compressed with
    multi-threaded zstd and, when O(passphrase) is given, encrypted with gpg AES256. The passphrase reaches gpg
    through a pipe, never a command line or a file.
  - Optionally dumps the cluster's roles (C(pg_dumpall --roles-only)), which a restore onto a new server needs.
  - Runs on the database host as the C(postgres) OS user (C(become_user=postgres)); connects over the Unix socket.
  - A file is written as C(<name>.partial) and renamed only when every stage succeeded.
extends_documentation_fragment:
  - birtha.mlflow.mlflow.backup_encoding
  - birtha.mlflow.mlflow.attributes
options:
  databases:
    description: Databases to dump.
    type: list
    elements: str
    required: true
  dest:
    description: Directory the dumps are written to. It must exist and be writable by the user the module runs as.
    type: path
    required: true
  port:
    description: Port of the local PostgreSQL server.
    type: int
    default: 5432
  roles:
    description: Also dump the cluster's roles into C(roles.sql).
    type: bool
    default: true
  checksums:
    description:
      - Record a content checksum per table besides its row count. Reads every row once; turn off for very large
        databases if the row counts are enough.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Checks that O(dest) is a directory, then reports C(changed) with RV(started) and RV(finished); connects
      to no database and writes nothing, so RV(files) and RV(databases) are absent.
  diff_mode:
    support: none
requirements:
  - psycopg2, pg_dump and pg_dumpall, zstd (with O(compress)), gpg (with O(passphrase)) on the database host
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Dump MLflow's databases into the backup set's directory
  birtha.mlflow.postgres_dump:
    databases: [mlflow_db, mlflow_auth]
    dest: /var/backups/mlflow/spool/20261128T101500Z/postgres
    passphrase: "{{ vault_backup_passphrase }}"
  become: true
  become_user: postgres
  register: dumped
"""

RETURN = r"""
files:
  description: Files written, relative to O(dest), with size and sha256.
  returned: success and not in check mode
  type: list
  elements: dict
  sample: [{name: mlflow_db.dump.zst.gpg, size: 48213, sha256: 9f86d0...}]
databases:
  description: Per database, its file, alembic revision and per-table rows and checksums, as of the dump's snapshot.
  returned: success and not in check mode
  type: dict
  sample: {mlflow_db: {file: mlflow_db.dump.zst.gpg, alembic_revision: 1b5f0d9ad7c1,
           tables: {runs: {rows: 200, checksum: 5d41402abc4b2a76b9719d911017c592}}}}
started:
  description: UTC time the first snapshot was taken (ISO 8601).
  returned: success
  type: str
finished:
  description: UTC time the last file was complete (ISO 8601).
  returned: success
  type: str
standby:
  description:
    - Whether the server dumped from was a standby in recovery (a streaming replica) in any database's snapshot.
      Its data is then as of the standby's replay position.
  returned: success and not in check mode
  type: bool
  sample: true
"""

import datetime
import os
import traceback
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import (
    Encoding,
    StreamError,
    command_into,
    encoding_argument_spec,
    sha256_file,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.pg_state import alembic_revision, database_state
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresModule, connect, psycopg2

ALEMBIC_TABLES = ("alembic_version", "alembic_version_auth")


def argument_spec() -> dict[str, Any]:
    return {
        "databases": {"type": "list", "elements": "str", "required": True},
        "dest": {"type": "path", "required": True},
        "roles": {"type": "bool", "default": True},
        **encoding_argument_spec(),
        "checksums": {"type": "bool", "default": True},
    }


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schema_revision(cursor: Any) -> str:
    for table in ALEMBIC_TABLES:
        revision = alembic_revision(cursor, table)
        if revision:
            return revision
    return ""


def dump_database(name: str, params: dict[str, Any], encoding: Encoding) -> dict[str, Any]:
    """Snapshot, state and dump of one database, all from the same snapshot."""
    filename = f"{name}.dump{encoding.suffix()}"
    with connect(name, port=params["port"]) as connection:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute("SELECT pg_is_in_recovery()")
            standby = bool(cursor.fetchone()[0])
            state = database_state(cursor, params["checksums"])
            revision = schema_revision(cursor)
            command = ["pg_dump", "--format=custom", "--compress=0", f"--snapshot={snapshot}"]
            command += [f"--port={params['port']}", f"--dbname={name}"]
            # The snapshot stays valid while this transaction is open, so the dump runs inside it.
            command_into(command, os.path.join(params["dest"], filename), encoding)
        connection.rollback()
    return {"file": filename, "alembic_revision": revision, "tables": state, "standby": standby}


def main() -> None:
    # Several databases, so no database option: only the port and the driver check are shared.
    module = PostgresModule(argument_spec(), database=None, supports_check_mode=True)
    params = module.params
    if not os.path.isdir(params["dest"]):
        module.fail_json(msg=f"dest: {params['dest']} is not a directory; create it first.")
    encoding = Encoding.from_params(params)
    started = now()
    if module.check_mode:
        module.exit_json(changed=True, started=started, finished=started)
    os.umask(0o077)
    databases: dict[str, Any] = {}
    try:
        for name in params["databases"]:
            databases[name] = dump_database(name, params, encoding)
        names = [entry["file"] for entry in databases.values()]
        if params["roles"]:
            roles_file = f"roles.sql{encoding.suffix()}"
            command_into(
                ["pg_dumpall", "--roles-only", f"--port={params['port']}"],
                os.path.join(params["dest"], roles_file),
                encoding,
            )
            names.append(roles_file)
    except StreamError as exc:
        module.fail_json(msg=f"Dump failed: {exc}")
    except psycopg2.OperationalError as exc:
        module.fail_json(
            msg=f"Dump failed: PostgreSQL does not answer on port {params['port']} (is it running?): "
            f"{str(exc).strip()}. Nothing was written to {params['dest']}."
        )
    except Exception as exc:
        module.fail_json(msg=f"Dump failed: {exc}", exception=traceback.format_exc())
    files = []
    for name in names:
        path = os.path.join(params["dest"], name)
        files.append({"name": name, "size": os.path.getsize(path), "sha256": sha256_file(path)})
    standby = any(entry.pop("standby") for entry in databases.values())
    module.exit_json(changed=True, files=files, databases=databases, standby=standby, started=started, finished=now())


if __name__ == "__main__":
    main()
