"""playbooks/experiments.yml and playbooks/model_registry.yml against the platform, through ansible-runner:
--check on a fresh server predicts and changes nothing, the first run changes, the second reports changed=0,
and the registered model loads by stage and alias (inside model_registry.yml) and resolves through the lookup."""

from __future__ import annotations

from pathlib import Path

from runbook_harness import PLAYBOOKS, tracking_uri_from_controller

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
LOAD_TASK = 'Load each model by stage and by alias, as a consumer would (runbook "Get model for inference")'
REFERENCE_MODEL = PLAYBOOKS / "files" / "reference_model"


def runbook_vars(test_id: str) -> dict:
    """The playbooks' own defaults (the runbook's examples) under names of this test session."""
    experiment = f"WrkHrs_Birtha_Integration-{test_id}"
    model = f"wrkhrs-gateway-model-{test_id}"
    return {
        "experiments_list": [{"name": experiment, "tags": {"project": "wrkhrs", "owner": "platform"}}],
        "experiments_runs": [
            {
                "experiment_name": experiment,
                "run_name": "test-run",
                "params": {"model_type": "gpt-3.5-turbo", "temperature": 0.7, "max_tokens": 1000},
                "metrics": {"accuracy": 0.95, "latency": 150.5},
                "artifacts": [{"src": str(REFERENCE_MODEL), "artifact_path": "model"}],
                "dicts": {"config.json": {"config": "value"}},
            }
        ],
        "model_registry_models": [
            {
                "name": model,
                "description": "WrkHrs Gateway AI Model",
                "source_run": {"experiment_name": experiment, "run_name": "test-run", "artifact_path": "model"},
                "stage": "Production",
                "archive_existing_versions": True,
                "aliases": ["champion"],
                "load_check_input": [[1.0], [2.0]],
                "load_check_output": [0.95, 0.95],
            }
        ],
        "expect_experiment": experiment,
        "expect_model": model,
        "model": model,
    }


def test_runbook_playbooks_check_then_apply_then_idempotent(run_playbook, inventory, test_id):
    extravars = runbook_vars(test_id)
    experiments, registry = PLAYBOOKS / "experiments.yml", PLAYBOOKS / "model_registry.yml"
    state = TEST_PLAYBOOKS / "assert_state.yml"

    for playbook in (experiments, registry):
        checked = run_playbook(playbook, extravars, check=True)
        assert checked.rc == 0, checked.stdout[-5000:]
        assert checked.changed() > 0, f"--check on a fresh server predicted no change for {playbook.name}"
    fresh = run_playbook(state, {**extravars, "expect_present": False})
    assert fresh.rc == 0, "--check changed the server:\n" + fresh.stdout[-5000:]

    for playbook in (experiments, registry):
        first = run_playbook(playbook, extravars)
        assert first.rc == 0, first.stdout[-5000:]
        assert first.changed() > 0
        second = run_playbook(playbook, extravars)
        assert second.rc == 0, second.stdout[-5000:]
        assert second.changed() == 0, f"{playbook.name} is not idempotent:\n" + second.stdout[-5000:]

    rechecked = run_playbook(registry, extravars, check=True)
    assert rechecked.rc == 0 and rechecked.changed() == 0, rechecked.stdout[-5000:]
    loaded = rechecked.task_results(
        'Load each model by stage and by alias, as a consumer would (runbook "Get model for inference")'
    )
    assert sorted(result["model_uri"] for result in loaded) == [
        f"models:/{extravars['model']}/Production",
        f"models:/{extravars['model']}@champion",
    ]
    assert {result["prediction"] == [0.95, 0.95] for result in loaded} == {True}

    present = run_playbook(state, {**extravars, "expect_present": True})
    assert present.rc == 0, present.stdout[-5000:]

    looked_up = run_playbook(
        TEST_PLAYBOOKS / "lookup.yml",
        {"model": extravars["model"], "controller_tracking_uri": tracking_uri_from_controller(inventory)},
    )
    assert looked_up.rc == 0, looked_up.stdout[-5000:]
