"""Backup, disaster, restore: nothing is lost (the default Molecule scenario, last: it sorts after every other test).

Fills the platform (3 experiments, 200 runs with metric history, 2 registered models with aliases, 50+
artifacts including 50 MiB), refuses an unencrypted second copy, takes a backup set with its second copy in
another bucket (3-2-1), proves verification catches a tampered set and restore
refuses without confirmation, drops both MLflow databases and empties the bucket, runs the emergency
restore, and compares every table (rows and checksum) and every object (sha256) with the state before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS

HERE = Path(__file__).resolve().parent / "playbooks"

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME", "default") != "default",
    reason="destructive: runs last in the default scenario (or with BIRTHA_PLATFORM_INVENTORY outside Molecule)",
)


def platform_state(run_playbook) -> dict:
    result = run_playbook(HERE / "data.yml", {"data_action": "state"})
    assert result.rc == 0, result.stdout[-4000:]
    return json.loads(result.task_results("Read the platform state")[0]["stdout"])


def differences(before: dict, after: dict) -> list[str]:
    problems = []
    for part in ("tracking", "auth"):
        for table in sorted(set(before[part]) | set(after[part])):
            if before[part].get(table) != after[part].get(table):
                problems.append(f"{part}.{table}: {before[part].get(table)} -> {after[part].get(table)}")
    lost = sorted(set(before["objects"]) - set(after["objects"]))
    changed = sorted(
        key for key in before["objects"] if key in after["objects"] and before["objects"][key] != after["objects"][key]
    )
    return problems + [f"object lost: {key}" for key in lost] + [f"object changed: {key}" for key in changed]


def test_backup_then_disaster_then_restore_loses_nothing(run_playbook):
    filled = run_playbook(HERE / "data.yml", {"data_action": "fill"})
    assert filled.rc == 0, filled.stdout[-4000:]
    before = platform_state(run_playbook)
    assert before["tracking"]["runs"][0] >= 200
    assert len(before["objects"]) >= 50

    offsite = {
        "endpoint_url": "http://127.0.0.1:{{ platform_minio_port }}",
        "bucket": "mlflow-offsite",
        "prefix": "platform/",
        "access_key": "{{ platform_s3_root_user }}",
        "secret_key": "{{ platform_s3_root_password }}",
    }
    created = run_playbook(HERE / "offsite.yml", {"offsite_action": "create"})
    assert created.rc == 0, created.stdout[-4000:]
    unencrypted = run_playbook(
        PLAYBOOKS / "backup.yml", {"backup_s3_destination": offsite, "postgres_backup_passphrase": ""}
    )
    assert unencrypted.rc != 0 and "would leave the platform unencrypted" in unencrypted.stdout

    backup = run_playbook(PLAYBOOKS / "backup.yml", {"backup_s3_destination": offsite})
    assert backup.rc == 0, backup.stdout[-6000:]
    set_id = backup.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    # The restore rehearsal (backup_verify_after_backup) restored the set into a scratch database and prefix and
    # compared it; the platform's state, unchanged below, shows it left nothing in the bucket.
    [report] = [" ".join(str(res["msg"]).split()) for res in backup.task_results("Report the set")]
    assert report.startswith(f"Backup set {set_id} written to ") and report.endswith(" (verified)."), report
    listed = run_playbook(HERE / "offsite.yml", {"offsite_action": "list"})
    copied = listed.task_results("List the bucket")[0]["stdout"]
    for name in (
        "manifest.json",
        "COMPLETE",
        "postgres/mlflow_db.dump.zst.gpg",
        "artifacts/mlflow-artifacts.tar.zst.gpg",
    ):
        assert f"platform/{set_id}/{name}" in copied, copied

    tampered = run_playbook(HERE / "tamper.yml", {"set_id": set_id})
    assert tampered.rc == 0, tampered.stdout[-4000:]
    caught = run_playbook(PLAYBOOKS / "backup_verify.yml", {"backup_verify_set": f"{set_id}-tampered"})
    assert caught.rc != 0, "verification passed a set whose manifest does not match its archive"
    assert "do not match the manifest" in caught.stdout

    refused = run_playbook(PLAYBOOKS / "restore.yml")
    assert refused.rc != 0 and "confirm_restore=true" in refused.stdout
    assert platform_state(run_playbook) == before, "a refused restore changed the platform"

    disaster = run_playbook(HERE / "disaster.yml")
    assert disaster.rc == 0, disaster.stdout[-4000:]

    restored = run_playbook(PLAYBOOKS / "emergency_restore.yml", {"confirm_restore": True})
    assert restored.rc == 0, restored.stdout[-6000:]
    assert set_id in restored.stdout

    after = platform_state(run_playbook)
    assert differences(before, after) == []

    loaded = run_playbook(HERE / "load_models.yml")
    assert loaded.rc == 0, loaded.stdout[-4000:]
