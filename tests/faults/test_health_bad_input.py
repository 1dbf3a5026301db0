"""Bad input to the health check: an inventory without a tier, a host that cannot be reached, and a host where the
service is not installed. Each is a line of the report, the run exits non-zero, and nothing is a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS, connection_vars, derived_inventory, inventory_listing

GHOST = "birtha-ghost-host"


@pytest.fixture(scope="module")
def bad_inventory(inventory: str, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The scenario's platform host in mlflow_db and mlflow_tracking, a host that does not exist in mlflow_db, the
    bare host (nothing installed) in mlflow_tracking, and no mlflow_artifacts group at all."""
    listing = inventory_listing(inventory)
    bare = (listing.get("bare_hosts") or {}).get("hosts") or []
    if not bare:
        pytest.skip("needs a host with nothing installed (group bare_hosts): the faults scenario has one")
    platform = listing["mlflow_tracking"]["hosts"][0]
    connection = {host: connection_vars(listing, host) for host in (platform, bare[0])}
    hosts, credentials = derived_inventory(
        inventory,
        tmp_path_factory.mktemp("bad-inventory"),
        {
            platform: connection[platform],
            bare[0]: connection[bare[0]],
            GHOST: {**connection[platform], "ansible_host": GHOST},
        },
        {"mlflow_db": [platform, GHOST], "mlflow_tracking": [platform, bare[0]]},
    )
    return Path(hosts), {
        "platform_credentials_dir": credentials,
        "bare": bare[0],
        "platform": platform,
    }


def test_bad_input_is_reported_not_a_traceback(run_playbook, bad_inventory, tmp_path):
    path, facts = bad_inventory
    extravars = {"platform_credentials_dir": facts["platform_credentials_dir"], "platform_report_dir": str(tmp_path)}
    result = run_playbook(PLAYBOOKS / "health_check.yml", extravars, other_inventory=str(path))
    assert result.rc != 0
    assert "Traceback" not in result.stdout
    report = json.loads(next(tmp_path.glob("health-*.json")).read_text())
    failed = {(c["tier"], c["host"], c["check"]): c["detail"] for c in report["failed"]}

    assert "no hosts in group mlflow_artifacts" in failed[("minio", "-", "inventory")]
    assert "cannot be reached" in failed[("postgres", GHOST, "reachable")]
    assert "not installed" in failed[("mlflow", facts["bare"], "service")]
    # The real host in the same run is checked as usual.
    ok = {(c["tier"], c["host"], c["check"]) for c in report["checks"] if c["status"] == "ok"}
    assert ("postgres", facts["platform"], "select_1") in ok
    assert ("mlflow", facts["platform"], "api") in ok
    for line in ("the inventory has no hosts in group mlflow_artifacts", GHOST, "mlflow is not installed"):
        assert line in result.stdout
