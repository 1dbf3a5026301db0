"""Run a playbook the way AWX runs a job template: ansible-runner, process isolation in the execution environment.

Each job gets a private data dir of its own, laid out as AWX lays it out:

    project/      the repository's files as they are in the working tree (AWX: the project's checkout)
    inventory/    hosts.yml with the scenario's groups and hosts (reached over SSH), group_vars/ copied from the
                  scenario's inventory (AWX: the inventory, synced from a source)
    env/ssh_key   the machine credential's private key (ansible-runner hands it to ssh-agent in the container)
    env/cmdline   -u <user>: the machine credential's username
    env/extravars what a credential of the type "Birtha MLflow platform secrets" injects, and the launch's extra
                  variables
    env/envvars   the job's environment
    artifacts/    written by the job: job events, stdout, fact cache, status, rc

Nothing outlives a job but its artifacts, as under AWX: the next job starts from a new directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import yaml
from runbook_harness import PlaybookResult

REPO_ROOT = Path(__file__).resolve().parents[2]
# Inside the job's container: ansible-runner mounts the private data dir at /runner.
CONTAINER_PRIVATE_DIR = "/runner"


@dataclass
class Platform:
    """The hosts of a converged Molecule scenario, as a job reaches them."""

    groups: dict[str, list[str]]
    network: str
    group_vars: Path

    @property
    def hosts(self) -> list[str]:
        return sorted({host for hosts in self.groups.values() for host in hosts})


@dataclass
class JobResult(PlaybookResult):
    name: str = ""
    private_data_dir: Path = field(default_factory=Path)
    artifact_dir: Path = field(default_factory=Path)
    seconds: float = 0.0

    def dark(self) -> dict[str, int]:
        return self.stats.get("dark", {})

    def container_path(self, host_path: Path) -> str:
        """Where a file of the private data dir is inside the job's container."""
        return f"{CONTAINER_PRIVATE_DIR}/{host_path.relative_to(self.private_data_dir)}"

    def host_path(self, container_path: str) -> Path:
        """Where a file the job wrote under /runner is on the controller, after the job's container is gone."""
        relative = Path(container_path).relative_to(CONTAINER_PRIVATE_DIR)
        return self.private_data_dir / relative

    def events_on_disk(self) -> list[dict[str, Any]]:
        """The job events as the job left them in its artifacts (what AWX stores), not the runner's memory."""
        return [
            json.loads(path.read_text())
            for path in sorted(
                (self.artifact_dir / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-")[0])
            )
        ]

    def __repr__(self) -> str:
        return f"JobResult({self.summary()})"

    def summary(self) -> str:
        return f"{self.name}: rc {self.rc}, {self.seconds:.0f} s, artifacts {self.artifact_dir}"


def scenario_platform(inventory_file: str) -> Platform:
    """The groups and hosts of the Molecule inventory, and the podman network its containers share."""
    inventory_path = Path(inventory_file)
    data = yaml.safe_load(inventory_path.read_text())
    groups = {
        name: sorted((group or {}).get("hosts") or {})
        for name, group in data.items()
        if name not in ("all", "ungrouped") and (group or {}).get("hosts")
    }
    hosts = sorted({host for members in groups.values() for host in members})
    networks = set()
    for host in hosts:
        inspected = subprocess.run(
            ["podman", "inspect", "--format", "{{json .NetworkSettings.Networks}}", host],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        networks.update(json.loads(inspected))
    if len(networks) != 1:
        raise RuntimeError(f"expected the scenario's hosts {hosts} on one podman network, found {sorted(networks)}")
    return Platform(groups=groups, network=networks.pop(), group_vars=inventory_path.parent / "group_vars")


def project_files() -> list[str]:
    """The repository's files as the working tree has them: tracked (with uncommitted changes) and new ones, not
    ignored ones (.venv, .cache, credentials)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    return sorted({name.decode() for name in listed.split(b"\0") if name})


def copy_project(destination: Path, files: list[str]) -> None:
    for name in files:
        source = REPO_ROOT / name
        target = destination / name
        if source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(source))
        elif source.is_file():  # a tracked file deleted in the working tree is not part of it
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def credential_extravars(platform_secrets: dict[str, str]) -> dict[str, str]:
    """The extra variables a credential of awx/config.yml's type "Birtha MLflow platform secrets" injects, its
    inputs being platform_secrets (field id -> value). AWX renders each injector template with the inputs and
    injects every field, an empty one as ""."""

    class Unsafe(yaml.SafeLoader):
        pass

    Unsafe.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    config = yaml.load((REPO_ROOT / "awx" / "config.yml").read_text(), Loader=Unsafe)
    credential_type = config["awx_platform_credential_type"]
    fields = [item["id"] for item in credential_type["inputs"]["fields"]]
    unknown = set(platform_secrets) - set(fields)
    if unknown:
        raise ValueError(f"the credential type has no fields {sorted(unknown)}")
    inputs = {name: platform_secrets.get(name, "") for name in fields}
    return {
        name: re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda match: inputs[match.group(1)], template)
        for name, template in credential_type["injectors"]["extra_vars"].items()
    }


@dataclass
class JobRunner:
    """Everything the jobs of one test session share: the execution environment, the platform, the machine
    credential. Each call of run() is one job in a new private data dir."""

    ee_image: str
    platform: Platform
    ssh_user: str
    ssh_private_key: str
    project: list[str]
    base: Path
    session: str
    # Controller paths the jobs see at the same path, read-only (AWX: "Paths to expose to isolated jobs"), each
    # with the environment variable that names it.
    exposed: dict[str, str] = field(default_factory=dict)
    timeout: int = 900
    jobs: list[JobResult] = field(default_factory=list)

    def _inventory(self, directory: Path) -> None:
        directory.mkdir()
        inventory = {
            "all": {
                # The inventory names the hosts as Molecule does: the job's container resolves them on the
                # scenario's network. The machine credential gives the user and the key.
                "vars": {"ansible_connection": "ssh"},
                "children": {
                    group: {"hosts": {host: None for host in hosts}} for group, hosts in self.platform.groups.items()
                },
            }
        }
        (directory / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        # A copy, links resolved: the job's container sees only the private data dir.
        shutil.copytree(self.platform.group_vars, directory / "group_vars", symlinks=False)
        # An AWX inventory names its store; the scenario's comes from its environment, which the job does not see.
        store = os.environ.get("BIRTHA_ARTIFACT_STORE", "seaweedfs")
        (directory / "group_vars" / "all" / "store.yml").write_text(yaml.safe_dump({"platform_artifact_store": store}))

    def run(
        self,
        name: str,
        playbook: str,
        extravars: dict[str, Any] | None = None,
        ssh_private_key: str | None = None,
    ) -> JobResult:
        ident = f"{name}-{self.session}"
        private = self.base / ident
        private.mkdir()
        copy_project(private / "project", self.project)
        self._inventory(private / "inventory")
        env = private / "env"
        env.mkdir()
        (env / "ssh_key").write_text(ssh_private_key or self.ssh_private_key)
        (env / "cmdline").write_text(f"-u {self.ssh_user}")
        (env / "extravars").write_text(json.dumps(extravars or {}))
        artifact_dir = private / "artifacts" / ident
        envvars = {
            # The hosts are new on every run; a job's container has no known_hosts of its own.
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_NOCOLOR": "1",
            # Reports and incident records (platform_report_dir) go where the job's artifacts outlive its container.
            "XDG_DATA_HOME": f"{CONTAINER_PRIVATE_DIR}/artifacts/{ident}/data",
            **self.exposed,
        }
        (env / "envvars").write_text(json.dumps(envvars))
        for path in (private, env):
            path.chmod(0o700)
        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=str(private),
            ident=ident,
            playbook=playbook,
            process_isolation=True,
            process_isolation_executable="podman",
            container_image=self.ee_image,
            container_options=[f"--network={self.platform.network}"],
            container_volume_mounts=[f"{path}:{path}:ro" for path in self.exposed.values()],
            settings={"job_timeout": self.timeout},
            quiet=True,
        )
        seconds = time.monotonic() - started
        # AWX removes a job's private data dir; this one stays for its artifacts, without the machine credential's key.
        (env / "ssh_key").unlink()
        stdout = runner.stdout.read() if runner.stdout else ""
        result = JobResult(
            rc=runner.rc,
            status=runner.status,
            stats=runner.stats or {},
            stdout=stdout,
            events=list(runner.events),
            name=name,
            private_data_dir=private,
            artifact_dir=artifact_dir,
            seconds=seconds,
        )
        self.jobs.append(result)
        return result


def host_shell(host: str, script: str, stdin: str = "") -> str:
    """Run a shell script as root in a scenario host's container (podman exec), as the test's setup does."""
    done = subprocess.run(
        ["podman", "exec", "-i", host, "sh", "-euc", script], input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"on {host}: {script!r} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout
