"""Helpers for running playbooks against a running platform and reading what they did."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = REPO_ROOT / "playbooks"
PLATFORM_DATA = REPO_ROOT / "benchmarks" / "playbooks" / "platform_data.yml"


def credentials_dir(inventory: str | None = None) -> Path:
    """The inventories' platform_credentials_dir: .credentials/<inventory directory name> beside the inventory's
    directory - by default the inventory Molecule just converged."""
    path = Path(inventory or os.environ["MOLECULE_INVENTORY_FILE"]).resolve()
    inventory_dir = path if path.is_dir() else path.parent
    return inventory_dir.parent / ".credentials" / inventory_dir.name


def inventory_listing(inventory: str) -> dict[str, Any]:
    """What ansible-inventory --list says of an inventory: its groups and each host's variables."""
    listing = subprocess.run(
        ["ansible-inventory", "-i", inventory, "--list"], check=True, capture_output=True, text=True
    )
    return json.loads(listing.stdout)


def connection_vars(listing: dict[str, Any], host: str) -> dict[str, Any]:
    """How the scenario's inventory reaches a host (its ansible_* variables)."""
    return {k: v for k, v in listing["_meta"]["hostvars"][host].items() if k.startswith("ansible_")}


def derived_inventory(
    inventory: str, directory: Path, hosts: dict[str, dict[str, Any]], groups: dict[str, list[str]]
) -> tuple[str, str]:
    """An inventory of these hosts (name: variables) and groups, with the scenario inventory's group_vars; its file
    and the platform_credentials_dir the scenario's inventory uses (the platform's generated secrets stay there)."""
    children = {group: {"hosts": {member: {} for member in members}} for group, members in groups.items()}
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts, "children": children}}))
    source = Path(inventory)
    (directory / "group_vars").symlink_to((source if source.is_dir() else source.parent) / "group_vars")
    return str(directory / "hosts.yml"), str(credentials_dir(inventory))


# The runner keeps the output as shown, colours and all (ANSIBLE_FORCE_COLOR): read it without them.
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# How the default callback reports a change: for a task, a handler or a loop item ("changed: [host] => ..."), and
# inside a failed (ignored) one's result, censored or not.
CHANGED_LINE = re.compile(r"^changed: \[", re.MULTILINE)
CHANGED_IN_FAILURE = re.compile(r"^\s+changed: true\s*$", re.MULTILINE)


@dataclass
class PlaybookResult:
    rc: int
    status: str
    stats: dict[str, dict[str, int]]
    stdout: str
    events: list[dict[str, Any]]

    def changed(self) -> int:
        return sum(self.stats.get("changed", {}).values())

    def changed_tasks(self) -> list[tuple[str, str]]:
        """(host, "role : task") once for each run of a task or handler on a host that reported a change, failed and
        ignored ones included. The runner censors a no_log result, its "changed" too; the line the output shows for
        it (or for each of its loop items) still says "changed:". Compare the length with changed(), the recap's."""
        found: list[tuple[str, str]] = []
        items_changed: set[tuple[str, str]] = set()
        for event in self.events:
            kind, data = event.get("event") or "", event.get("event_data", {})
            key = (data.get("host", ""), data.get("task_uuid", ""))
            stdout = ANSI_COLOUR.sub("", event.get("stdout") or "")
            said_changed = bool(CHANGED_LINE.search(stdout) or ("failed" in kind and CHANGED_IN_FAILURE.search(stdout)))
            if kind in ("runner_item_on_ok", "runner_item_on_failed"):
                if data.get("res", {}).get("changed") or said_changed:
                    items_changed.add(key)
            elif kind in ("runner_on_ok", "runner_on_failed"):
                if data.get("res", {}).get("changed") or said_changed or key in items_changed:
                    found.append((data["host"], f"{data.get('role') or ''} : {data['task']}"))
                items_changed.discard(key)
        return found

    def failed(self) -> int:
        return sum(self.stats.get("failures", {}).values()) + sum(self.stats.get("dark", {}).values())

    def task_results(self, task_name: str) -> list[dict[str, Any]]:
        """Results of a task per host, or per loop item for a loop, from the runner's event stream."""

        def results(kinds: tuple[str, ...]) -> list[dict[str, Any]]:
            return [
                event["event_data"]["res"]
                for event in self.events
                if event.get("event") in kinds and event.get("event_data", {}).get("task") == task_name
            ]

        per_item = results(("runner_item_on_ok", "runner_item_on_failed"))
        return per_item or results(("runner_on_ok", "runner_on_failed"))

    def stat(self, name: str) -> Any:
        """A value the playbook published with set_stats (per_host: false)."""
        for event in self.events:
            if event.get("event") == "playbook_on_stats":
                return event["event_data"].get("artifact_data", {}).get(name)
        return None


def platform_data(run_playbook: Any, *args: str | int) -> Any:
    """One command of benchmarks/platform_data.py on the platform (generate, state, drop, ...): its JSON answer."""
    result = run_playbook(PLATFORM_DATA, {"data_args": [str(arg) for arg in args]})
    assert result.rc == 0, result.stdout[-4000:]
    return result.stat("platform_data")


def health_report(run_playbook: Any, extravars: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """playbooks/health_check.yml's JSON report (None when the run failed). Its exit code alone says only "not
    unhealthy": a degraded platform, a server out of the proxy say, exits 0 too."""
    with tempfile.TemporaryDirectory() as reports:
        result = run_playbook(
            PLAYBOOKS / "health_check.yml",
            {"platform_health_fail_on_unhealthy": False, "platform_report_dir": reports, **(extravars or {})},
        )
        found = sorted(Path(reports).glob("*.json"))
        return json.loads(found[-1].read_text()) if result.rc == 0 and found else None


def not_ok_on(report: dict[str, Any] | None, host: str) -> list[str]:
    """The report's checks of a host, and the proxy's (which says whether the host's MLflow is back in it), that are
    not ok; ["no report"] without one."""
    if report is None:
        return ["no report"]
    return [
        f"{check['tier']}/{check['check']} on {check['host']}: {check['status']}"
        for check in report["checks"]
        if (check["host"] == host or check["tier"] == "proxy") and check["status"] != "ok"
    ]


def tracking_uri_from_controller(inventory: str) -> str:
    """The first tracking host's MLflow URL as the controller reaches it (container address, or loopback)."""
    data = inventory_listing(inventory)
    host = data["mlflow_tracking"]["hosts"][0]
    hostvars = data["_meta"]["hostvars"].get(host, {})
    port = hostvars.get("platform_mlflow_port", 5000)
    address = subprocess.run(
        ["podman", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", host],
        capture_output=True,
        text=True,
        check=False,  # no container of that name: the host is reached on loopback
    ).stdout.strip()
    return f"http://{address or '127.0.0.1'}:{port}"


def other_host(host: Any, name: str) -> Any:
    """Another host of the scenario, reached the way the testinfra `host` fixture reaches its own."""
    return host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


def files_under(host: Any, path: str) -> list[str]:
    """The files under a directory of a host, relative to it and sorted; none when the directory is absent."""
    found = host.run(f"test ! -e {path} || find {path} -type f -printf '%P\\n'")
    assert found.rc == 0, (host.backend.hostname, path, found.stderr)
    return sorted(found.stdout.splitlines())


def wait_for(what: str, probe, seconds: int, step: float = 1.0):
    """probe() until it returns something true; its last value otherwise fails the test."""
    deadline, value = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {seconds}s (last: {value!r})")


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    """The podman CLI on this controller (the scenarios' hosts are its containers)."""
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=180, check=False)
