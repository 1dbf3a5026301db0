"""testinfra's commands on the scenarios' hosts through nsenter, as scripts/connection_plugins/podman.py runs
Ansible's tasks (and with its kept init PIDs).

Molecule's inventories name the connection `podman`, which testinfra's Ansible backend does not know: it then runs
every `host.run`, `host.file` and `host.service` as a whole `ansible` ad-hoc command, seconds of CPU each on a loaded
2-core machine, and the tests poll. `install()` gives such hosts a backend that enters the container's namespaces
directly; `host.ansible(...)` still goes through Ansible. Without root or nsenter nothing changes.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import testinfra.host
from testinfra.backend import base
from testinfra.utils import ansible_runner

PLUGIN = Path(__file__).resolve().parent.parent / "scripts" / "connection_plugins" / "podman.py"
# podman exec's exit code when the container is not running. (testinfra's Ansible backend raised instead: a test that
# polls a host while it is stopped now reads a failed command.)
NOT_RUNNING = 125


@cache
def plugin() -> ModuleType:
    """The connection plugin, for its PID cache and environment helpers (one implementation of both)."""
    spec = importlib.util.spec_from_file_location("birtha_podman_connection", PLUGIN)
    assert spec and spec.loader, PLUGIN
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def init_pid(name: str) -> int | None:
    """The running container's init PID (the plugin's init_pid, asking the podman CLI); None when it is not running."""

    def inspect() -> tuple[int, str]:
        argv = ["podman", "inspect", "--format", plugin().INSPECT_FORMAT, name]
        answer = subprocess.run(argv, capture_output=True, text=True, check=False)
        return answer.returncode, answer.stdout

    return plugin().init_pid(name, inspect)


class NsenterBackend(base.BaseBackend):
    NAME = "birtha_nsenter"

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name = name
        super().__init__(name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        pid = init_pid(self.name)
        if pid is None:
            return self.result(NOT_RUNNING, self.encode(cmd), b"", f"container {self.name} is not running".encode())
        try:
            environment = plugin().init_environment(pid)
        except OSError:
            return self.result(NOT_RUNNING, self.encode(cmd), b"", f"container {self.name} is not running".encode())
        argv = [*plugin().nsenter_argv(pid, environment), "/bin/sh", "-c", cmd]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        # Ansible's shell module ends both without their last newline: what the tests were written against.
        return self.result(done.returncode, self.encode(cmd), done.stdout.rstrip(b"\r\n"), done.stderr.rstrip(b"\r\n"))


def usable() -> bool:
    return os.geteuid() == 0 and os.path.exists(plugin().NSENTER)


def install() -> None:
    """Route the podman hosts of testinfra's Ansible backend through NsenterBackend (once per process)."""
    original = ansible_runner.get_ansible_host
    if getattr(original, "birtha_nsenter", False) or not usable():
        return

    def get_ansible_host(config: Any, inventory: Any, host: str, **kwargs: Any) -> testinfra.host.Host | None:
        hostvars = inventory.get("_meta", {}).get("hostvars", {}).get(host, {})
        if hostvars.get("ansible_connection") == "podman":
            return testinfra.host.Host(NsenterBackend(hostvars.get("ansible_host", host)))
        return original(config, inventory, host, **kwargs)

    get_ansible_host.birtha_nsenter = True  # type: ignore[attr-defined]
    ansible_runner.get_ansible_host = get_ansible_host
