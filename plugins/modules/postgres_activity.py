#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""What is PostgreSQL busy with: sessions, long-running queries, idle-in-transaction sessions; end them on request."""

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_activity
short_description: Report PostgreSQL's sessions, long-running queries and idle-in-transaction sessions; end them
version_added: 0.4.0
description:
  - The runbook's "High Database Usage" diagnosis, from C(pg_stat_activity) - connections by state against
    C(max_connections), the size of each database, the queries running longer than O(long_query_seconds), and the
    sessions idle in a transaction longer than O(idle_in_transaction_seconds) (they hold locks and stop
    autovacuum from cleaning up).
  - Only on request, it ends sessions - O(terminate_idle_in_transaction) terminates the idle-in-transaction
    sessions found (their open transaction is rolled back; nothing committed is lost), O(cancel_long_queries)
    cancels the long-running queries (the statement fails, the session stays). A session is ended only if it is
    still in the state, since the same moment, it was found in; backups (C(pg_dump), C(pg_basebackup)) are never
    cancelled.
  - Query texts are shortened and secrets in them redacted.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.mlflow.attributes
options:
  database:
    description: The database to connect to; the sessions reported are the whole server's.
    default: postgres
  long_query_seconds:
    description: A query running longer than this is reported as long-running.
    type: int
    default: 300
  idle_in_transaction_seconds:
    description: A session idle in a transaction longer than this is reported.
    type: int
    default: 300
  terminate_idle_in_transaction:
    description: Terminate the idle-in-transaction sessions found (C(pg_terminate_backend)).
    type: bool
    default: false
  cancel_long_queries:
    description: Cancel the long-running queries found (C(pg_cancel_backend)).
    type: bool
    default: false
  query_chars:
    description: How much of each query's text to return.
    type: int
    default: 200
  redact_values:
    description: Secret values masked in query texts (besides anything shaped like a secret).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: Reads the sessions as usual and returns in RV(terminated) and RV(cancelled) the ones that would be
      ended; ends none.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Diagnose high database usage
  birtha.mlflow.postgres_activity:
    long_query_seconds: 120
  become: true
  become_user: postgres
  register: activity

- name: End sessions that have sat in an open transaction for more than 10 minutes
  birtha.mlflow.postgres_activity:
    idle_in_transaction_seconds: 600
    terminate_idle_in_transaction: true
  become: true
  become_user: postgres
"""

RETURN = r"""
connections:
  description: Client connections in use, C(max_connections), and the count per state.
  returned: always
  type: dict
  sample: {in_use: 12, max_connections: 100, percent: 12.0, by_state: {active: 2, idle: 9, idle in transaction: 1}}
database_sizes:
  description: Size in bytes of each database.
  returned: always
  type: dict
long_running:
  description: Queries running longer than O(long_query_seconds) (pid, user, database, client, seconds, query).
  returned: always
  type: list
  elements: dict
idle_in_transaction:
  description: Sessions idle in a transaction longer than O(idle_in_transaction_seconds).
  returned: always
  type: list
  elements: dict
terminated:
  description: PIDs of the sessions terminated (or that would be, in check mode).
  returned: always
  type: list
  elements: int
cancelled:
  description: PIDs of the queries cancelled (or that would be, in check mode).
  returned: always
  type: list
  elements: int
summary:
  description: The findings in plain words, a line each.
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_stats import (
    connection_usage,
    database_sizes,
    end_sessions,
    sessions_over,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import human_bytes
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError, PostgresModule
from ansible_collections.birtha.mlflow.plugins.module_utils.redact import Redactor

SPARED_APPLICATIONS = ("pg_dump", "pg_dumpall", "pg_basebackup")


def argument_spec() -> dict[str, Any]:
    return {
        "long_query_seconds": {"type": "int", "default": 300},
        "idle_in_transaction_seconds": {"type": "int", "default": 300},
        "terminate_idle_in_transaction": {"type": "bool", "default": False},
        "cancel_long_queries": {"type": "bool", "default": False},
        "query_chars": {"type": "int", "default": 200},
        "redact_values": {"type": "list", "elements": "str", "default": [], "no_log": True},
    }


def shown(sessions: list[dict[str, Any]], redactor: Redactor, chars: int) -> list[dict[str, Any]]:
    """Sessions with their query text shortened and redacted, ready to return."""
    return [{**s, "query": redactor(" ".join(str(s.get("query") or "").split()))[:chars]} for s in sessions]


def session_line(session: dict[str, Any]) -> str:
    waiting = f", waiting on {session['waiting_on']}" if session.get("waiting_on") else ""
    return (
        f"  pid {session['pid']} ({session['user']}@{session['database']} from {session['client']}"
        f"{', ' + session['application'] if session.get('application') else ''}), {session['seconds']} s{waiting}: "
        f"{session['query']}"
    )


def summary(result: dict[str, Any], params: dict[str, Any], check_mode: bool) -> list[str]:
    """The findings in plain words, a line each."""
    connections = result["connections"]
    states = ", ".join(f"{count} {state}" for state, count in connections["by_state"].items()) or "none"
    lines = [
        "Database sizes: "
        + ", ".join(f"{name} {human_bytes(size)}" for name, size in result["database_sizes"].items()),
        f"Connections: {connections['in_use']} of max_connections {connections['max_connections']} "
        f"({connections['percent']}%): {states}",
        f"Queries running longer than {params['long_query_seconds']} s: {len(result['long_running'])}",
        *(session_line(s) for s in result["long_running"]),
        f"Sessions idle in a transaction longer than {params['idle_in_transaction_seconds']} s: "
        f"{len(result['idle_in_transaction'])}",
        *(session_line(s) for s in result["idle_in_transaction"]),
    ]
    if result["terminated"]:
        verb = "Would terminate" if check_mode else "Terminated"
        lines.append(f"{verb} (idle in transaction): pids {', '.join(map(str, result['terminated']))}")
    if result["cancelled"]:
        verb = "Would cancel" if check_mode else "Cancelled"
        lines.append(f"{verb} (long-running): pids {', '.join(map(str, result['cancelled']))}")
    return lines


def main() -> None:
    module = PostgresModule(argument_spec(), database="postgres", supports_check_mode=True)
    params = module.params
    redactor = Redactor(params["redact_values"])
    try:
        with module.connection(autocommit=True) as connection, connection.cursor() as cursor:
            usage = connection_usage(cursor)
            sizes = database_sizes(cursor)
            long_running = sessions_over(cursor, "active", params["long_query_seconds"])
            idle = sessions_over(cursor, "idle in transaction", params["idle_in_transaction_seconds"])
            to_terminate = idle if params["terminate_idle_in_transaction"] else []
            # A backup's long COPY is not load to shed: cancelling it would abort the backup.
            to_cancel = [s for s in long_running if s["application"] not in SPARED_APPLICATIONS]
            to_cancel = to_cancel if params["cancel_long_queries"] else []
            if module.check_mode:
                terminated = [s["pid"] for s in to_terminate]
                cancelled = [s["pid"] for s in to_cancel]
            else:
                terminated = end_sessions(cursor, to_terminate, "idle in transaction", terminate=True)
                cancelled = end_sessions(cursor, to_cancel, "active", terminate=False)
    except PostgresError as error:
        module.fail_postgres(error, "Nothing was ended.")
    result: dict[str, Any] = {
        "changed": bool(terminated or cancelled),
        "connections": {
            "in_use": usage.in_use,
            "max_connections": usage.max_connections,
            "percent": usage.percent,
            "by_state": usage.by_state,
        },
        "database_sizes": sizes,
        "long_running": shown(long_running, redactor, params["query_chars"]),
        "idle_in_transaction": shown(idle, redactor, params["query_chars"]),
        "terminated": terminated,
        "cancelled": cancelled,
    }
    result["summary"] = summary(result, params, module.check_mode)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
