# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The one backend-store (SQL) layer: what the backup, verify, restore and retention code asks PostgreSQL.

Connections go through psycopg2 on the database host (Unix socket, as the postgres OS user), so no
password is needed or passed.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PSYCOPG2_IMPORT_ERROR: str | None
try:
    import psycopg2
    from psycopg2 import sql
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
    psycopg2 = None  # type: ignore[assignment]
    sql = None  # type: ignore[assignment]
else:
    PSYCOPG2_IMPORT_ERROR = None


@dataclass(frozen=True)
class TableState:
    """Row count and content checksum of one table, as of one snapshot."""

    rows: int
    checksum: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "checksum": self.checksum}


@contextmanager
def connect(dbname: str, port: int = 5432, host: str | None = None, user: str | None = None) -> Iterator[Any]:
    """A connection to dbname; closed afterwards. Defaults reach the local server over its Unix socket."""
    connection = psycopg2.connect(dbname=dbname, port=port, host=host, user=user)
    try:
        yield connection
    finally:
        connection.close()


def user_tables(cursor: Any) -> list[str]:
    """Tables of the public schema, sorted (MLflow keeps all of its tables there)."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def table_state(cursor: Any, table: str, checksum: bool = True) -> TableState:
    """Rows and an order-independent checksum of the table's content: the sum of a 64-bit hash of each row's
    text. Equal sums mean equal content row by row, whatever the physical order after a restore, and no
    aggregate grows with the table (string_agg would hit PostgreSQL's 1 GB limit on a large metrics table).
    """
    identifier = sql.Identifier(table)
    if not checksum:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(identifier))
        return TableState(cursor.fetchone()[0], "")
    cursor.execute(
        sql.SQL(
            "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text "
            "FROM {} AS t"
        ).format(identifier)
    )
    rows, digest = cursor.fetchone()
    return TableState(rows, digest)


def database_state(cursor: Any, checksum: bool = True) -> dict[str, dict[str, Any]]:
    """Every public table's rows and checksum."""
    return {table: table_state(cursor, table, checksum).as_dict() for table in user_tables(cursor)}


def alembic_revision(cursor: Any, table: str = "alembic_version") -> str:
    """MLflow's schema revision, or an empty string when the table does not exist (a fresh database)."""
    cursor.execute("SELECT to_regclass(%s)", (f"public.{table}",))
    if cursor.fetchone()[0] is None:
        return ""
    cursor.execute(sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(table)))
    row = cursor.fetchone()
    return row[0] if row else ""


def compare_states(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """Differences between two database states, in words; empty when they are equal."""
    problems = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want is None:
            problems.append(f"table {table} exists but is not in the backup")
        elif got is None:
            problems.append(f"table {table} is missing")
        elif want["rows"] != got["rows"]:
            problems.append(f"table {table} has {got['rows']} rows, the backup {want['rows']}")
        elif want.get("checksum") and got.get("checksum") and want["checksum"] != got["checksum"]:
            problems.append(f"table {table} has the backup's row count but different content")
    return problems


# What the monitoring (playbooks/monitoring.yml) asks PostgreSQL: sizes, connections, MLflow's counts.

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


def client_connections(cursor: Any) -> dict[str, int]:
    """Client connections by state (active, idle, idle in transaction, ...); background workers left out."""
    cursor.execute(
        "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1"
    )
    return {state: int(count) for state, count in cursor.fetchall()}


def table_exists(cursor: Any, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",))
    return bool(cursor.fetchone()[0])


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
