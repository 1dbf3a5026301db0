# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""A tier's measurements against its warning levels: one finding per check, in plain words (platform_metrics, and
the monitoring role that reports them)."""

from __future__ import annotations

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import human_bytes


def finding(tier: str, check: str, warn: bool, detail: str, **extra: Any) -> dict[str, Any]:
    return {"tier": tier, "check": check, "status": "warn" if warn else "ok", **extra, "detail": detail}


def level_set(level: float | None) -> bool:
    return bool(level) and level > 0


def disk_findings(tier: str, disks: list[dict[str, Any]], level: float | None) -> list[dict[str, Any]]:
    findings = []
    for disk in disks:
        path = disk["path"]
        if not disk.get("exists"):
            findings.append(finding(tier, "data_dir", True, f"data directory {path} does not exist", subject=path))
            continue
        if not level_set(level):
            continue
        used = disk["used_percent"]
        state = "at or above" if used >= level else "below"
        findings.append(
            finding(
                tier,
                "disk",
                used >= level,
                f"filesystem {disk['mount']} of {path} is {used}% full ({human_bytes(disk['free_bytes'])} free), "
                f"{state} the warning level of {level:g}%",
                subject=path,
                value=used,
                threshold=level,
            )
        )
    return findings


def connection_findings(tier: str, connections: dict[str, Any] | None, level: float | None) -> list[dict[str, Any]]:
    if not connections or not level_set(level):
        return []
    used = connections["used_percent"]
    state = "at or above" if used >= level else "below"
    return [
        finding(
            tier,
            "connections",
            used >= level,
            f"{connections['total']} of {connections['max']} connections in use ({used}%), {state} the warning "
            f"level of {level:g}%",
            value=used,
            threshold=level,
        )
    ]


def archive_findings(tier: str, archiving: dict[str, Any] | None, level: int | None) -> list[dict[str, Any]]:
    """Where PostgreSQL archives its WAL: behind by more than the level, or its last attempt failed."""
    if not archiving or not level_set(level):
        return []
    lag, failing = archiving["lag_seconds"], archiving["failing"]
    detail = f"WAL archive {lag} s behind (warning level {level} s)"
    if failing:
        detail += (
            f"; the last attempt failed ({archiving.get('last_failed_wal')} at {archiving.get('last_failed_time')})"
        )
    return [finding(tier, "archiving", lag > level or failing, detail, value=lag, threshold=level)]


def size_findings(tier: str, check: str, kind: str, sizes: dict[str, int], level: int | None) -> list[dict[str, Any]]:
    if not level_set(level):
        return []
    findings = []
    for name, size in sorted(sizes.items()):
        state = "above" if size > level else "within"
        findings.append(
            finding(
                tier,
                check,
                size > level,
                f"{kind} {name} is {human_bytes(size)}, {state} the warning level of {human_bytes(level)}",
                subject=name,
                value=size,
                threshold=level,
            )
        )
    return findings


def evaluate(metrics: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings of one tier's metrics: what could not be measured first, then each check against its level."""
    tier = metrics["tier"]
    findings = [finding(tier, problem["check"], True, problem["detail"]) for problem in metrics.get("problems", [])]
    findings += disk_findings(tier, metrics.get("disks", []), thresholds.get("disk_used_percent"))
    findings += connection_findings(tier, metrics.get("connections"), thresholds.get("connections_used_percent"))
    findings += archive_findings(tier, metrics.get("archiving"), thresholds.get("archive_lag_seconds"))
    findings += size_findings(
        tier, "database_size", "database", metrics.get("databases", {}), thresholds.get("database_size_bytes")
    )
    bucket_sizes = {name: usage["size_bytes"] for name, usage in metrics.get("buckets", {}).items()}
    findings += size_findings(tier, "bucket_size", "bucket", bucket_sizes, thresholds.get("bucket_size_bytes"))
    return findings
