"""Backup faults, each tested: a wrong passphrase, a corrupted archive, the artifact store stopped in the middle of a
backup, the backup destination out of space, PostgreSQL down when the backup starts. Each ends with a non-zero exit
and a clear message, the previous verified set still the newest, and the live platform untouched; the next backup
succeeds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS

HERE = Path(__file__).resolve().parent / "playbooks"

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME", "default") != "default",
    reason="stops services: runs last in the default scenario (or with BIRTHA_PLATFORM_INVENTORY outside Molecule)",
)


def newest_verified(run_playbook) -> str:
    result = run_playbook(HERE / "latest.yml")
    assert result.rc == 0, result.stdout[-3000:]
    return result.task_results("Find the newest verified set")[0]["selected"]["id"]


def platform_state(run_playbook) -> dict:
    result = run_playbook(HERE / "data.yml", {"data_action": "state"})
    assert result.rc == 0, result.stdout[-3000:]
    return json.loads(result.task_results("Read the platform state")[0]["stdout"])


def fault(run_playbook, name: str, **extra: str) -> None:
    result = run_playbook(HERE / "fault.yml", {"fault": name, **extra})
    assert result.rc == 0, result.stdout[-3000:]


def fails(result, message: str) -> None:
    assert result.rc != 0, "the playbook succeeded despite the fault"
    assert message in result.stdout, result.stdout[-4000:]


def test_backup_faults(run_playbook):
    good = run_playbook(PLAYBOOKS / "backup.yml")
    assert good.rc == 0, good.stdout[-5000:]
    good_id = good.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    before = platform_state(run_playbook)

    wrong = run_playbook(
        PLAYBOOKS / "backup_verify.yml",
        {"backup_verify_set": good_id, "postgres_backup_passphrase": "not-the-passphrase-1"},
    )
    fails(wrong, "wrong passphrase?")
    assert newest_verified(run_playbook) == good_id

    fault(run_playbook, "corrupt", set_id=good_id)
    corrupt = run_playbook(PLAYBOOKS / "backup_verify.yml", {"backup_verify_set": f"{good_id}-corrupt"})
    fails(corrupt, "damaged or replaced")
    assert newest_verified(run_playbook) == good_id

    fault(run_playbook, "stop_store")
    try:
        no_store = run_playbook(PLAYBOOKS / "backup.yml", {"backup_set_name": "fault-store"})
    finally:
        fault(run_playbook, "start_store")
    fails(no_store, "Snapshot of bucket")
    assert newest_verified(run_playbook) == good_id

    fault(run_playbook, "enospc", fault_set="fault-enospc")
    full = run_playbook(PLAYBOOKS / "backup.yml", {"backup_set_name": "fault-enospc"})
    fails(full, "No space left on device")
    assert newest_verified(run_playbook) == good_id

    fault(run_playbook, "stop_postgres")
    try:
        no_db = run_playbook(PLAYBOOKS / "backup.yml", {"backup_set_name": "fault-pgdown"})
    finally:
        fault(run_playbook, "start_postgres")
    fails(no_db, "PostgreSQL does not answer")
    assert newest_verified(run_playbook) == good_id

    assert platform_state(run_playbook) == before, "a failed backup changed the live platform"
    after = run_playbook(PLAYBOOKS / "backup.yml")
    assert after.rc == 0, after.stdout[-5000:]
    assert newest_verified(run_playbook) == after.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
