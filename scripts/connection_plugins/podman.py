# Copyright: (c) 2026, Birtha platform team
# Apache License 2.0 (see LICENSE)
"""containers.podman's podman connection, with pipelining, for the sandbox and the Molecule hosts.

The collection's plugin runs ``podman mount``, ``mkdir``, ``chmod``, the module and ``rm`` as separate podman
calls for every task, because it never passes ``-i`` and so cannot feed a module on stdin. With ``podman exec -i``
a module is one call. On the 2-core test machines that halves a task's time and its CPU, and every Molecule
converge, idempotence run and test playbook is made of tasks.

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

import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

# podman exec's exit code for its own failure (no such container, container not running), not the command's.
PODMAN_ERROR = 125


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

    @ensure_connect
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False) -> tuple[int, bytes, bytes]:
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
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
