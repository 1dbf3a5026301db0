# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""What monitoring, platform_health and postgres_activity ask PostgreSQL: settings, sizes, connections, sessions.

Connections come from postgres.py (the Unix socket, as the postgres OS user).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_state import table_exists, table_state
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import percent
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import sql

# MLflow marks a deleted model version with this stage and keeps the row; its API no longer shows it.
MODEL_VERSION_DELETED_STAGE = "Deleted_Internal"


def server_setting(cursor: Any, name: str) -> str:
    """A server setting as SHOW prints it (max_connections, data_directory, ...)."""
    cursor.execute("SELECT current_setting(%s)", (name,))
    return cursor.fetchone()[0]


def database_sizes(cursor: Any) -> dict[str, int]:
    """Bytes on disk of every database that accepts connections (templates left out), by name."""
    cursor.execute(
        "SELECT datname, pg_database_size(oid) FROM pg_database "
        "WHERE datallowconn AND NOT datistemplate ORDER BY datname"
    )
    return {name: int(size) for name, size in cursor.fetchall()}


def largest_tables(cursor: Any, limit: int) -> list[dict[str, Any]]:
    """The limit largest tables of the connected database: total size (indexes and TOAST included), the table
    alone, and the planner's row estimate (None until the table was first analysed)."""
    cursor.execute(
        "SELECT n.nspname, c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), c.reltuples "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%%' "
        "ORDER BY 3 DESC, 2 LIMIT %s",
        (limit,),
    )
    return [
        {
            "schema": schema,
            "table": table,
            "total_bytes": int(total),
            "table_bytes": int(heap),
            "rows_estimate": int(rows) if rows is not None and rows >= 0 else None,
        }
        for schema, table, total, heap, rows in cursor.fetchall()
    ]


# Client connections by state (background workers left out) and max_connections, as one JSON value: the one
# definition of "connections in use" for the activity report, the metrics and the health check (which runs it
# through psql on hosts without psycopg2).
CONNECTION_USAGE_SQL = (
    "SELECT json_build_object('max_connections', current_setting('max_connections')::int, 'by_state', "
    "(SELECT coalesce(json_object_agg(state, n), '{}') FROM (SELECT coalesce(state, 'unknown') AS state, "
    "count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1) s))"
)


@dataclass(frozen=True)
class ConnectionUsage:
    """Client connections against max_connections."""

    by_state: dict[str, int]
    max_connections: int

    @property
    def in_use(self) -> int:
        return sum(self.by_state.values())

    @property
    def percent(self) -> float:
        return percent(self.in_use, self.max_connections)

    @classmethod
    def from_json(cls, value: Any) -> ConnectionUsage:
        """From CONNECTION_USAGE_SQL's value: a dict (psycopg2 decodes json) or its text (psql)."""
        data = json.loads(value) if isinstance(value, str) else value
        by_state = {str(state): int(count) for state, count in sorted(data["by_state"].items())}
        return cls(by_state=by_state, max_connections=int(data["max_connections"]))


# Streaming replication as this server sees it: whether it is a standby, and on a primary each standby with how far
# its replay is behind this server's WAL (bytes). A standby reports how far its own replay trails what it received.
REPLICATION_SQL = (
    "SELECT json_build_object('in_recovery', pg_is_in_recovery(), "
    "'replay_behind_bytes', CASE WHEN pg_is_in_recovery() "
    "THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) END, "
    "'standbys', CASE WHEN pg_is_in_recovery() THEN '[]'::json ELSE (SELECT coalesce(json_agg(json_build_object("
    "'name', application_name, 'state', state, 'sync_state', sync_state, "
    "'lag_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) ORDER BY application_name), '[]') "
    "FROM pg_stat_replication) END)"
)


def replication_state(cursor: Any) -> dict[str, Any]:
    """REPLICATION_SQL's answer, with the byte counts as integers (None where unknown)."""
    cursor.execute(REPLICATION_SQL)
    value = cursor.fetchone()[0]
    data = json.loads(value) if isinstance(value, str) else value
    behind = data.get("replay_behind_bytes")
    return {
        "in_recovery": bool(data["in_recovery"]),
        "replay_behind_bytes": int(behind) if behind is not None else None,
        "standbys": [
            {**standby, "lag_bytes": int(standby["lag_bytes"]) if standby.get("lag_bytes") is not None else None}
            for standby in data.get("standbys") or []
        ],
    }


# One row: whether the cluster archives, pg_stat_archiver's counters, and the age of the oldest WAL segment waiting
# to be archived (its .ready file): how far the archive is behind, in seconds (0 when nothing waits).
ARCHIVING_SQL = (
    "SELECT json_build_object('mode', current_setting('archive_mode'), 'failed_count', failed_count, "
    "'last_archived_wal', last_archived_wal, 'last_archived_time', last_archived_time, "
    "'last_failed_wal', last_failed_wal, 'last_failed_time', last_failed_time, "
    "'failing', last_failed_time IS NOT NULL "
    "AND (last_archived_time IS NULL OR last_failed_time > last_archived_time), "
    "'lag_seconds', coalesce((SELECT floor(extract(epoch FROM now() - min(modification)))::int "
    "FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'), 0)) FROM pg_stat_archiver"
)


def archiving_state(cursor: Any) -> dict[str, Any] | None:
    """ARCHIVING_SQL's answer; None where the cluster does not archive its WAL."""
    cursor.execute(ARCHIVING_SQL)
    value = cursor.fetchone()[0]
    data = json.loads(value) if isinstance(value, str) else value
    if data.get("mode") == "off":
        return None
    return {**data, "lag_seconds": int(data.get("lag_seconds") or 0), "failing": bool(data.get("failing"))}


def connection_usage(cursor: Any) -> ConnectionUsage:
    cursor.execute(CONNECTION_USAGE_SQL)
    return ConnectionUsage.from_json(cursor.fetchone()[0])


def count_by(cursor: Any, table: str, column: str) -> dict[str, int]:
    """Rows of a public table grouped by one column (NULL counted as 'none')."""
    cursor.execute(
        sql.SQL("SELECT coalesce({column}::text, 'none'), count(*) FROM {table} GROUP BY 1 ORDER BY 1").format(
            column=sql.Identifier(column), table=sql.Identifier(table)
        )
    )
    return {key: int(count) for key, count in cursor.fetchall()}


def mlflow_counts(cursor: Any) -> dict[str, Any]:
    """What MLflow's tracking database holds: experiments and runs by lifecycle stage (active, deleted),
    registered models, model versions (by stage, MLflow's internally deleted ones left out). A table that
    does not exist (MLflow's schema not created yet) counts as empty."""
    counts: dict[str, Any] = {}
    for table in ("experiments", "runs"):
        by_stage = count_by(cursor, table, "lifecycle_stage") if table_exists(cursor, table) else {}
        counts[table] = {
            "total": sum(by_stage.values()),
            "active": by_stage.get("active", 0),
            "deleted": by_stage.get("deleted", 0),
        }
    has_models = table_exists(cursor, "registered_models")
    counts["registered_models"] = table_state(cursor, "registered_models", checksum=False).rows if has_models else 0
    versions = count_by(cursor, "model_versions", "current_stage") if table_exists(cursor, "model_versions") else {}
    versions.pop(MODEL_VERSION_DELETED_STAGE, None)
    counts["model_versions"] = {"total": sum(versions.values()), "by_stage": versions}
    return counts


# What the troubleshooting of high database usage (playbooks/troubleshoot_database_usage.yml) asks and does.


def sessions_over(cursor: Any, state: str, seconds: int) -> list[dict[str, Any]]:
    """Client sessions in state (active: since their query started; idle in transaction: since their last
    statement) for longer than seconds, longest first; this session left out. 'since' identifies the query or
    the idle spell, so ending the session later can make sure it is still the same one."""
    since = "CASE WHEN state = 'active' THEN query_start ELSE state_change END"
    cursor.execute(
        "SELECT pid, usename, datname, coalesce(application_name, ''), coalesce(client_addr::text, 'local'), "
        f"extract(epoch FROM now() - {since})::int, coalesce(wait_event_type || ':' || wait_event, ''), query, "
        f"{since}::text FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = %s "
        f"AND pid <> pg_backend_pid() AND now() - {since} > make_interval(secs => %s) ORDER BY 6 DESC",
        (state, seconds),
    )
    keys = ("pid", "user", "database", "application", "client", "seconds", "waiting_on", "query", "since")
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def end_sessions(cursor: Any, sessions: list[dict[str, Any]], state: str, terminate: bool) -> list[int]:
    """Terminate the sessions (pg_terminate_backend) or cancel their queries (pg_cancel_backend), each only if it
    is still in the same state since the same moment (a pid may have moved on to other work meanwhile); the pids
    PostgreSQL acted on."""
    function = sql.Identifier("pg_terminate_backend" if terminate else "pg_cancel_backend")
    since = sql.SQL("CASE WHEN state = 'active' THEN query_start ELSE state_change END")
    statement = sql.SQL("SELECT {}(pid) FROM pg_stat_activity WHERE pid = %s AND state = %s AND {}::text = %s").format(
        function, since
    )
    ended = []
    for session in sessions:
        cursor.execute(statement, (session["pid"], state, session["since"]))
        row = cursor.fetchone()
        if row and row[0]:
            ended.append(session["pid"])
    return ended


# Run lifecycle, as MLflow's SqlAlchemyStore does it (mlflow/store/tracking/sqlalchemy_store.py, MLflow 3.17):
