"""Time to recovery of each fault case, collected by tests/faults/test_faults.py and shown after the run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platform_fixtures
import pytest

RECOVERY: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="session")
def recovery_times() -> dict[str, dict[str, Any]]:
    return RECOVERY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RECOVERY:
        return
    terminalreporter.section("time to recovery per fault")
    for name, times in RECOVERY.items():
        terminalreporter.write_line(
            f"{name}: {times['fix_seconds']:.1f} s ({times['fault_to_healthy_seconds']:.1f} s from the fault), "
            f"{times['fixed_by']}"
        )
    # Kept with the scenario's other state (or the repo's reports/ outside Molecule) for whoever plans next.
    target = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", Path(__file__).resolve().parents[2] / "reports"))
    target.mkdir(parents=True, exist_ok=True)
    (target / "fault-recovery.json").write_text(json.dumps(RECOVERY, indent=2) + "\n")
    terminalreporter.write_line(f"recorded in {target / 'fault-recovery.json'}")


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)  # run_playbook, inventory, test_id: tests/platform_fixtures.py
