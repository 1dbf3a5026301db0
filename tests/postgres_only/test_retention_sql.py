"""playbooks/retention.yml's SQL against PostgreSQL alone (module mlflow_retention through role mlflow_retention):
each scope option chooses exactly the runs it names, --check lists them and changes nothing, a run soft-deletes
them as MLflow's delete_run does and keeps the recent ones, a second run changes nothing, and bad input fails with a
message that names the fix while nothing is deleted. The comparison with the runbook's own loop, through a tracking
server, is tests/platform_api/test_retention.py."""

from __future__ import annotations

from functools import partial

import pytest
from runbook_harness import PLAYBOOKS, PlaybookResult, platform_data

RETENTION = PLAYBOOKS / "retention.yml"
RUNS, RECENT = 40, 10
SOFT_DELETE = "Soft-delete the runs older than the retention cutoff (as MLflow's delete_run does)"


@pytest.fixture(scope="module")
def data(run_playbook):
    return partial(platform_data, run_playbook)


@pytest.fixture(scope="module")
def experiment(data, test_id):
    """RUNS runs, the first RECENT started now, the rest 120 days ago; every fifth FAILED, even-numbered ones tagged
    team=even, with params, tags and a metric history."""
    name = f"retention-sql-{test_id}"
    data("generate", "--experiment", name, "--runs", RUNS, "--recent", RECENT, "--history", 3)
    yield name
    data("drop", "--experiment", name)


def runs(data, name: str) -> dict[str, list]:
    return data("state", "--experiment", name)[name]["runs"]


def retention(run_playbook, name: str, extravars: dict | None = None, check: bool = False) -> PlaybookResult:
    scoped = {"mlflow_retention_report_limit": 1000, "mlflow_retention_experiment_names": [name], **(extravars or {})}
    return run_playbook(RETENTION, scoped, check=check)


def chosen(result: PlaybookResult) -> list[str]:
    found = result.task_results(SOFT_DELETE)
    assert found, "the soft delete did not run:\n" + result.stdout[-4000:]
    return sorted(run["name"] for run in found[0]["runs"])


def test_scope_by_cutoff_status_and_tag(run_playbook, data, experiment):
    """Check mode only: each scope option chooses exactly the runs it names."""
    old = {name: row for name, row in runs(data, experiment).items() if int(name[1:]) > RECENT}
    assert len(old) == RUNS - RECENT
    cases = {
        "cutoff 121 days": ({"mlflow_retention_older_than_days": 121}, []),
        "cutoff 119 days": ({"mlflow_retention_older_than_days": 119}, sorted(old)),
        "status FAILED": (
            {"mlflow_retention_statuses": ["FAILED"]},
            sorted(name for name, row in old.items() if row[2] == "FAILED"),
        ),
        "tag team=even": (
            {"mlflow_retention_tags": {"team": "even"}},
            sorted(name for name in old if int(name[1:]) % 2 == 0),
        ),
        "a date instead of days": ({"mlflow_retention_started_before": "2000-01-01"}, []),
    }
    for case, (extravars, expected) in cases.items():
        preview = retention(run_playbook, experiment, extravars, check=True)
        assert preview.rc == 0, preview.stdout[-4000:]
        assert chosen(preview) == expected, case
        assert expected or case in ("cutoff 121 days", "a date instead of days"), f"{case}: no such runs generated"


def test_bad_input_is_refused_and_nothing_is_deleted(run_playbook, data, experiment):
    before = runs(data, experiment)
    cases = {
        "is in the future": {"mlflow_retention_started_before": "2999-01-01"},
        "No such experiment: name 'no-such-experiment'": {"mlflow_retention_experiment_names": ["no-such-experiment"]},
        "Could not work in database": {"mlflow_retention_port": 1},
        "not a string": {"mlflow_retention_tags": {"team": True}},
    }
    for message, extravars in cases.items():
        result = retention(run_playbook, experiment, {"mlflow_retention_older_than_days": 0, **extravars})
        assert result.rc != 0 and message in result.stdout, f"{extravars}: {result.stdout[-3000:]}"
    assert runs(data, experiment) == before, "bad input deleted something"


def test_soft_delete_keeps_recent_runs_and_runs_once(run_playbook, data, experiment):
    before = runs(data, experiment)
    old = sorted(name for name in before if int(name[1:]) > RECENT)

    preview = retention(run_playbook, experiment, check=True)
    assert preview.rc == 0 and preview.changed() == 1, preview.stdout[-4000:]
    assert chosen(preview) == old
    assert runs(data, experiment) == before, "--check changed the database"

    applied = retention(run_playbook, experiment)
    assert applied.rc == 0 and applied.changed() == 1, applied.stdout[-4000:]
    assert chosen(applied) == old
    after = runs(data, experiment)
    # [lifecycle_stage, deleted_time set, status, metrics, latest_metrics, params, tags] per run
    for name, row in after.items():
        deleted = name in old
        assert row[:2] == (["deleted", True] if deleted else ["active", False]), name
        assert row[2:] == before[name][2:], f"{name}: a soft delete must keep the run's data"

    again = retention(run_playbook, experiment)
    assert again.rc == 0 and again.changed() == 0, again.stdout[-4000:]
    assert runs(data, experiment) == after
