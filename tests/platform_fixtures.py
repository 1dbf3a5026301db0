"""Fixtures for the tests that run playbooks against a running platform through ansible-runner (tests/platform_api,
tests/backup_restore, tests/any_controller, tests/security, tests/faults, tests/awx_runs, tests/postgres_only): the
platform is the one Molecule just converged (MOLECULE_INVENTORY_FILE) or any inventory named by
BIRTHA_PLATFORM_INVENTORY (the sandbox: inventories/sandbox). Without either, those tests are skipped.

Each of those directories' conftest.py imports them; kept out of tests/conftest.py so that unit test runs
(ansible-test units) need no ansible-runner.
"""

from __future__ import annotations

import os
import resource
import sys
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import testinfra_nsenter
from runbook_harness import PlaybookResult


def platform_inventory() -> str | None:
    return os.environ.get("BIRTHA_PLATFORM_INVENTORY") or os.environ.get("MOLECULE_INVENTORY_FILE")


def artifact_store() -> str:
    """The store the platform under test runs (its unit and health tier): the scenario's BIRTHA_ARTIFACT_STORE."""
    return os.environ.get("BIRTHA_ARTIFACT_STORE") or "seaweedfs"


def playbook_log() -> dict[str, str]:
    """molecule/security has every playbook a test runs log at -vvv to one file, searched for secrets at the end."""
    path = os.environ.get("BIRTHA_PLAYBOOK_LOG")
    if not path:
        return {}
    return {"ANSIBLE_LOG_PATH": path, "ANSIBLE_VERBOSITY": os.environ.get("BIRTHA_PLAYBOOK_VERBOSITY", "0")}


@pytest.fixture(scope="session")
def inventory() -> str:
    path = platform_inventory()
    if not path:
        pytest.skip("no platform to test against: set BIRTHA_PLATFORM_INVENTORY (or run under Molecule)")
    return str(Path(path).resolve())


@pytest.fixture(scope="session")
def test_id() -> str:
    """Names created by one session never collide with an earlier session's leftovers."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def run_playbook(inventory: str, tmp_path_factory: pytest.TempPathFactory):
    def run(
        playbook: Path,
        extravars: dict[str, Any] | None = None,
        check: bool = False,
        other_inventory: str | None = None,
        limit: str | None = None,
        tags: str | None = None,
    ) -> PlaybookResult:
        private = tmp_path_factory.mktemp("runner")
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(playbook),
            inventory=other_inventory or inventory,
            extravars=extravars or {},
            cmdline="--check" if check else None,
            limit=limit,
            tags=tags,
            quiet=True,
            envvars={
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_STDOUT_CALLBACK": "default",
                "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
                **playbook_log(),
            },
        )
        stdout = runner.stdout.read() if runner.stdout else ""
        return PlaybookResult(runner.rc, runner.status, runner.stats or {}, stdout, list(runner.events))

    return run


def register(config: pytest.Config) -> None:
    """Called by the conftest of each directory whose tests use these fixtures: registered once as a plugin, they are
    one set of session fixtures (one test_id, one runner) however many of those directories a run collects. It also
    routes testinfra's commands on the scenarios' hosts through nsenter (testinfra_nsenter)."""
    testinfra_nsenter.install()
    plugin = sys.modules[__name__]
    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "birtha_platform_fixtures")


# CPU seconds each test cost (its fixtures' setup and teardown included), printed after the run: on the 2-core CI
# machine CPU, not waiting, is what the scenarios share, and a test's wall time says little about it.
CPU_SPENT: dict[str, float] = {}
CPU_REPORTED = 15


def cpu_seconds() -> float:
    """This process's CPU time and that of every child it has reaped: the playbooks (with their modules, which run
    under the controller's nsenter), testinfra's commands; not the services in the containers."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    start = cpu_seconds()
    yield
    CPU_SPENT[item.nodeid] = cpu_seconds() - start


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CPU_SPENT:
        return
    terminalreporter.section(f"most CPU per test (of {sum(CPU_SPENT.values()):.0f} s in all)")
    for nodeid, seconds in sorted(CPU_SPENT.items(), key=lambda spent: spent[1], reverse=True)[:CPU_REPORTED]:
        terminalreporter.write_line(f"{seconds:7.1f}s {nodeid}")
