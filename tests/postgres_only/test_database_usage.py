"""Runbook issue 4, High Database Usage: troubleshoot_database_usage.yml names the long-running query and the
session idle in a transaction; --check ends nothing; asked to, it terminates and cancels exactly those."""

from __future__ import annotations

import time
from pathlib import Path

from runbook_harness import PLAYBOOKS

HERE = Path(__file__).resolve().parent / "playbooks"
TASK = "Read PostgreSQL's activity, and end sessions where asked"
ADVICE = "Say what was found"
POOLER = "put a pooler"
THRESHOLDS = {"troubleshoot_long_query_seconds": 2, "troubleshoot_idle_in_transaction_seconds": 2}


def ours(sessions: list[dict], name: str) -> list[dict]:
    return [s for s in sessions if s["application"] == name]


def activity(run_playbook, check: bool = False, **extra) -> tuple[dict, str]:
    """The module's result and the advice the playbook printed (one line per finding)."""
    result = run_playbook(PLAYBOOKS / "troubleshoot_database_usage.yml", {**THRESHOLDS, **extra}, check=check)
    assert result.rc == 0, result.stdout[-3000:]
    return result.task_results(TASK)[0], "\n".join(result.task_results(ADVICE)[0]["msg"])


def test_long_query_and_idle_transaction_are_named_and_ended_on_request(run_playbook, test_id):
    name = f"birtha-load-{test_id}"
    started = run_playbook(HERE / "db_load.yml", {"db_load_name": name, "db_load_seconds": 120})
    assert started.rc == 0, started.stdout[-3000:]
    time.sleep(3)  # past the 2 s thresholds

    found, advice = activity(run_playbook)
    assert len(ours(found["long_running"], name)) == 1
    assert "pg_sleep" in ours(found["long_running"], name)[0]["query"]
    assert len(ours(found["idle_in_transaction"], name)) == 1
    assert "troubleshoot_terminate_idle_in_transaction=true" in advice
    assert found["terminated"] == [] and found["cancelled"] == [] and not found["changed"]
    assert POOLER not in advice, "a test host's few connections are far below the default 80 %"

    asked = {"troubleshoot_terminate_idle_in_transaction": True, "troubleshoot_cancel_long_queries": True}
    would = activity(run_playbook, check=True, **asked)[0]
    idle_pid = ours(would["idle_in_transaction"], name)[0]["pid"]
    long_pid = ours(would["long_running"], name)[0]["pid"]
    assert idle_pid in would["terminated"] and long_pid in would["cancelled"]
    # An explicit 0 is a level like any other (always advise), not "use the default".
    still, advice = activity(run_playbook, troubleshoot_connections_warn_percent=0)
    assert ours(still["idle_in_transaction"], name) and ours(still["long_running"], name), "--check ended a session"
    assert POOLER in advice, advice

    ended = activity(run_playbook, **asked)[0]
    assert idle_pid in ended["terminated"] and long_pid in ended["cancelled"] and ended["changed"]
    time.sleep(1)
    after = activity(run_playbook)[0]
    assert not ours(after["idle_in_transaction"], name) and not ours(after["long_running"], name)
