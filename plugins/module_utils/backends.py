# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The base of modules that reach both backends (MLflow's tables in PostgreSQL and its artifacts in S3)."""

from __future__ import annotations

from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresModule
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Module


class PostgresS3Module(PostgresModule, S3Module):
    """Both option sets, both driver checks, module.connection() and module.s3 (cooperative __init__s)."""
