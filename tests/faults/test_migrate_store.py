"""The move of a platform's artifacts from MinIO to SeaweedFS (playbooks/migrate_artifact_store.yml), on the faults
scenario's MinIO platform with runs and artifacts: SeaweedFS on a host of its own (birtha-faults-sw). Refused
without the confirmation and by validate.yml before it; --check copies and switches nothing; run, every artifact
comes back through MLflow with the same sha256, MinIO still runs with every object; a second run copies and changes
nothing, even after MLflow deleted an artifact on SeaweedFS (it is not brought back, only reported); retiring stops
MinIO and keeps its data, and retiring again changes nothing. Runs after the faults (it leaves the platform on
SeaweedFS, which test_zz_external_store then uses as an external store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS, connection_vars, derived_inventory, inventory_listing, other_host
from store_artifacts import main_pid, mlflow_endpoint, run_artifacts

PLATFORM, TARGET = "birtha-faults", "birtha-faults-sw"
RUNS = 6

testinfra_hosts = [f"ansible://{PLATFORM}"]


@pytest.fixture(scope="module")
def migration(inventory: str, tmp_path_factory) -> tuple[str, dict[str, str]]:
    """The inventory after the move: SeaweedFS on the target host, MinIO's host in mlflow_artifacts_source."""
    listing = inventory_listing(inventory)
    if TARGET not in listing["_meta"]["hostvars"]:
        pytest.skip(f"needs the faults scenario's spare host {TARGET}")
    path, credentials = derived_inventory(
        inventory,
        tmp_path_factory.mktemp("migration-inventory"),
        {name: connection_vars(listing, name) for name in (PLATFORM, TARGET)},
        {
            "mlflow_db": [PLATFORM],
            "mlflow_tracking": [PLATFORM],
            "mlflow_artifacts": [TARGET],
            "mlflow_artifacts_source": [PLATFORM],
        },
    )
    return path, {"platform_credentials_dir": credentials, "platform_artifact_store": "seaweedfs"}


def test_the_artifacts_move_to_seaweedfs_checked_and_minio_keeps_them_until_retired(host, run_playbook, migration):
    path, extravars = migration
    written = run_artifacts(host, "write", str(RUNS))
    before = mlflow_endpoint(host)
    playbook = PLAYBOOKS / "migrate_artifact_store.yml"

    unconfirmed = run_playbook(playbook, extravars, other_inventory=path)
    assert unconfirmed.rc != 0 and "migrate_artifact_store_confirm=true" in unconfirmed.stdout
    too_many = run_playbook(
        playbook,
        {**extravars, "migrate_artifact_store_confirm": True, "migrate_artifact_store_workers": 11},
        other_inventory=path,
    )
    assert too_many.rc != 0 and "migrate_artifact_store_workers is 11" in too_many.stdout
    assert too_many.changed() == 0
    limited = run_playbook(
        playbook, {**extravars, "migrate_artifact_store_confirm": True}, other_inventory=path, limit=TARGET
    )
    assert limited.rc != 0 and "without --limit" in limited.stdout and limited.changed() == 0
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
    assert checked.stat("birtha_migration")["mlflow_stopped_seconds"] == 0

    confirmed = {**extravars, "migrate_artifact_store_confirm": True}
    moved = run_playbook(playbook, confirmed, other_inventory=path)
    assert moved.rc == 0, moved.stdout[-5000:]
    report = moved.stat("birtha_migration")
    print(f"\n[store migration] {report}")
    assert report["switched"] is True
    assert int(report["objects"]) >= RUNS and int(report["verified"]) == int(report["objects"])
    assert int(report["copied_first_pass"]) >= RUNS and int(report["copied_final_pass"]) == 0
    assert (int(report["missing_on_target"]), int(report["different_on_target"])) == (0, 0)
    assert int(report["mlflow_stopped_seconds"]) > 0
    assert TARGET in mlflow_endpoint(host)
    assert run_artifacts(host, "read", *written) == written
    assert host.service("minio").is_running
    # The controller's client environment names the new store too.
    client_env = Path(extravars["platform_credentials_dir"], "client.env").read_text()
    assert TARGET in next(line for line in client_env.splitlines() if line.startswith("MLFLOW_S3_ENDPOINT_URL="))

    # Since the switch MLflow owns SeaweedFS: what it deletes there (retention, a purge) must stay deleted.
    dropped, kept = next(iter(written)), dict(list(written.items())[1:])
    run_artifacts(host, "drop", dropped)
    again = run_playbook(playbook, confirmed, other_inventory=path)
    assert again.rc == 0, again.stdout[-5000:]
    assert again.changed() == 0, again.stdout[-5000:]
    second = again.stat("birtha_migration")
    assert (second["copied_first_pass"], second["switched"]) == (0, False)
    assert int(second["missing_on_target"]) == 1 and dropped in again.stdout
    assert run_artifacts(host, "exists", dropped) == {dropped: False}

    retired = run_playbook(playbook, {**confirmed, "migrate_artifact_store_retire_source": True}, other_inventory=path)
    assert retired.rc == 0, retired.stdout[-5000:]
    minio = host.service("minio")
    assert not minio.is_running and not minio.is_enabled
    assert host.file("/var/lib/minio/data").is_directory
    assert run_artifacts(host, "read", *kept) == kept

    # Retiring again finds MinIO stopped: nothing to compare, nothing changes.
    retired_again = run_playbook(
        playbook, {**confirmed, "migrate_artifact_store_retire_source": True}, other_inventory=path
    )
    assert retired_again.rc == 0 and retired_again.changed() == 0, retired_again.stdout[-5000:]
