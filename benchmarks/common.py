"""What every benchmark does: run a playbook through ansible-runner, add up the durations of the tasks that do
the work, and replace its own section of benchmarks/RESULTS.md."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


@dataclass
class Played:
    """A finished playbook run: its events and its wall time."""

    events: list[dict[str, Any]]
    seconds: float
    stdout: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def result(self, task: str) -> dict[str, Any]:
        for event in self.events:
            data = event.get("event_data", {})
            if event.get("event") in ("runner_on_ok", "runner_on_changed") and data.get("task") == task:
                return data["res"]
        raise SystemExit(f"no result for task {task!r}")

    def task_seconds(self, tasks: tuple[str, ...]) -> float:
        """Seconds the named tasks took; a name that matches no task that ran is an error (a renamed task would
        otherwise count as zero and skew the ratio)."""
        total = 0.0
        seen: set[str] = set()
        for event in self.events:
            data = event.get("event_data", {})
            if event.get("event") == "runner_on_ok" and data.get("task") in tasks:
                total += float(data.get("duration") or 0)
                seen.add(data["task"])
        missing = set(tasks) - seen
        if missing:
            raise RuntimeError(f"no task ran named {sorted(missing)}")
        return total

    def stat(self, name: str) -> Any:
        for event in self.events:
            if event.get("event") == "playbook_on_stats":
                return event["event_data"].get("artifact_data", {}).get(name)
        return None

    def changed(self) -> int:
        for event in self.events:
            if event.get("event") == "playbook_on_stats":
                return sum(event["event_data"].get("changed", {}).values())
        return -1


def run(
    playbook: Path,
    inventory: str,
    extravars: dict[str, Any] | None = None,
    envvars: dict[str, str] | None = None,
    limit: str | None = None,
) -> Played:
    """Run a playbook; exit with its output's tail when it fails."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as private:
        runner = ansible_runner.run(
            private_data_dir=private,
            playbook=str(playbook),
            inventory=inventory,
            extravars=extravars or {},
            envvars={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), **(envvars or {})},
            limit=limit,
            quiet=True,
        )
        events = list(runner.events)
        stdout = runner.stdout.read() if runner.stdout else ""
    if runner.rc != 0:
        sys.exit(f"{playbook.name} failed (rc {runner.rc}):\n{stdout[-4000:]}")
    return Played(events, time.monotonic() - start, stdout)


def inventory_path(argv: list[str]) -> str:
    return str((ROOT / (argv[1] if len(argv) > 1 else "inventories/sandbox")).resolve())


def provenance(script: str) -> str:
    """When, at which commit and on what machine a measurement was taken."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown CPU",
    )
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC at commit {commit} by `{script}` on "
        f"{os.cpu_count()} cores ({cpu}), {memory_gib:.0f} GiB, the sandbox host (podman, Debian 12, "
        f"{sandbox_zip_cache()})"
    )


def sandbox_zip_cache() -> str:
    """Whether the sandbox keeps compiled zip imports (scripts/build-host-layer.sh), which makes Ansible's module runs
    cheaper than on a stock host."""
    name = os.environ.get("SANDBOX_NAME", "birtha-sandbox")
    hook = "/usr/lib/python3/dist-packages/birtha_zipimport_cache.pth"
    try:
        found = subprocess.run(["podman", "exec", name, "test", "-e", hook], capture_output=True, check=False)
    except OSError:
        return "zip import cache unknown"
    return "with the zip import cache" if found.returncode == 0 else "without the zip import cache"


def write_section(heading: str, text: str) -> None:
    """Replace the section starting at heading (up to the next '## ') in RESULTS.md, or append it."""
    previous = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    head, found, rest = previous.partition(heading)
    tail = rest[rest.find("\n## ") + 1 :] if found and "\n## " in rest else ""
    RESULTS.write_text(head.rstrip() + "\n\n" + text.strip() + "\n" + ("\n" + tail if tail else ""))
