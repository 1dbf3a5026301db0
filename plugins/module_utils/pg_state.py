# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""A database's state as backup verification compares it: per-table row counts and checksums, Alembic revision.

Connections come from postgres.py (the Unix socket, as the postgres OS user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import sql


@dataclass(frozen=True)
class TableState:
    """Row count and content checksum of one table, as of one snapshot."""

    rows: int
    checksum: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "checksum": self.checksum}


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


def table_exists(cursor: Any, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",))
    return bool(cursor.fetchone()[0])
