"""module_utils/mlflow_sql.ConnectionUsage: the one reading of connections against max_connections, shared by the
activity report, the metrics (psycopg2 decodes the JSON) and the health check (psql prints it as text)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_stats import (
    CONNECTION_USAGE_SQL,
    ConnectionUsage,
    connection_usage,
)


class OneValueCursor:
    """A cursor whose single row holds the JSON value PostgreSQL returned."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.executed: list[str] = []

    def execute(self, query: str) -> None:
        self.executed.append(query)

    def fetchone(self) -> tuple[object]:
        return (self.value,)


ANSWER = {"max_connections": 100, "by_state": {"idle": 9, "active": 2, "idle in transaction": 1}}


def test_psycopg2_and_psql_answers_read_the_same() -> None:
    from_dict = ConnectionUsage.from_json(ANSWER)
    from_text = ConnectionUsage.from_json(json.dumps(ANSWER))
    assert from_dict == from_text
    assert from_dict.in_use == 12 and from_dict.max_connections == 100 and from_dict.percent == 12.0
    assert list(from_dict.by_state) == ["active", "idle", "idle in transaction"], "states in a stable order"


def test_connection_usage_runs_the_shared_query() -> None:
    cursor = OneValueCursor(ANSWER)
    assert connection_usage(cursor).in_use == 12
    assert cursor.executed == [CONNECTION_USAGE_SQL]


def test_no_client_connections_and_no_limit() -> None:
    idle = ConnectionUsage.from_json('{"max_connections": 100, "by_state": {}}')
    assert idle.in_use == 0 and idle.percent == 0.0
    assert ConnectionUsage.from_json({"max_connections": 0, "by_state": {"idle": 3}}).percent == 0.0


def test_an_answer_without_the_limit_is_refused() -> None:
    with pytest.raises(KeyError):
        ConnectionUsage.from_json({"by_state": {}})
