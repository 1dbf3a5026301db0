"""The platform on an external S3 (platform_artifact_store: external): after test_migrate_store, the faults platform's
MLflow keeps its artifacts on SeaweedFS on birtha-faults-sw, which this test treats as a store the platform does not
run (no mlflow_artifacts hosts, its URL in platform_s3_external_endpoint_url, MLflow's key from the platform's state).
validate.yml refuses another URL than MLflow's without the confirmation (the rest of its bad input is
tests/integration's). platform_up.yml points MLflow at the URL without a restart or
a change on a second run, and its probe reads the artifact back through it; the health
check finds MLflow's S3 keys accepted; backup.yml reads the bucket from the backup host with MLflow's key and verifies
the set; rotate_credentials.yml refuses to generate a key the external store's owner makes."""

from __future__ import annotations

import json

import pytest
from runbook_harness import PLAYBOOKS, connection_vars, derived_inventory, health_report, inventory_listing
from store_artifacts import main_pid, mlflow_endpoint, mlflow_env, run_artifacts

PLATFORM, STORE = "birtha-faults", "birtha-faults-sw"
RUNS = 3

testinfra_hosts = [f"ansible://{PLATFORM}"]


@pytest.fixture(scope="module")
def external(host, inventory: str, tmp_path_factory) -> tuple[str, dict[str, str]]:
    """An inventory with no store hosts and the URL MLflow already uses as the external store's; the platform's host
    also keeps the backup sets."""
    listing = inventory_listing(inventory)
    if STORE not in listing["_meta"]["hostvars"] or STORE not in mlflow_endpoint(host):
        pytest.skip(f"needs the faults scenario's platform moved to SeaweedFS on {STORE} (test_migrate_store)")
    path, credentials = derived_inventory(
        inventory,
        tmp_path_factory.mktemp("external-inventory"),
        {PLATFORM: connection_vars(listing, PLATFORM)},
        {"mlflow_db": [PLATFORM], "mlflow_tracking": [PLATFORM], "mlflow_backup": [PLATFORM]},
    )
    return path, {
        "platform_credentials_dir": credentials,
        "platform_artifact_store": "external",
        "platform_s3_external_endpoint_url": mlflow_endpoint(host),
    }


def test_mlflow_moved_to_another_external_store_only_when_confirmed(host, run_playbook, external):
    path, extravars = external
    elsewhere = {**extravars, "platform_s3_external_endpoint_url": "http://s3.invalid:9000"}
    refused = run_playbook(PLAYBOOKS / "validate.yml", elsewhere, other_inventory=path)
    assert refused.rc != 0 and refused.changed() == 0
    assert "platform_s3_external_switch_confirm=true" in refused.stdout, refused.stdout[-3000:]
    assert mlflow_endpoint(host) == extravars["platform_s3_external_endpoint_url"]


def test_mlflow_runs_on_the_external_store_without_a_restart(host, run_playbook, external):
    path, extravars = external
    written = run_artifacts(host, "write", str(RUNS))
    endpoint, pid = mlflow_endpoint(host), main_pid(host)

    deployed = run_playbook(PLAYBOOKS / "platform_up.yml", extravars, other_inventory=path)
    assert deployed.rc == 0, deployed.stdout[-5000:]
    # The probe logged a run and read its artifact from the bucket at the external URL, with MLflow's key.
    assert "End-to-end check passed" in deployed.stdout
    assert (mlflow_endpoint(host), main_pid(host)) == (endpoint, pid)
    assert mlflow_env(host, "AWS_DEFAULT_REGION") == "us-east-1"
    assert run_artifacts(host, "read", *written) == written

    again = run_playbook(PLAYBOOKS / "platform_up.yml", extravars, other_inventory=path)
    assert again.rc == 0 and again.changed() == 0, again.stdout[-5000:]

    def on_external(playbook, extra=None):
        return run_playbook(playbook, extra, other_inventory=path)

    report = health_report(on_external, extravars)
    assert report is not None
    not_ok = [f"{c['tier']}/{c['check']}: {c['status']}" for c in report["checks"] if c["status"] != "ok"]
    assert not not_ok, not_ok
    s3 = [c for c in report["checks"] if c["check"] == "s3_credentials"]
    assert s3 and all(c["status"] == "ok" for c in s3), s3


def test_the_backup_reads_the_external_bucket_from_the_backup_host(host, run_playbook, external):
    path, extravars = external
    written = run_artifacts(host, "write", "1")
    backup = run_playbook(
        PLAYBOOKS / "backup.yml", {**extravars, "backup_set_name": "external-store"}, other_inventory=path
    )
    assert backup.rc == 0, backup.stdout[-5000:]
    manifest = json.loads(host.file("/var/backups/mlflow/sets/external-store/manifest.json").content_string)
    # The run just written is in the set: its artifact, with the sha256 MLflow gave it.
    archived = {entry["key"]: entry["sha256"] for entry in manifest["artifacts"]["objects"]}
    run_id, digest = next(iter(written.items()))
    assert [sha for key, sha in archived.items() if run_id in key] == [digest], sorted(archived)[:20]
    assert host.file("/var/backups/mlflow/sets/external-store/COMPLETE").exists
    # Verified right after the backup: restored into a scratch prefix of the external bucket and compared. Read from
    # the task's result: Molecule forces colour, and the callback colours each line of a wrapped message apart.
    reports = [str(result.get("msg", "")) for result in backup.task_results("Report")]
    assert any("artifacts restore and match" in " ".join(msg.split()) for msg in reports), reports


def test_mlflows_key_on_an_external_store_is_never_generated(host, run_playbook, external):
    path, extravars = external
    before = mlflow_env(host, "AWS_SECRET_ACCESS_KEY")
    refused = run_playbook(
        PLAYBOOKS / "rotate_credentials.yml",
        {**extravars, "rotate_credentials_confirm": True, "rotate_credentials_which": ["minio_mlflow_secret_key"]},
        other_inventory=path,
    )
    said = " ".join(refused.stdout.split())  # the callback wraps long messages
    assert refused.rc != 0 and "supply it as platform_s3_secret_key" in said, refused.stdout[-3000:]
    assert refused.changed() == 0
    assert mlflow_env(host, "AWS_SECRET_ACCESS_KEY") == before
