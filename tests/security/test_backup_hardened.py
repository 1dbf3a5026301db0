"""backup.yml on the hardened platform on MinIO, the tiers on three hosts: the set is taken and verified (the
passphrase and the store's admin key in use, at -vvv into the log test_zz_no_secret_in_output searches), kept on the
backup host only; the database and store hosts keep no part. The restore across hosts is molecule/ha's
(tests/ha/test_y_backup.py), on SeaweedFS."""

from __future__ import annotations

import os

import pytest
from runbook_harness import PLAYBOOKS, files_under, other_host

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "security",
    reason="needs the security scenario's hosts (database, MinIO and backup sets on different hosts)",
)

testinfra_hosts = ["ansible://birtha-mlflow"]
SETS = "/var/backups/mlflow/sets"  # platform_backup_root's sets (molecule/security keeps them on birtha-mlflow)


def set_files(host, name: str) -> list[str]:
    """The files under the sets directory of one of the scenario's hosts, relative to it."""
    return files_under(other_host(host, name), SETS)


def test_a_verified_set_is_kept_on_the_backup_host_only(host, run_playbook):
    backup = run_playbook(PLAYBOOKS / "backup.yml")
    assert backup.rc == 0, backup.stdout[-6000:]
    set_id = backup.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    # The restore rehearsal's report, from the task's result (Molecule forces colour into stdout).
    reports = [" ".join(str(result.get("msg", "")).split()) for result in backup.task_results("Report")]
    verified = [msg for msg in reports if f"Backup set {set_id} verified" in msg]
    assert verified and "artifacts restore and match" in verified[0], reports

    kept = set_files(host, "birtha-mlflow")
    assert {f"{set_id}/COMPLETE", f"{set_id}/VERIFIED", f"{set_id}/manifest.json"} <= set(kept), kept
    assert any(path.startswith(f"{set_id}/postgres/mlflow_db.dump") for path in kept), kept
    assert any(path.startswith(f"{set_id}/artifacts/") for path in kept), kept
    assert {name: set_files(host, name) for name in ("birtha-db", "birtha-minio")} == {
        "birtha-db": [],
        "birtha-minio": [],
    }
