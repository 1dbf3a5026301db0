# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Building blocks of the health checks: a check's result, systemd unit state, HTTP probes, disk space.

Each function answers one question in words an on-call engineer can act on; none raises for an
unhealthy platform (the answer is a Check with status fail), so a report always comes back whole.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
WARN = "warn"
FAIL = "fail"
SKIP = "skip"


@dataclass
class Check:
    """One named check of one tier on one host."""

    tier: str
    check: str
    status: str
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UnitState:
    """What systemd says about a unit (systemctl show)."""

    name: str
    load: str
    active: str
    sub: str
    result: str
    restarts: str
    since: str

    @property
    def installed(self) -> bool:
        return self.load not in ("not-found", "")

    @property
    def running(self) -> bool:
        return self.active == "active" and self.sub in ("running", "exited")

    def describe(self) -> str:
        """Plain words: 'running since ...', 'stopped', 'failed (killed by a signal)', ..."""
        if not self.installed:
            return f"{self.name} is not installed (no such systemd unit)"
        if self.running:
            return f"{self.name} is running" + (f" since {self.since}" if self.since else "")
        if self.active == "activating" and self.sub == "auto-restart":
            return f"{self.name} keeps crashing: systemd is restarting it (restarts so far: {self.restarts})"
        if self.active == "activating":
            return f"{self.name} is starting"
        if self.active == "failed":
            return f"{self.name} has failed ({_RESULT_WORDS.get(self.result, self.result)})"
        if self.active == "deactivating" and self.result not in ("", "success"):
            return f"{self.name} died ({_RESULT_WORDS.get(self.result, self.result)}); systemd is still stopping it"
        if self.active == "deactivating":
            return f"{self.name} is stopping"
        return f"{self.name} is stopped ({self.active}/{self.sub})"


_RESULT_WORDS = {
    "signal": "killed by a signal",
    "core-dump": "crashed with a core dump",
    "exit-code": "exited with an error",
    "timeout": "timed out",
    "oom-kill": "killed by the out-of-memory killer",
    "start-limit-hit": "restarted too often; systemd gave up",
    "watchdog": "watchdog timeout",
}

_SHOW_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "NRestarts", "ActiveEnterTimestamp")


def unit_state(run_command: Any, unit: str, systemctl: str | None = None) -> UnitState:
    """The unit's state (systemctl: the tool's path, found on PATH when not given); a host without systemd answers
    as 'not installed'."""
    systemctl = systemctl or shutil.which("systemctl")
    if systemctl is None:
        return UnitState(unit, "", "", "", "", "", "")
    rc, out, _err = run_command([systemctl, "show", unit, "--property=" + ",".join(_SHOW_PROPERTIES)])
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line) if rc == 0 else {}
    return UnitState(
        name=unit,
        load=values.get("LoadState", ""),
        active=values.get("ActiveState", ""),
        sub=values.get("SubState", ""),
        result=values.get("Result", ""),
        restarts=values.get("NRestarts", ""),
        since=values.get("ActiveEnterTimestamp", ""),
    )


def service_check(tier: str, state: UnitState, fix: str) -> Check:
    status = OK if state.running else FAIL
    data = {"unit": state.name, "installed": state.installed, "active": state.active, "sub": state.sub}
    return Check(tier, "service", status, state.describe(), "" if status == OK else fix, data)


def journal_tail(run_command: Any, unit: str, lines: int) -> list[str]:
    """The unit's last journal lines (message text only), for a failing check; empty when unreadable."""
    journalctl = shutil.which("journalctl")
    if journalctl is None or lines <= 0:
        return []
    rc, out, _err = run_command([journalctl, "--unit", unit, "--no-pager", "--lines", str(lines), "--output", "cat"])
    return out.splitlines()[-lines:] if rc == 0 else []


# --- words and disks (shared with platform_metrics and postgres_activity) ---------------------------------


def human_bytes(size: float) -> str:
    """1536 -> '1.5 KiB' (binary units, as df -h and mc print them)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover - the loop returns


def percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def disk_usage(path: str) -> dict[str, Any]:
    """The filesystem holding path, as df counts it: used = total - free blocks, free = what a non-root user
    may still write, used percent = used / (used + free)."""
    if not os.path.isdir(path):
        return {"path": path, "exists": False}
    stat = os.statvfs(path)
    total = stat.f_blocks * stat.f_frsize
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    free = stat.f_bavail * stat.f_frsize
    return {
        "path": path,
        "exists": True,
        "mount": mount_point(path),
        "total_bytes": total,
        "used_bytes": used,
        "free_bytes": free,
        "used_percent": percent(used, used + free),
    }


def disk_check(tier: str, path: str, warn_percent: int, fail_percent: int) -> Check:
    """Free space of the filesystem holding path: a full disk stops PostgreSQL and MinIO writes."""
    usage = disk_usage(path)
    if not usage["exists"]:
        return Check(tier, f"disk {path}", SKIP, f"{path} does not exist on this host")
    used = usage["used_percent"]
    detail = f"{path}: {used}% used, {human_bytes(usage['free_bytes'])} free"
    data = {key: usage[key] for key in ("path", "used_percent", "free_bytes", "total_bytes")}
    if used >= fail_percent:
        return Check(tier, f"disk {path}", FAIL, detail, f"free space on the filesystem of {path}", data)
    if used >= warn_percent:
        return Check(tier, f"disk {path}", WARN, detail, f"free space on the filesystem of {path} soon", data)
    return Check(tier, f"disk {path}", OK, detail, "", data)


def error_text(body: bytes | str, limit: int = 300) -> str:
    """The useful part of an error response: MLflow's JSON message or S3's XML code, else the start."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, dict):
        parsed = parsed.get("message") or parsed.get("error_code") or parsed
    return one_line(str(parsed), limit)


def one_line(text: str, limit: int = 300) -> str:
    """text on one line, without SQLAlchemy's link to its error catalogue, cut at limit characters."""
    text = _BACKGROUND.sub("", text)
    return " ".join(text.split())[:limit]


_BACKGROUND = re.compile(r"\(Background on this error at: [^)]*\)")


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines of a systemd EnvironmentFile (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip().strip('"')
    return values
