"""Every runbook playbook the other tests do not run, against the hardened platform: each must work with TLS on
every connection (its clients verifying the platform CA). Destructive or data-changing ones run in check mode.
Their -vvv output joins the log that test_zz_no_secret_in_output searches."""

from __future__ import annotations

import os

import pytest
from runbook_harness import PLAYBOOKS

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "security",
    reason="needs the security scenario's hardened hosts",
)


@pytest.mark.parametrize(
    ("playbook", "check"),
    [
        ("validate.yml", False),
        ("access_control.yml", False),
        ("monitoring.yml", False),
        ("collect_logs.yml", False),
        ("storage_cleanup.yml", False),  # reports only without storage_cleanup_delete
        ("experiments.yml", True),
        ("model_registry.yml", True),
        ("db_optimize.yml", True),
        ("retention.yml", True),
        ("purge.yml", True),
        ("troubleshoot_mlflow_unavailable.yml", True),
        ("troubleshoot_database_connection.yml", True),
        ("troubleshoot_artifact_storage.yml", True),
        ("troubleshoot_database_usage.yml", True),
        ("emergency_outage.yml", True),
    ],
)
def test_playbook_works_on_the_hardened_platform(run_playbook, playbook, check):
    result = run_playbook(PLAYBOOKS / playbook, check=check)
    assert result.rc == 0, result.stdout[-6000:]
