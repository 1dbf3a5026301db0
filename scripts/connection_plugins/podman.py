# Copyright: (c) 2026, Birtha platform team
# Apache License 2.0 (see LICENSE)
"""containers.podman's podman connection, with pipelining, for the sandbox and the Molecule hosts.

The collection's plugin runs ``podman mount``, ``mkdir``, ``chmod``, the module and ``rm`` as separate podman
calls for every task, because it never passes ``-i`` and so cannot feed a module on stdin. With ``podman exec -i``
a module is one call. On the 2-core test machines that halves a task's time and its CPU, and every Molecule
converge, idempotence run and test playbook is made of tasks.

As root it goes further: a command runs in the container's namespaces through ``nsenter`` (util-linux) with the
container's own environment, and podman is asked only for the container's init PID, kept per container in a file
(checked against the container's cgroup before each use, so a restarted container is asked again). ``podman exec``
costs a Go client, conmon and runc per task (about 0.7 s each on a loaded 2-core machine); ``nsenter`` costs
nothing measurable. Unlike ``podman exec`` a task then runs with root's full capabilities, as on a real host.

ansible.cfg and .config/molecule/config.yml put this directory in ``connection_plugins``: Molecule's inventories
name the connection ``podman``, and a plugin of that name on the configured path wins over the short name's
redirect to containers.podman.podman. Nothing shipped uses it (scripts/ is in galaxy.yml's build_ignore).
"""

from __future__ import annotations

DOCUMENTATION = """
name: podman
short_description: Run tasks in a podman container, with pipelining
description:
  - containers.podman.podman, whose C(podman exec) passes C(-i) when a module comes on stdin, so pipelining works.
  - The container's filesystem is mounted only when a file is copied in or out.
author: Birtha platform team (@birtha)
options:
  remote_addr:
    description: The ID or name of the container.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
      - name: ansible_podman_host
  remote_user:
    description: The user that runs commands in the container.
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Extra arguments for every podman command.
    default: ''
    ini:
      - section: defaults
        key: podman_extra_args
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  podman_executable:
    description: The podman executable.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  pipelining:
    description: Feed modules on stdin instead of copying them into the container.
    type: boolean
    default: false
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
"""

import os
import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

# podman exec's exit code for its own failure (no such container, container not running), not the command's.
PODMAN_ERROR = 125
NSENTER = "/usr/bin/nsenter"
# Each container's init PID, full ID and the PID's start time, "<pid> <id> <start>", shared by every task and every run
# on this machine. Root's own directory (only root uses it), refused unless root alone can write it.
PID_CACHE = Path("/run/birtha-podman-pids")


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22): a reused PID has another."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces: count from its closing one.
    return stat[stat.rindex(")") + 2 :].split()[19]


def container_owns(pid: int, container_id: str, start: str) -> bool:
    """Whether the process is the one kept: in the container's cgroup (a PID left from a stopped container is not)
    and started when it was (a PID reused inside a restarted container is not)."""
    try:
        owned = f"libpod-{container_id}" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False
    return owned and process_start(pid) == start


def cache_is_roots() -> bool:
    """The cache directory is a real directory that root owns and no one else can write."""
    try:
        info = PID_CACHE.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and info.st_mode & 0o022 == 0


def cached_init(name: str) -> tuple[int, str] | None:
    """The kept init PID and ID of a container, if the process is still the one kept."""
    if not cache_is_roots():
        return None
    try:
        pid_text, container_id, start = (PID_CACHE / name).read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return (pid, container_id) if container_owns(pid, container_id, start) else None


def keep_init(name: str, pid: int, container_id: str) -> None:
    """Kept atomically (another task may be reading it); not at all where the directory is not root's alone."""
    PID_CACHE.mkdir(mode=0o700, exist_ok=True)
    start = process_start(pid)
    if not cache_is_roots() or not start:
        return
    scratch = PID_CACHE / f".{name}.{os.getpid()}"
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{pid} {container_id} {start}")
    scratch.replace(PID_CACHE / name)


# podman inspect's answer for a container's init: "<pid> <id>" (pid 0 when it is not running).
INSPECT_FORMAT = "{{.State.Pid}} {{.Id}}"


def init_pid(name: str, inspect: Callable[[], tuple[int, str]]) -> int | None:
    """A running container's init PID: the kept one, or inspect()'s answer (rc, stdout in INSPECT_FORMAT), then kept;
    None when it is not running. The connection and tests/testinfra_nsenter.py ask podman each their own way."""
    kept = cached_init(name)
    if kept:
        return kept[0]
    rc, stdout = inspect()
    answer = stdout.split()
    if rc != 0 or len(answer) != 2 or answer[0] == "0":
        return None
    keep_init(name, int(answer[0]), answer[1])
    return int(answer[0])


def nsenter_argv(pid: int, environment: list[str]) -> list[str]:
    """nsenter into every namespace of the init, its root and working directory, with only its environment."""
    return [NSENTER, "--target", str(pid), "--all", "--root", "--wd", "--", "env", "-i", *environment]


def init_environment(pid: int) -> list[str]:
    """The container's environment as its init has it (PATH, HOME, HOSTNAME, container), which podman exec gives."""
    return [item for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item]


class Connection(PodmanConnection):
    """podman exec -i: one podman call per pipelined task; the mount waits for the first file transfer."""

    transport = "podman"
    has_pipelining = True
    _mount_tried = False

    def _connect(self) -> Connection:
        # No `podman mount` here: a pipelined task never needs the container's filesystem.
        ConnectionBase._connect(self)
        self._connected = True
        return self

    def _ensure_mount(self) -> None:
        # With a remote user the parent copies with `podman cp` and never reads the mount; an empty mount (cgroups v2)
        # is not retried on every transfer.
        if self.user or self._mount_tried:
            return
        self._mount_tried = True
        PodmanConnection._connect(self)

    def _init_pid(self) -> int:
        """The running container's init PID (init_pid, asking through this connection's podman)."""
        said = ""

        def inspect() -> tuple[int, str]:
            nonlocal said
            rc, stdout, stderr = self._podman("inspect", ["--format", INSPECT_FORMAT])
            said = to_native(stderr).strip()
            return rc, to_native(stdout)

        pid = init_pid(self._container_id, inspect)
        if pid is None:
            reason = said or "no init process"
            raise AnsibleConnectionFailure(f"container {self._container_id} is not running: {reason}")
        return pid

    def _nsenter(self, cmd: str, in_data: bytes | None) -> tuple[int, bytes, bytes]:
        """The command in every namespace of the container's init, its root and its environment."""
        pid = self._init_pid()
        try:
            environment = init_environment(pid)
        except OSError as gone:
            raise AnsibleConnectionFailure(f"container {self._container_id} stopped: {gone}") from gone
        argv = nsenter_argv(pid, environment)
        argv.extend(shlex.split(to_native(cmd, errors="surrogate_or_strict")))
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = process.communicate(input=in_data)
        # nsenter's own failure (the namespaces gone with the container) is the connection's, as podman exec's 125 is.
        if process.returncode != 0 and stderr.startswith(b"nsenter:"):
            raise AnsibleConnectionFailure(f"nsenter into {self._container_id}: {to_native(stderr).strip()}")
        return process.returncode, stdout, stderr

    @ensure_connect
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False) -> tuple[int, bytes, bytes]:
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        if os.geteuid() == 0 and self.user in (None, "", "root") and os.path.exists(NSENTER):
            return self._nsenter(cmd, in_data)
        # -i only when there is input: podman then attaches stdin, and a command without input gets none.
        exec_args = ["exec", "-i"] if in_data is not None else ["exec"]
        if self.user:
            exec_args.extend(("--user", self.user))
        rc, stdout, stderr = self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
        if rc == PODMAN_ERROR:
            # The container is gone or stopped. Without pipelining the failed temporary-directory step made the host
            # unreachable; a pipelined module would only fail, so say it as the collection's plugin and SSH do.
            raise AnsibleConnectionFailure(f"podman exec in {self._container_id}: {to_native(stderr).strip()}")
        return rc, stdout, stderr

    def put_file(self, in_path: str, out_path: str) -> None:
        self._ensure_mount()
        super().put_file(in_path, out_path)

    def fetch_file(self, in_path: str, out_path: str) -> None:
        self._ensure_mount()
        super().fetch_file(in_path, out_path)
