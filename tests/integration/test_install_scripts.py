"""The controller's install scripts: every command they rely on is checked first and named with its package,
and the package gap of a machine is reported (issue: a missing iptables broke every scenario on a new machine)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"


def bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a snippet after sourcing lib.sh, with the cache in tmp_path."""
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPTS}/lib.sh"\n{script}'],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BIRTHA_CACHE": str(tmp_path / "cache")},
        check=False,
    )


def package_table(tmp_path: Path) -> dict[str, str]:
    out = bash(
        'for c in "${!DEBIAN_PACKAGE_OF[@]}"; do printf "%s\\t%s\\n" "$c" "${DEBIAN_PACKAGE_OF[$c]}"; done', tmp_path
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split("\t") for line in out.stdout.splitlines())


def repo_packages(tmp_path: Path) -> set[str]:
    out = bash('printf "%s\\n" "${DEBIAN_PACKAGE_OF[@]}" "${DEBIAN_PACKAGES_EXTRA[@]}"', tmp_path)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_require_names_each_missing_command_and_its_package(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = bash(f'PATH="{empty}"\nrequire iptables debootstrap\necho not reached', tmp_path)
    assert out.returncode == 1
    assert "not reached" not in out.stdout
    assert "iptables (package iptables)" in out.stderr
    assert "debootstrap (package debootstrap)" in out.stderr
    assert "apt-get install iptables debootstrap" in out.stderr


def test_require_passes_when_every_command_is_there(tmp_path: Path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("iptables", "debootstrap"):
        (bindir / name).write_text("#!/bin/sh\n")
        (bindir / name).chmod(0o755)
    out = bash(f'PATH="{bindir}"\nrequire iptables debootstrap\necho reached', tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "reached"


def test_every_command_a_script_requires_is_installed_by_bootstrap(tmp_path: Path):
    """bootstrap.sh installs the table's packages, so a required command missing from it would never be installed."""
    table = package_table(tmp_path)
    required = {
        word
        for script in SCRIPTS.glob("*.sh")
        for line in script.read_text().splitlines()
        if (match := re.match(r"\s*require ([^#]+)$", line))
        for word in match.group(1).split()
        if "$" not in word  # bootstrap.sh requires the whole table
    }
    assert {"podman", "iptables", "/usr/lib/podman/netavark", "debootstrap"} <= required
    assert required - table.keys() == set()


def test_go_older_than_1_21_is_refused_with_the_fix(tmp_path: Path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "go").write_text('#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.19.8\n')
    (bindir / "go").chmod(0o755)
    out = bash(f'PATH="{bindir}:/usr/bin:/bin"\nrequire_go\necho not reached', tmp_path)
    assert out.returncode == 1
    assert "go is go1.19.8" in out.stderr and "1.21 or newer" in out.stderr


@pytest.mark.skipif(shutil.which("apt-mark") is None, reason="package-gap reads apt-mark (Debian)")
class TestPackageGap:
    def manual(self) -> list[str]:
        names = subprocess.run(["apt-mark", "showmanual"], capture_output=True, text=True, check=True).stdout
        return sorted({name.split(":")[0] for name in names.split()})

    def run_gap(self, baseline: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SCRIPTS / "package-gap.sh", baseline], capture_output=True, text=True, check=False)

    def test_a_package_no_script_installs_and_no_new_machine_has_is_listed(self, tmp_path: Path):
        installed_by_repo = repo_packages(tmp_path)
        assert {"iptables", "podman", "python3-venv"} <= installed_by_repo
        candidates = [name for name in self.manual() if name not in installed_by_repo]
        if not candidates:
            pytest.skip("every manual package here is one the scripts install")
        by_hand = candidates[0]
        baseline = tmp_path / "baseline.tsv"
        # The workplace's image lists are tab-separated: kind, name, version.
        baseline.write_text("".join(f"apt\t{name}\t1.0\n" for name in candidates if name != by_hand))
        out = self.run_gap(baseline)
        assert out.returncode == 0, out.stderr
        assert [line.strip() for line in out.stdout.splitlines()[1:]] == [by_hand]

    def test_no_gap_when_the_new_machine_has_everything(self, tmp_path: Path):
        baseline = tmp_path / "baseline.txt"
        baseline.write_text("\n".join(self.manual()) + "\n")
        out = self.run_gap(baseline)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("no gap")

    def test_an_unreadable_baseline_is_named(self, tmp_path: Path):
        out = self.run_gap(tmp_path / "missing.txt")
        assert out.returncode != 0
        assert "missing.txt cannot be read" in out.stderr
