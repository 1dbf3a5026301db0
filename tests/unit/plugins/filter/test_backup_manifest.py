"""The backup set's manifest (what restore and backup_sets read) and the list of its files, from the roles' parts."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.birtha.mlflow.plugins.filter.backup_manifest import backup_manifest
from ansible_collections.birtha.mlflow.plugins.filter.backup_set_files import backup_set_files

POSTGRES = {
    "host": "db1",
    "started": "2026-12-04T03:00:00Z",
    "finished": "2026-12-04T03:00:09Z",
    "databases": {"mlflow_db": {"alembic_revision": "1b5f0d9ad7c1"}, "mlflow_auth_db": {}},
    "files": [
        {"name": "mlflow_db.dump.zst.gpg", "sha256": "aa", "bytes": 10},
        {"name": "roles.sql.zst.gpg", "sha256": "bb", "bytes": 2},
    ],
    "encrypted": True,
}
ARTIFACTS = {
    "host": "s3",
    "bucket": "mlflow-artifacts",
    "file": {"name": "artifacts.tar.zst.gpg", "sha256": "cc", "bytes": 30},
    "objects": [],
    "count": 0,
    "bytes": 0,
    "encrypted": True,
}


def manifest(**changes) -> dict:
    parts = {"postgres": POSTGRES, "artifacts": ARTIFACTS, **changes}
    return backup_manifest(
        parts["postgres"],
        parts["artifacts"],
        set_id="20261204T030000Z",
        finished="2026-12-04T03:00:30Z",
        mlflow_version="3.17.2\n",
    )


def test_the_manifest_carries_both_parts_and_every_file_with_its_tier():
    result = manifest()
    assert {key: result[key] for key in ("format", "set_id", "started", "finished", "mlflow_version")} == {
        "format": 1,
        "set_id": "20261204T030000Z",
        "started": "2026-12-04T03:00:00Z",
        "finished": "2026-12-04T03:00:30Z",
        "mlflow_version": "3.17.2",
    }
    assert (result["alembic_revision"], result["encrypted"], result["compression"]) == ("1b5f0d9ad7c1", True, "zstd")
    assert result["postgres"] == POSTGRES and result["artifacts"] == ARTIFACTS
    assert [(entry["name"], entry["tier"]) for entry in result["files"]] == [
        ("mlflow_db.dump.zst.gpg", "postgres"),
        ("roles.sql.zst.gpg", "postgres"),
        ("artifacts.tar.zst.gpg", "artifacts"),
    ]
    assert "tier" not in POSTGRES["files"][0]  # the roles' facts are not changed


@pytest.mark.parametrize(
    ("pg", "s3", "encrypted"),
    [(True, True, True), (True, False, False), ("False", True, False), ("True", "True", True)],
)
def test_a_set_is_encrypted_only_when_both_parts_are(pg, s3, encrypted):
    result = manifest(postgres={**POSTGRES, "encrypted": pg}, artifacts={**ARTIFACTS, "encrypted": s3})
    assert result["encrypted"] is encrypted


def test_a_database_without_a_revision_records_none():
    assert manifest(postgres={**POSTGRES, "databases": {}})["alembic_revision"] == ""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"postgres": None}, "PostgreSQL part is not a dict: did the postgres_backup role run"),
        ({"artifacts": {"encrypted": True}}, "artifact part lacks file: did the minio_backup role run"),
    ],
)
def test_a_missing_part_names_the_role(changes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        manifest(**changes)


def test_the_set_files_end_with_the_seal():
    assert backup_set_files(manifest()) == [
        "postgres/mlflow_db.dump.zst.gpg",
        "postgres/roles.sql.zst.gpg",
        "artifacts/artifacts.tar.zst.gpg",
        "manifest.json",
        "COMPLETE",
    ]


def test_check_mode_parts_without_a_file_list_only_the_seal():
    empty = manifest(postgres={**POSTGRES, "files": []}, artifacts={**ARTIFACTS, "file": {}})
    assert backup_set_files(empty) == ["manifest.json", "COMPLETE"]
