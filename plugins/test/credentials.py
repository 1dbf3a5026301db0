# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Jinja tests that refuse well-known default credentials; the one list every role's validation uses."""

from __future__ import annotations

from collections.abc import Callable

# Defaults shipped by MinIO, PostgreSQL, MLflow and tutorials (the runbook's own minioadmin included).
WELL_KNOWN_SECRETS = frozenset(
    {"minioadmin", "minio", "admin", "password", "password1234", "changeme", "secret", "mlflow", "postgres"}
)
MINIO_DEFAULT_USER = "minioadmin"


def well_known_secret(value: object) -> bool:
    """True when value is a well-known default password (compared case-insensitively)."""
    return str(value).strip().lower() in WELL_KNOWN_SECRETS


def minio_default_user(value: object) -> bool:
    """True when value is MinIO's default root user, which must never be used as an account."""
    return str(value).strip().lower() == MINIO_DEFAULT_USER


class TestModule:
    """birtha.mlflow.well_known_secret and birtha.mlflow.minio_default_user."""

    def tests(self) -> dict[str, Callable[[object], bool]]:
        return {"well_known_secret": well_known_secret, "minio_default_user": minio_default_user}
