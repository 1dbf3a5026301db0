"""Fixtures for AWX-shaped jobs against the platform a Molecule scenario converged (molecule/default).

Per test session: the execution environment image (scripts/build-ee.sh builds it when missing, cached), a fresh
ed25519 key pair made on the controller, and a user on every scenario host that logs in with it and becomes root
with sudo (no password), as AWX's machine credential needs. The scenario's destroy removes the hosts, user and all.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import platform_fixtures
import pytest
from awx_job import REPO_ROOT, JobRunner, host_shell, project_files, scenario_platform

SSH_USER = "awx"

# Give the user a key and passwordless sudo. The password field is "*" (no password), not "!" (locked): sshd refuses
# a locked account's key where PAM is not in use.
USER_SETUP = f"""
id {SSH_USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {SSH_USER}
usermod --password '*' {SSH_USER}
install -d -m 0700 -o {SSH_USER} -g {SSH_USER} /home/{SSH_USER}/.ssh
install -m 0600 -o {SSH_USER} -g {SSH_USER} /dev/stdin /home/{SSH_USER}/.ssh/authorized_keys
printf '%s ALL=(ALL) NOPASSWD: ALL\\n' {SSH_USER} >/etc/sudoers.d/{SSH_USER}-runs.tmp
chmod 0440 /etc/sudoers.d/{SSH_USER}-runs.tmp
visudo -cqf /etc/sudoers.d/{SSH_USER}-runs.tmp
mv /etc/sudoers.d/{SSH_USER}-runs.tmp /etc/sudoers.d/{SSH_USER}-runs
for _ in $(seq 30); do systemctl is-active --quiet ssh && exit 0; sleep 1; done
echo "sshd is not running on $(hostname) (the host image predates openssh-server: scripts/build-image.sh)" >&2
exit 1
"""


def require(*commands: str) -> None:
    """scripts/lib.sh's require: names each missing command and the Debian package that has it."""
    checked = subprocess.run(
        ["bash", "-c", 'source "$0"; require "$@"', str(REPO_ROOT / "scripts" / "lib.sh"), *commands],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        pytest.fail(checked.stderr)


@pytest.fixture(scope="session")
def awx_platform():
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory or os.environ.get("MOLECULE_SCENARIO_NAME") != "default":
        pytest.skip("AWX-shaped jobs need the default scenario's container hosts (molecule test -s default)")
    require("podman")
    return scenario_platform(inventory)


@pytest.fixture(scope="session")
def ee_image() -> str:
    """The execution environment: BIRTHA_EE_IMAGE, or what scripts/build-ee.sh prints (it builds once, under a lock
    shared by every checkout on this machine, and reuses an unchanged image)."""
    if os.environ.get("BIRTHA_EE_IMAGE"):
        return os.environ["BIRTHA_EE_IMAGE"]
    started = time.monotonic()
    built = subprocess.run([str(REPO_ROOT / "scripts" / "build-ee.sh")], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail(f"scripts/build-ee.sh failed:\n{built.stderr[-3000:]}")
    print(f"execution environment {built.stdout.split()[-1]} ready in {time.monotonic() - started:.0f} s")
    return built.stdout.split()[-1]


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """This session's machine credential (authorized on the hosts), and another key that is not."""
    require("ssh-keygen")
    directory = tmp_path_factory.mktemp("ssh")
    keys = {}
    for name in ("machine", "stranger"):
        path = directory / name
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"birtha-awx-runs-{name}", "-f", str(path)],
            check=True,
        )
        keys[name] = path.read_text()
        keys[f"{name}.pub"] = path.with_suffix(".pub").read_text()
    return keys


@pytest.fixture(scope="session")
def jobs(awx_platform, ee_image, ssh_keys, tmp_path_factory: pytest.TempPathFactory, test_id: str, request):
    for host in awx_platform.hosts:
        host_shell(host, USER_SETUP, stdin=ssh_keys["machine.pub"])
    # The store's binaries and the wheel archive platform_up.yml installs from (scripts/molecule.sh exports them),
    # exposed read-only at the same path: the job deploys what the scenario deployed.
    exposed = {
        variable: os.environ[variable]
        for variable in ("BIRTHA_SEAWEEDFS_DIR", "BIRTHA_MINIO_DIR", "BIRTHA_WHEEL_ARCHIVE")
        if os.environ.get(variable) and Path(os.environ[variable]).exists()
    }
    runner = JobRunner(
        ee_image=ee_image,
        platform=awx_platform,
        ssh_user=SSH_USER,
        ssh_private_key=ssh_keys["machine"],
        project=project_files(),
        base=tmp_path_factory.mktemp("awx-jobs"),
        session=test_id,
        exposed=exposed,
    )
    request.config.stash[JOBS_KEY] = runner.jobs
    return runner


JOBS_KEY = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Each AWX-shaped job's duration, in the scenario's log: what these tests add to the scenario's time."""
    ran = config.stash.get(JOBS_KEY, [])
    if ran:
        terminalreporter.section("AWX-shaped jobs")
        for job in ran:
            terminalreporter.write_line(job.summary())
        terminalreporter.write_line(f"total {sum(job.seconds for job in ran):.0f} s")


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)  # run_playbook, inventory, test_id: tests/platform_fixtures.py
