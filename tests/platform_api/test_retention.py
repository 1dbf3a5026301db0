"""playbooks/retention.yml and purge.yml against the platform, through ansible-runner, each side by side with the
procedure it replaces on the same data in the same run (the benchmarks' reference procedures, at a small scale):

- two experiments are generated alike; the runbook's retention loop (mlflow.search_runs + mlflow.delete_run through
  the tracking server) runs on one, retention.yml on the other, and both end in the same state, recent runs kept;
- then mlflow gc's run purge on the first and purge.yml on the second: the same rows and objects are left;
- --check changes nothing, a second run changes nothing, and a purge without its confirmation deletes nothing.

Retention's scope options and bad input need PostgreSQL alone: tests/postgres_only/test_retention_sql.py.
"""

from __future__ import annotations

from functools import partial

import pytest
from runbook_harness import PLAYBOOKS, PlaybookResult, platform_data

RETENTION = PLAYBOOKS / "retention.yml"
PURGE = PLAYBOOKS / "purge.yml"
RUNS, RECENT = 40, 10


@pytest.fixture(scope="module")
def data(run_playbook):
    return partial(platform_data, run_playbook)


@pytest.fixture(scope="module")
def pair(data, test_id):
    """Two experiments generated alike: RUNS runs each, the first RECENT started now, the rest 120 days ago, with
    metric history, params, tags and two artifacts per run."""
    names = (f"retention-runbook-{test_id}", f"retention-ours-{test_id}")
    for name in names:
        data("generate", "--experiment", name, "--runs", RUNS, "--recent", RECENT, "--history", 3, "--artifacts", 2)
    yield names
    data("drop", "--experiment", names[0], "--experiment", names[1])


def states(data, names) -> tuple[dict, dict]:
    answer = data("state", *[arg for name in names for arg in ("--experiment", name)])
    return answer[names[0]], answer[names[1]]


def retention(run_playbook, extravars: dict, check: bool = False) -> PlaybookResult:
    return run_playbook(RETENTION, {"mlflow_retention_report_limit": 1000, **extravars}, check=check)


def module_result(result: PlaybookResult, task: str) -> dict:
    found = result.task_results(task)
    assert found, f"task {task!r} did not run:\n" + result.stdout[-4000:]
    return found[0]


SOFT_DELETE = "Soft-delete the runs older than the retention cutoff (as MLflow's delete_run does)"
HARD_DELETE = "Permanently delete runs deleted long enough ago, with their artifacts (as mlflow gc does)"


def test_retention_ends_where_the_runbook_loop_ends(run_playbook, data, pair):
    runbook, ours = pair
    before = states(data, pair)
    assert before[0] == before[1] and len(before[1]["runs"]) == RUNS

    preview = retention(run_playbook, {"mlflow_retention_experiment_names": [ours]}, check=True)
    assert preview.rc == 0 and preview.changed() == 1, preview.stdout[-4000:]
    assert module_result(preview, SOFT_DELETE)["count"] == RUNS - RECENT
    assert states(data, pair) == before, "--check changed the database"

    reference = data("runbook-retention", "--experiment", runbook, "--days", 90)
    applied = retention(run_playbook, {"mlflow_retention_experiment_names": [ours]})
    assert applied.rc == 0, applied.stdout[-4000:]
    assert module_result(applied, SOFT_DELETE)["count"] == reference["count"] == RUNS - RECENT

    after = states(data, pair)
    assert after[0] == after[1], "retention.yml and the runbook's loop left different states"
    stages = {name: row[0] for name, row in after[1]["runs"].items()}
    assert sum(stage == "deleted" for stage in stages.values()) == RUNS - RECENT
    assert all(stages[f"r{g:07d}"] == "active" for g in range(1, RECENT + 1)), "a recent run was deleted"
    assert after[1]["objects"] == before[1]["objects"], "a soft delete must keep the artifacts"

    again = retention(run_playbook, {"mlflow_retention_experiment_names": [ours]})
    assert again.rc == 0 and again.changed() == 0, again.stdout[-4000:]


def test_purge_ends_where_mlflow_gc_ends(run_playbook, data, pair):
    runbook, ours = pair
    before = states(data, pair)
    deleted = [name for name, row in before[1]["runs"].items() if row[0] == "deleted"]
    assert len(deleted) == RUNS - RECENT, "run after test_retention_ends_where_the_runbook_loop_ends"
    extravars = {"mlflow_retention_experiment_names": [ours], "mlflow_retention_purge_older_than_days": 0}

    unconfirmed = run_playbook(PURGE, extravars)
    assert unconfirmed.rc != 0 and "mlflow_retention_confirm_purge=true" in unconfirmed.stdout
    assert states(data, pair) == before, "an unconfirmed purge changed something"

    too_recent = run_playbook(PURGE, {**extravars, "mlflow_retention_purge_older_than_days": 1}, check=True)
    assert too_recent.rc == 0 and module_result(too_recent, HARD_DELETE)["count"] == 0, "runs deleted today chosen"
    preview = run_playbook(PURGE, extravars, check=True)
    assert preview.rc == 0, preview.stdout[-4000:]
    planned = module_result(preview, HARD_DELETE)
    assert planned["count"] == len(deleted) and planned["objects"] == 2 * len(deleted)
    assert states(data, pair) == before, "--check changed the database or the bucket"

    data("runbook-gc", "--experiment", runbook)
    purged = run_playbook(PURGE, {**extravars, "mlflow_retention_confirm_purge": True})
    assert purged.rc == 0, purged.stdout[-4000:]
    assert module_result(purged, HARD_DELETE)["rows"]["runs"] == len(deleted)

    after = states(data, pair)
    assert after[0] == after[1], "purge.yml and mlflow gc left different states"
    assert sorted(after[1]["runs"]) == [f"r{g:07d}" for g in range(1, RECENT + 1)]
    assert after[1]["objects"] == 2 * RECENT

    again = run_playbook(PURGE, {**extravars, "mlflow_retention_confirm_purge": True})
    assert again.rc == 0 and again.changed() == 0, again.stdout[-4000:]
