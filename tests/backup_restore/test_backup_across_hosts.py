"""Backups when the database, MinIO and the backup sets are on different hosts (the security scenario:
hardened, three hosts):
the parts move to the backup host through the controller, verification and restore bring them back, and
no tier host keeps a copy afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS

HERE = Path(__file__).resolve().parent / "playbooks"

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "security",
    reason="needs the security scenario's hosts (database, MinIO and backup sets on different hosts)",
)


def set_files(run_playbook) -> dict[str, list[str]]:
    result = run_playbook(HERE / "inspect_sets.yml")
    assert result.rc == 0, result.stdout[-4000:]
    found: dict[str, list[str]] = {}
    for event in result.events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") == "Find set files":
            found[data["host"]] = sorted(item["path"] for item in data["res"]["files"])
    return found


def test_backup_verify_restore_across_hosts(run_playbook):
    backup = run_playbook(PLAYBOOKS / "backup.yml")
    assert backup.rc == 0, backup.stdout[-6000:]
    set_id = backup.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]

    files = set_files(run_playbook)
    backup_host = "birtha-mlflow"
    kept = [path.split("/sets/", 1)[1] for path in files[backup_host]]
    assert f"{set_id}/COMPLETE" in kept and f"{set_id}/VERIFIED" in kept and f"{set_id}/manifest.json" in kept
    assert any(path.startswith(f"{set_id}/postgres/mlflow_db.dump") for path in kept)
    assert any(path.startswith(f"{set_id}/artifacts/") for path in kept)
    assert all(not paths for host, paths in files.items() if host != backup_host), files

    restored = run_playbook(PLAYBOOKS / "restore.yml", {"confirm_restore": True})
    assert restored.rc == 0, restored.stdout[-6000:]
    assert set_id in restored.stdout
    assert all(not paths for host, paths in set_files(run_playbook).items() if host != backup_host)
