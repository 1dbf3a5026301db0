"""Playbooks through ansible-runner against molecule/ha's store cluster: tests/platform_fixtures.py's fixtures."""

from __future__ import annotations

import platform_fixtures
import pytest


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)
