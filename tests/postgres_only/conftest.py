"""Tests that need PostgreSQL alone (molecule/postgres: one database host with MLflow's schemas, no MinIO, no tracking
server), run through ansible-runner with the fixtures of tests/platform_fixtures.py. They also run against a whole
platform (BIRTHA_PLATFORM_INVENTORY=inventories/sandbox), whose first mlflow_db host they use."""

from __future__ import annotations

import platform_fixtures
import pytest


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)
