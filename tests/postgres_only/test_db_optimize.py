"""playbooks/db_optimize.yml (role postgres_tuning, modules postgres_settings and postgres_index) against the
platform, through ansible-runner. From a database without the role's indexes, with an INVALID one left by a failed
build and without the tuning drop-in: --check changes nothing and says what it would do; a run rebuilds the invalid
index, creates the missing ones (the runbook's runs(experiment_id) counts as covered by the search_runs index,
metrics(run_uuid) by MLflow's own), and the settings are live in pg_settings; a second run changes nothing; bad
input fails naming the variable and changes nothing, and a value PostgreSQL refuses is rolled back."""

from __future__ import annotations

from pathlib import Path

from runbook_harness import PLAYBOOKS

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
DB_OPTIMIZE = PLAYBOOKS / "db_optimize.yml"
STATE = TEST_PLAYBOOKS / "db_optimize_state.yml"
# The role's indexes (defaults); idx_runs_start_time is left INVALID to be rebuilt.
COMPOSITE, START_TIME = "idx_runs_experiment_id_start_time", "idx_runs_start_time"
OWN_INDEXES = [COMPOSITE, START_TIME, "idx_runs_experiment_id", "idx_metrics_run_uuid"]
# Reloadable settings the role changes from PostgreSQL's defaults (and their values).
RELOADABLE = {"random_page_cost": "1.1", "effective_io_concurrency": "200", "autovacuum_vacuum_scale_factor": "0.05"}
SETTINGS = [*RELOADABLE, "shared_buffers", "work_mem", "max_wal_size", "wal_buffers"]
# Rows a table must have had written since its last ANALYZE for the role to analyse it again (the default).
ANALYZE_THRESHOLD = 1000


def state(run_playbook, **extravars) -> dict:
    read = run_playbook(STATE, {"settings": SETTINGS, **extravars})
    assert read.rc == 0, read.stdout[-4000:]
    return read.task_results("State")[0]["msg"]


def drop_writes(found: dict) -> dict:
    """The state without the write counters (other clients of a shared platform move them)."""
    return {key: value for key, value in found.items() if key != "writes"}


def report(result) -> dict:
    recorded = result.task_results("Record what was changed")
    assert recorded, "the role did not get to its report:\n" + result.stdout[-6000:]
    return recorded[0]["ansible_facts"]["postgres_tuning_report"]


def test_db_optimize(run_playbook):
    before = state(run_playbook, prepare=True, drop_indexes=OWN_INDEXES, invalid_index=START_TIME)
    assert not {COMPOSITE, "idx_runs_experiment_id", "idx_metrics_run_uuid"} & set(before["indexes"])
    assert before["indexes"][START_TIME]["valid"] is False
    assert before["indexes"]["index_metrics_run_uuid"]["valid"], "MLflow's own metrics(run_uuid) index is missing"
    assert before["dropin"] == ""
    assert before["settings"]["random_page_cost"]["value"] == "4"

    # --check: says what it would do, does nothing.
    checked = run_playbook(DB_OPTIMIZE, check=True)
    assert checked.rc == 0, checked.stdout[-6000:]
    predicted = report(checked)
    assert predicted["check_mode"] and predicted["file_changed"]
    assert {item["name"] for item in predicted["settings"]} >= set(RELOADABLE)
    assert predicted["indexes"]["created"] == [COMPOSITE, START_TIME]
    assert predicted["indexes"]["rebuilt"] == [START_TIME]
    assert predicted["indexes"]["covered_by"] == {
        COMPOSITE: None,
        "idx_runs_experiment_id": COMPOSITE,
        START_TIME: None,
        "idx_metrics_run_uuid": "index_metrics_run_uuid",
    }
    assert "Would create index idx_runs_experiment_id_start_time" in checked.stdout
    assert drop_writes(state(run_playbook)) == drop_writes(before), "--check changed the database or the drop-in"

    # The run: invalid index rebuilt, missing ones created, runbook's others covered; settings live.
    applied = run_playbook(DB_OPTIMIZE)
    assert applied.rc == 0, applied.stdout[-6000:]
    assert applied.changed() > 0
    done = report(applied)
    assert not done["check_mode"]
    assert done["indexes"]["created"] == [COMPOSITE, START_TIME]
    assert done["indexes"]["rebuilt"] == [START_TIME]
    assert done["restart"] in ("done", "not needed") and done["pending_restart"] == []
    after = state(run_playbook)
    for name in (COMPOSITE, START_TIME):
        assert after["indexes"][name]["valid"] is True, after["indexes"].get(name)
    assert "(experiment_id, start_time DESC, run_uuid)" in after["indexes"][COMPOSITE]["definition"]
    assert "idx_runs_experiment_id" not in after["indexes"] and "idx_metrics_run_uuid" not in after["indexes"]
    assert after["dropin"], "the drop-in was not written"
    for name, value in RELOADABLE.items():
        assert after["settings"][name]["value"] == value, (name, after["settings"][name])
    for item in done["settings"]:
        if item["name"] in after["settings"]:
            assert after["settings"][item["name"]] == {"value": item["new"], "pending_restart": False}, item
    assert not any(setting["pending_restart"] for setting in after["settings"].values())

    # Again: nothing to do - unless another client (the sandbox is shared) wrote enough rows in between to make a
    # table's statistics stale again: then ANALYZE of those tables is the only change.
    again = run_playbook(DB_OPTIMIZE)
    assert again.rc == 0, again.stdout[-6000:]
    redone = report(again)
    assert redone["restart"] == "not needed" and redone["indexes"]["created"] == [] and not redone["settings"]
    if redone["analyzed"]:
        writes = state(run_playbook)["writes"]
        for table in redone["analyzed"]:
            assert writes[table] - after["writes"][table] > ANALYZE_THRESHOLD, (table, "analysed again, unchanged")
        assert again.changed() == 1, again.stdout[-6000:]
    else:
        assert again.changed() == 0, again.stdout[-6000:]

    # Bad input: named, and nothing changed.
    not_a_dict = run_playbook(DB_OPTIMIZE, {"postgres_tuning_extra_settings": ["work_mem=64MB"]})
    assert not_a_dict.rc != 0
    assert "postgres_tuning_extra_settings must be a dict" in not_a_dict.stdout
    bad = run_playbook(
        DB_OPTIMIZE,
        {
            "postgres_tuning_shared_buffers": "100TB",
            "postgres_tuning_indexes": [{"table": "no_such_table", "columns": ["id"], "name": "idx_x"}],
        },
    )
    assert bad.rc != 0
    said = " ".join(bad.stdout.split())
    assert "shared_buffers = '100TB' (set by postgres_tuning_shared_buffers) is not below the host's memory" in said
    assert "table public.no_such_table does not exist" in said
    # A value only PostgreSQL itself can judge: the written file is refused before any reload and rolled back.
    refused = run_playbook(DB_OPTIMIZE, {"postgres_tuning_extra_settings": {"log_destination": "bogus"}})
    assert refused.rc != 0
    said = " ".join(refused.stdout.split())
    assert "log_destination = 'bogus'" in said and "was replaced by the previous one" in said, said[-3000:]
    assert drop_writes(state(run_playbook)) == drop_writes(after), "bad input changed something"
