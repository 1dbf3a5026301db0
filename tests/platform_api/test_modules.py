"""Each MLflow module against a real MLflow server with basic auth (create, update, no-op, check mode,
errors). The assertions live in the playbooks under playbooks/, written the way ansible-test integration
targets are; this file runs them and shows the failing task when one breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"


@pytest.mark.parametrize(
    "playbook",
    [
        "test_mlflow_experiment.yml",
        "test_mlflow_experiment_info.yml",
        "test_mlflow_run.yml",
        "test_registry.yml",
        "test_access_control.yml",
    ],
)
def test_module_playbook(run_playbook, test_id, playbook):
    result = run_playbook(TEST_PLAYBOOKS / playbook, {"test_id": test_id})
    assert result.rc == 0, result.stdout[-6000:]
    assert result.failed() == 0
