# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""A backup set's manifest from the parts the backup roles report, and the files a set consists of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: backup_manifest
short_description: Assemble a backup set's manifest from the PostgreSQL and artifact parts
version_added: 0.7.0
description:
  - Takes the fact C(postgres_backup_result) of the birtha.mlflow.postgres_backup role and the fact
    C(minio_backup_result) of the birtha.mlflow.minio_backup role and returns the set's C(manifest.json) content.
  - C(restore.yml), C(backup_verify.yml) and the birtha.mlflow.backup_sets module read that manifest; its C(format)
    is 1.
options:
  _input:
    description: The PostgreSQL part (C(postgres_backup_result)).
    type: dict
    required: true
  artifacts:
    description: The artifact part (C(minio_backup_result)).
    type: dict
    required: true
  set_id:
    description: The set's ID (its directory name under C(sets/)).
    type: str
    required: true
  finished:
    description: When the set was sealed (ISO 8601, UTC).
    type: str
    required: true
  mlflow_version:
    description: The version of MLflow that wrote the data.
    type: str
    default: ""
  database:
    description: MLflow's database, whose Alembic revision the manifest records.
    type: str
    default: mlflow_db
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
manifest: >-
  {{ postgres_backup_result | birtha.mlflow.backup_manifest(minio_backup_result, set_id=set_id,
     finished=now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ'), mlflow_version=version.stdout, database='mlflow_db') }}
"""

RETURN = r"""
_value:
  description:
    - C(format), C(set_id), C(started), C(finished), C(mlflow_version), C(alembic_revision), C(encrypted) (both parts
      encrypted), C(compression), the two parts as C(postgres) and C(artifacts), and C(files) (every file with its
      C(tier)).
  type: dict
"""

MANIFEST_FORMAT = 1


def require_part(part: Any, name: str, role: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    """The part, or an error naming the role whose result is missing or incomplete."""
    if not isinstance(part, Mapping):
        raise AnsibleFilterError(f"backup_manifest: the {name} part is not a dict: did the {role} role run?")
    missing = [key for key in keys if key not in part]
    if missing:
        raise AnsibleFilterError(
            f"backup_manifest: the {name} part lacks {', '.join(missing)}: did the {role} role run?"
        )
    return part


def as_bool(value: Any) -> bool:
    """The roles report encrypted as a bool, or as its text where a template made it one."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "1")


def backup_manifest(
    postgres: Any,
    artifacts: Any,
    set_id: str,
    finished: str,
    mlflow_version: str = "",
    database: str = "mlflow_db",
) -> dict[str, Any]:
    pg = require_part(postgres, "PostgreSQL", "postgres_backup", ("started", "files", "encrypted"))
    s3 = require_part(artifacts, "artifact", "minio_backup", ("file", "encrypted"))
    databases = pg.get("databases") or {}
    files = [{**entry, "tier": "postgres"} for entry in pg["files"]]
    files.append({**(s3["file"] or {}), "tier": "artifacts"})
    return {
        "format": MANIFEST_FORMAT,
        "set_id": set_id,
        "started": pg["started"],
        "finished": finished,
        "mlflow_version": str(mlflow_version).strip(),
        "alembic_revision": (databases.get(database) or {}).get("alembic_revision", ""),
        "encrypted": as_bool(pg["encrypted"]) and as_bool(s3["encrypted"]),
        "compression": "zstd",
        "postgres": dict(pg),
        "artifacts": dict(s3),
        "files": files,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"backup_manifest": backup_manifest}
