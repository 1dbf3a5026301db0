"""Bad input to the health check: an inventory without a tier, a host that cannot be reached, and a host where the
service is not installed. Each is a line of the report, the run exits non-zero, and nothing is a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from runbook_harness import PLAYBOOKS

GHOST = "birtha-ghost-host"


def inventory_listing(inventory: str) -> dict:
    listing = subprocess.run(
        ["ansible-inventory", "-i", inventory, "--list"], check=True, capture_output=True, text=True
    )
    return json.loads(listing.stdout)


@pytest.fixture(scope="module")
def bad_inventory(inventory: str, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The scenario's platform host in mlflow_db and mlflow_tracking, a host that does not exist in mlflow_db, the
    bare host (nothing installed) in mlflow_tracking, and no mlflow_artifacts group at all."""
    listing = inventory_listing(inventory)
    bare = (listing.get("bare_hosts") or {}).get("hosts") or []
    if not bare:
        pytest.skip("needs a host with nothing installed (group bare_hosts): the faults scenario has one")
    platform = listing["mlflow_tracking"]["hosts"][0]
    hostvars = listing["_meta"]["hostvars"]

    def connection(host: str) -> dict[str, str]:
        return {k: v for k, v in hostvars[host].items() if k.startswith("ansible_")}

    directory = tmp_path_factory.mktemp("bad-inventory")
    (directory / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        platform: connection(platform),
                        bare[0]: connection(bare[0]),
                        GHOST: {**connection(platform), "ansible_host": GHOST},
                    },
                    "children": {
                        "mlflow_db": {"hosts": {platform: {}, GHOST: {}}},
                        "mlflow_tracking": {"hosts": {platform: {}, bare[0]: {}}},
                    },
                }
            }
        )
    )
    source = Path(inventory)
    source_dir = source if source.is_dir() else source.parent
    (directory / "group_vars").symlink_to(source_dir / "group_vars")
    # The platform's generated secrets stay where the real inventory keeps them.
    credentials = source_dir.parent / ".credentials" / source_dir.name
    return directory / "hosts.yml", {
        "platform_credentials_dir": str(credentials),
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
