"""The security scenario's -vvv log is searched for secrets after every other test ran its playbooks."""

from __future__ import annotations

import platform_fixtures
import pytest


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if "test_zz_no_secret_in_output" in item.nodeid]
    items[:] = [item for item in items if item not in last] + last


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)  # run_playbook, inventory, test_id: tests/platform_fixtures.py
