# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Turn every host's health checks into one report: what is wrong, where, in dependency order."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
name: health_report
short_description: Combine per-host health checks into one platform report with a readable summary
version_added: 0.4.0
description:
  - Takes each host's C(platform_health_result) (set by the C(birtha.mlflow.platform_health) role) and the
    inventory's groups, and returns one report. Tiers come in dependency order (PostgreSQL, the artifact store
    (MinIO or SeaweedFS), MLflow, the proxy), so
    the first failure listed is the likeliest cause of the others.
  - A tier whose group is missing or empty, a host that could not be reached, and a host that was never checked
    each become a failed check of their own, so the report says so instead of a traceback.
options:
  _input:
    description: Host name to that host's C(platform_health_result) (hosts without one may be left out).
    type: dict
    required: true
  groups:
    description: The inventory's C(groups).
    type: dict
    required: true
  tier_groups:
    description: Tier name to the inventory group holding it.
    type: dict
    default: {postgres: mlflow_db, minio: mlflow_artifacts, mlflow: mlflow_tracking}
  current_round:
    description:
      - The round of checks this report is about (C(platform_health_round)). A host whose result is from another
        round (it dropped out of the play later) counts as not checked. Empty to take every result.
    type: str
    default: ""
  limit:
    description: The run's C(--limit); hosts left out by it are skipped in the report instead of failing.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: >-
      {{ dict(groups['all'] | zip(groups['all'] | map('extract', hostvars, 'platform_health_result')))
         | birtha.mlflow.health_report(groups) }}
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    status:
      description: V(healthy), V(degraded) (warnings only) or V(unhealthy).
      type: str
    generated_at:
      description: UTC time of the report.
      type: str
    checks:
      description: Every check with C(tier), C(host), C(check), C(status), C(detail), C(fix) and C(data).
      type: list
    failed:
      description: The failed checks, in dependency order.
      type: list
    failed_labels:
      description: One line per failed check (tier, host, check, detail), for a failure message.
      type: list
    warnings:
      description: The checks that warn.
      type: list
    journal:
      description: Host and tier to the last journal lines of a failing tier's service (redacted).
      type: dict
    summary:
      description: The report as lines of text for a terminal.
      type: list
"""

TIER_ORDER = ("postgres", "minio", "seaweedfs", "mlflow", "proxy")
DEFAULT_TIER_GROUPS = {"postgres": "mlflow_db", "minio": "mlflow_artifacts", "mlflow": "mlflow_tracking"}
TIER_NAMES = {
    "postgres": "PostgreSQL",
    "minio": "MinIO",
    "seaweedfs": "SeaweedFS",
    "mlflow": "MLflow",
    "proxy": "HAProxy",
}


def _check(tier: str, host: str, name: str, status: str, detail: str, fix: str = "") -> dict[str, Any]:
    return {"tier": tier, "host": host, "check": name, "status": status, "detail": detail, "fix": fix, "data": {}}


def host_checks(
    tier: str, host: str, result: Mapping[str, Any] | None, current: str = "", limit: str = ""
) -> tuple[list[dict[str, Any]], list[str]]:
    """(checks, journal lines) of one tier on one host, from its platform_health_result of this round."""
    if not result or (current and str(result.get("round", "")) != current):
        if limit:
            return [_check(tier, host, "checked", "skip", f"not in this run (--limit {limit})")], []
        # A host that dropped out of the play (a failed task) keeps its earlier result: it is not current.
        detail = "the host was not checked in this run (it failed or was left out earlier in the playbook)"
        return [_check(tier, host, "checked", "fail", detail)], []
    if result.get("unreachable"):
        reason = " ".join(str(result.get("msg") or "no answer").split())[:300]
        fix = "check the host is up and reachable (ansible -m ping)"
        return [_check(tier, host, "reachable", "fail", f"the host cannot be reached: {reason}", fix)], []
    tier_result = (result.get("tiers") or {}).get(tier)
    if tier_result is None:
        return [_check(tier, host, "checked", "fail", "no result for this tier from the host")], []
    if tier_result.get("failed"):
        detail = "the check itself failed: " + " ".join(str(tier_result.get("msg", "")).split())[:300]
        return [_check(tier, host, "checked", "fail", detail)], []
    checks = [{**check, "host": host} for check in tier_result.get("checks", [])]
    return checks, list(tier_result.get("journal") or [])


def collect(
    results: Mapping[str, Any],
    groups: Mapping[str, list[str]],
    tier_groups: Mapping[str, str],
    current: str = "",
    limit: str = "",
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    checks: list[dict[str, Any]] = []
    journal: dict[str, list[str]] = {}
    for tier in sorted(tier_groups, key=lambda t: TIER_ORDER.index(t) if t in TIER_ORDER else len(TIER_ORDER)):
        group = tier_groups[tier]
        hosts = list(groups.get(group) or [])
        if not hosts:
            detail = f"the inventory has no hosts in group {group}, so there is no {TIER_NAMES.get(tier, tier)} tier"
            checks.append(_check(tier, "-", "inventory", "fail", detail, f"add the {group} group to the inventory"))
            continue
        for host in hosts:
            found, lines = host_checks(tier, host, results.get(host), current, limit)
            checks += found
            if lines:
                journal[f"{tier}@{host}"] = lines
    return checks, journal


def overall(checks: list[dict[str, Any]]) -> str:
    statuses = {check["status"] for check in checks}
    if "fail" in statuses:
        return "unhealthy"
    return "degraded" if "warn" in statuses else "healthy"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """One line per tier and host when all is well; each failing or warning check spelled out."""
    failed, warned = report["failed"], report["warnings"]
    head = {
        "healthy": "Platform HEALTHY: every check passed",
        "degraded": f"Platform DEGRADED: {len(warned)} warning(s), nothing failed",
        "unhealthy": f"Platform UNHEALTHY: {len(failed)} check(s) failed, {len(warned)} warning(s)",
    }[report["status"]]
    lines = [head]
    if failed:
        first = failed[0]
        lines.append(f"First failure in dependency order: {first['tier']} on {first['host']}, {first['check']}")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for check in report["checks"]:
        groups.setdefault((check["tier"], check["host"]), []).append(check)
    for (tier, host), checks in groups.items():
        bad = [c for c in checks if c["status"] in ("fail", "warn")]
        passed = [c["check"] for c in checks if c["status"] == "ok"]
        label = "FAIL" if any(c["status"] == "fail" for c in bad) else "WARN" if bad else "OK" if passed else "SKIP"
        lines.append(f"{label:<5}{tier} @ {host}" + (f"  (ok: {', '.join(passed)})" if passed else ""))
        if label == "SKIP":
            lines += [f"     {c['check']}: {c['detail']}" for c in checks]
        for check in bad:
            lines.append(f"     {check['status'].upper()} {check['check']}: {check['detail']}")
            if check.get("fix"):
                lines.append(f"          fix: {check['fix']}")
        for line in report["journal"].get(f"{tier}@{host}", [])[-5:]:
            lines.append(f"          journal: {line}")
    return lines


def health_report(
    results: Mapping[str, Any],
    groups: Mapping[str, list[str]],
    tier_groups: Mapping[str, str] | None = None,
    current_round: Any = "",
    limit: str = "",
) -> dict[str, Any]:
    current = str(current_round or "")
    checks, journal = collect(results or {}, groups, dict(tier_groups or DEFAULT_TIER_GROUPS), current, limit or "")
    report: dict[str, Any] = {
        "status": overall(checks),
        "generated_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "checks": checks,
        "failed": [c for c in checks if c["status"] == "fail"],
        "warnings": [c for c in checks if c["status"] == "warn"],
        "journal": journal,
    }
    report["failed_labels"] = [
        f"{c['tier']} @ {c['host']}, {c['check']}: {c['detail'][:160]}" for c in report["failed"]
    ]
    report["summary"] = summary_lines(report)
    return report


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"health_report": health_report}
