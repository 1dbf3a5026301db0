"""The move of a platform's artifacts from MinIO to SeaweedFS (playbooks/migrate_artifact_store.yml), on the faults
scenario's MinIO platform with runs and artifacts: SeaweedFS on a host of its own (birtha-faults-sw). Refused
without the confirmation and by validate.yml before it; --check copies and switches nothing; run, every artifact
comes back through MLflow with the same sha256, MinIO still runs with every object; a second run copies and changes
nothing; retiring stops MinIO and keeps its data. Runs last in the scenario (it leaves the platform on SeaweedFS)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from runbook_harness import PLAYBOOKS, other_host

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "files" / "run_artifacts.py"
SCRIPT_ON_HOST = "/root/run_artifacts.py"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"
PLATFORM, TARGET = "birtha-faults", "birtha-faults-sw"
RUNS = 6

testinfra_hosts = [f"ansible://{PLATFORM}"]


@pytest.fixture(scope="module")
def migration(inventory: str, tmp_path_factory) -> tuple[str, dict[str, str]]:
    """The inventory after the move: SeaweedFS on the target host, MinIO's host in mlflow_artifacts_source."""
    listing = json.loads(
        subprocess.run(
            ["ansible-inventory", "-i", inventory, "--list"], check=True, capture_output=True, text=True
        ).stdout
    )
    hostvars = listing["_meta"]["hostvars"]
    if TARGET not in hostvars:
        pytest.skip(f"needs the faults scenario's spare host {TARGET}")

    def connection(name: str) -> dict[str, str]:
        return {k: v for k, v in hostvars[name].items() if k.startswith("ansible_")}

    directory = tmp_path_factory.mktemp("migration-inventory")
    (directory / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {PLATFORM: connection(PLATFORM), TARGET: connection(TARGET)},
                    "children": {
                        "mlflow_db": {"hosts": {PLATFORM: {}}},
                        "mlflow_tracking": {"hosts": {PLATFORM: {}}},
                        "mlflow_artifacts": {"hosts": {TARGET: {}}},
                        "mlflow_artifacts_source": {"hosts": {PLATFORM: {}}},
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
    return str(directory / "hosts.yml"), {
        "platform_credentials_dir": str(credentials),
        "platform_artifact_store": "seaweedfs",
    }


def run_artifacts(host, *args: str) -> dict[str, str]:
    host.ansible("ansible.builtin.copy", f"src={SCRIPT} dest={SCRIPT_ON_HOST} mode=0700", check=False)
    result = host.run(f"{MLFLOW_PYTHON} {SCRIPT_ON_HOST} {' '.join(args)}")
    assert result.rc == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def mlflow_endpoint(host) -> str:
    return host.run("sed -n 's/^MLFLOW_S3_ENDPOINT_URL=//p' /etc/mlflow/mlflow.env").stdout.strip()


def main_pid(host) -> str:
    return host.run("systemctl show mlflow -p MainPID --value").stdout.strip()


def test_the_artifacts_move_to_seaweedfs_checked_and_minio_keeps_them_until_retired(host, run_playbook, migration):
    path, extravars = migration
    written = run_artifacts(host, "write", str(RUNS))
    before = mlflow_endpoint(host)
    playbook = PLAYBOOKS / "migrate_artifact_store.yml"

    unconfirmed = run_playbook(playbook, extravars, other_inventory=path)
    assert unconfirmed.rc != 0 and "migrate_artifact_store_confirm=true" in unconfirmed.stdout
    # Any other playbook would point MLflow at the new, empty store: validate.yml, platform_up.yml's first step, stops.
    refused = run_playbook(PLAYBOOKS / "validate.yml", extravars, other_inventory=path)
    assert refused.rc != 0 and "Move them first" in refused.stdout, refused.stdout[-3000:]

    target = other_host(host, TARGET)
    had_weed, pid = target.file("/usr/local/bin/weed").exists, main_pid(host)
    checked = run_playbook(playbook, extravars, check=True, other_inventory=path)
    assert checked.rc == 0, checked.stdout[-5000:]
    # --check neither stops MLflow nor moves it, nor installs SeaweedFS.
    assert (mlflow_endpoint(host), main_pid(host)) == (before, pid)
    assert target.file("/usr/local/bin/weed").exists == had_weed

    confirmed = {**extravars, "migrate_artifact_store_confirm": True}
    moved = run_playbook(playbook, confirmed, other_inventory=path)
    assert moved.rc == 0, moved.stdout[-5000:]
    report = moved.stat("birtha_migration")
    print(f"\n[store migration] {report}")
    assert report["switched"] is True
    assert int(report["objects"]) >= RUNS and int(report["verified"]) == int(report["objects"])
    assert int(report["copied_first_pass"]) >= RUNS
    assert TARGET in mlflow_endpoint(host)
    assert run_artifacts(host, "read", *written) == written
    assert host.service("minio").is_running

    again = run_playbook(playbook, confirmed, other_inventory=path)
    assert again.rc == 0, again.stdout[-5000:]
    assert again.changed() == 0, again.stdout[-5000:]
    assert (again.stat("birtha_migration")["copied_first_pass"], again.stat("birtha_migration")["switched"]) == (
        0,
        False,
    )

    retired = run_playbook(playbook, {**confirmed, "migrate_artifact_store_retire_source": True}, other_inventory=path)
    assert retired.rc == 0, retired.stdout[-5000:]
    minio = host.service("minio")
    assert not minio.is_running and not minio.is_enabled
    assert host.file("/var/lib/minio/data").is_directory
    assert run_artifacts(host, "read", *written) == written
