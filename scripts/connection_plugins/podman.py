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
import subprocess
import tempfile
from pathlib import Path

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

# podman exec's exit code for its own failure (no such container, container not running), not the command's.
PODMAN_ERROR = 125
NSENTER = "/usr/bin/nsenter"
# Each container's init PID and full ID, "<pid> <id>", shared by every task and every run on this machine.
PID_CACHE = Path(tempfile.gettempdir()) / "birtha-podman-pids"


def container_owns(pid: int, container_id: str) -> bool:
    """Whether the process is in the container's cgroup: a PID left from a stopped container is not."""
    try:
        return f"libpod-{container_id}" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def cached_init(name: str) -> tuple[int, str] | None:
    """The kept init PID and ID of a container, if the process still belongs to it."""
    try:
        pid_text, container_id = (PID_CACHE / name).read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return (pid, container_id) if container_owns(pid, container_id) else None


def keep_init(name: str, pid: int, container_id: str) -> None:
    """Kept atomically: another task may be reading it."""
    PID_CACHE.mkdir(mode=0o700, exist_ok=True)
    scratch = PID_CACHE / f".{name}.{os.getpid()}"
    scratch.write_text(f"{pid} {container_id}")
    scratch.replace(PID_CACHE / name)


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
        """The running container's init PID: the kept one, or podman's answer (then kept)."""
        kept = cached_init(self._container_id)
        if kept:
            return kept[0]
        rc, stdout, stderr = self._podman("inspect", ["--format", "{{.State.Pid}} {{.Id}}"])
        answer = to_native(stdout).split()
        if rc != 0 or len(answer) != 2 or answer[0] == "0":
            raise AnsibleConnectionFailure(
                f"container {self._container_id} is not running: {to_native(stderr).strip() or 'no init process'}"
            )
        pid = int(answer[0])
        keep_init(self._container_id, pid, answer[1])
        return pid

    def _nsenter(self, cmd: str, in_data: bytes | None) -> tuple[int, bytes, bytes]:
        """The command in every namespace of the container's init, its root and its environment."""
        pid = self._init_pid()
        argv = [NSENTER, "--target", str(pid), "--all", "--root", "--wd", "--", "env", "-i", *init_environment(pid)]
        argv.extend(shlex.split(to_native(cmd, errors="surrogate_or_strict")))
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = process.communicate(input=in_data)
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
