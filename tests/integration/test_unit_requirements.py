"""tests/unit/requirements.txt (what ansible-test installs for the unit tests when it makes their environment) pins the
collection's runtime packages as requirements.txt does, so a unit run tests what an execution environment installs."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def requirements(path: Path) -> dict[str, str]:
    """name -> version specifier ('' when unpinned) of every requirement line."""
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*([=<>!~][^\s#;]*)?", line):
            found[match.group(1).lower()] = match.group(3) or ""
    return found


def test_unit_requirements_pin_the_runtime_packages_as_requirements_txt_does():
    runtime = requirements(REPO_ROOT / "requirements.txt")
    unit = requirements(REPO_ROOT / "tests" / "unit" / "requirements.txt")
    assert {name: unit.get(name) for name in runtime} == runtime


def test_the_controller_virtualenv_can_run_ansible_test_units():
    """scripts/ansible-test.sh units uses the controller virtualenv, and ansible-test runs pytest with -n."""
    dev = requirements(REPO_ROOT / "requirements-dev.txt")
    assert dev.get("pytest-xdist", "").startswith("==")
