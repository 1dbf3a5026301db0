"""Playbooks run through ansible-runner against the platform: the fixtures of tests/platform_fixtures.py."""

from __future__ import annotations

import platform_fixtures
import pytest


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)
