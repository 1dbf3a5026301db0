# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""From a health report to one runbook issue's findings in plain words and the safe fixes to apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: troubleshoot_plan
short_description: Findings and safe fixes for one of the runbook's common issues, from a health report
version_added: 0.4.0
description:
  - Reads a report made by P(birtha.mlflow.health_report#filter) and answers, for one of the runbook's
    troubleshooting issues, what the runbook's diagnosis finds (in plain words) and which safe fixes apply.
  - Fixes are restarts of the tiers that are down (in dependency order), and re-applying the inventory's
    configuration where MLflow's credentials are rejected or its bucket is missing. Nothing here deletes data.
options:
  _input:
    description: The health report.
    type: dict
    required: true
  issue:
    description: The runbook issue.
    type: str
    required: true
    choices: [mlflow_unavailable, database_connection, artifact_storage]
  recreate_bucket:
    description:
      - Create a missing artifact bucket (empty). Off by default - an empty store may be a data disk that is not
        mounted, and a new bucket would hide the real one once it is.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Decide what to do about an unavailable MLflow
  ansible.builtin.set_fact:
    plan: "{{ platform_health_report | birtha.mlflow.troubleshoot_plan('mlflow_unavailable') }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    findings:
      description: What the diagnosis found, a line each.
      type: list
    actions:
      description: Which fixes apply (restart_postgres, restart_store, restart_mlflow, reapply_db_credentials,
        reapply_s3_credentials, reapply_bucket, check_storage_permissions).
      type: dict
    store:
      description: The artifact store's tier in the report (V(minio) or V(seaweedfs)), whose role the fixes use.
      type: str
    plan:
      description: The fixes in words, in the order they run.
      type: list
"""

# The artifact store's tier in a report is its engine; "store" in the tables below stands for it.
STORES = ("minio", "seaweedfs")
STORE_NAMES = {"minio": "MinIO", "seaweedfs": "SeaweedFS"}
# The store's checks the artifact_storage diagnosis reads, and the ones that show it serves requests.
STORE_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "minio": (("service", "service"), ("live", "liveness"), ("ready", "readiness"), ("cluster", "cluster quorum")),
    "seaweedfs": (
        ("service", "service"),
        ("live", "S3 gateway"),
        ("master", "master"),
        ("volume", "volume server"),
        ("filer", "filer"),
    ),
}

# Which checks each issue's diagnosis reads (the runbook's commands, as checks), in the order shown.
ISSUE_CHECKS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "mlflow_unavailable": (
        ("mlflow", "service", "MLflow service"),
        ("mlflow", "health", "MLflow /health"),
        ("mlflow", "api", "MLflow API (authenticated search)"),
        ("mlflow", "db_credentials", "PostgreSQL connectivity, as MLflow connects"),
        ("mlflow", "auth_db_credentials", "PostgreSQL connectivity of MLflow's auth database"),
        ("mlflow", "s3_credentials", "artifact store access, as MLflow connects"),
        ("postgres", "service", "PostgreSQL service"),
        ("store", "service", "service"),
    ),
    "database_connection": (
        ("postgres", "service", "PostgreSQL service"),
        ("postgres", "pg_isready", "pg_isready"),
        ("postgres", "select_1", "SELECT 1"),
        ("postgres", "connections", "Connections"),
        ("mlflow", "db_credentials", "MLflow's database credentials and network path"),
        ("mlflow", "auth_db_credentials", "MLflow's auth database credentials and network path"),
        ("mlflow", "api", "MLflow API (reads the database)"),
    ),
    "artifact_storage": (
        ("store", "*", ""),
        ("mlflow", "s3_credentials", "MLflow's S3 credentials and bucket"),
        ("mlflow", "artifacts", "Artifact upload and download through MLflow"),
    ),
}

ARTIFACT_CHECKS = ("artifacts", "s3_credentials")

ISSUE_RESTARTS = {
    "mlflow_unavailable": ("postgres", "store", "mlflow"),
    "database_connection": ("postgres", "mlflow"),
    "artifact_storage": ("store", "mlflow"),
}

LIVENESS = {"postgres": ("service", "pg_isready"), "store": ("service", "live"), "mlflow": ("service", "health")}


def store_tier(report: Mapping[str, Any]) -> str:
    """The artifact store's tier in the report (MinIO when the report has none, as with an external S3)."""
    return next((c["tier"] for c in report["checks"] if c["tier"] in STORES), "minio")


def failing(checks: list[Mapping[str, Any]], tier: str, names: tuple[str, ...]) -> list[Mapping[str, Any]]:
    return [c for c in checks if c["tier"] == tier and c["check"] in names and c["status"] == "fail"]


def causes(checks: list[Mapping[str, Any]], names: tuple[str, ...]) -> set[str]:
    return {str((c.get("data") or {}).get("cause", "")) for c in failing(checks, "mlflow", names)}


def issue_checks(issue: str, store: str) -> list[tuple[str, str, str]]:
    """The issue's (tier, check, label) list with the store's own checks in place of "store"."""
    chosen = []
    for tier, name, label in ISSUE_CHECKS[issue]:
        if tier != "store":
            chosen.append((tier, name, label))
            continue
        for check, words in STORE_CHECKS[store]:
            if name in ("*", check):
                chosen.append((store, check, f"{STORE_NAMES[store]} {words}"))
    return chosen


def findings(report: Mapping[str, Any], issue: str) -> list[str]:
    lines = []
    for tier, name, label in issue_checks(issue, store_tier(report)):
        for check in (c for c in report["checks"] if c["tier"] == tier and c["check"] == name):
            word = {"ok": "OK", "warn": "WARNING", "fail": "PROBLEM", "skip": "not checked"}[check["status"]]
            lines.append(f"{label} on {check['host']}: {word} - {check['detail']}")
    for check in report["checks"]:
        if check["check"] in ("reachable", "inventory", "checked") and check["status"] == "fail":
            lines.append(f"{check['tier']} on {check['host']}: PROBLEM - {check['detail']}")
    return lines


def actions(report: Mapping[str, Any], issue: str, recreate_bucket: bool = False) -> dict[str, bool]:
    checks = report["checks"]
    store = store_tier(report)
    tier_of = {"postgres": "postgres", "store": store, "mlflow": "mlflow"}
    restart = {tier: bool(failing(checks, tier_of[tier], LIVENESS[tier])) for tier in ISSUE_RESTARTS[issue]}
    postgres_up = not failing(checks, "postgres", LIVENESS["postgres"])
    store_up = not failing(checks, store, LIVENESS["store"])
    db_causes = causes(checks, ("db_credentials", "auth_db_credentials"))
    s3_causes = causes(checks, ("s3_credentials",))
    store_serving = tuple(check for check, _words in STORE_CHECKS[store] if check != "cluster")
    return {
        "restart_postgres": restart.get("postgres", False),
        "restart_store": restart.get("store", False),
        "restart_mlflow": restart.get("mlflow", False),
        # With PostgreSQL up, a rejected login or a refused network path is configuration: re-apply it.
        "reapply_db_credentials": issue != "artifact_storage"
        and postgres_up
        and bool(db_causes & {"credentials", "unreachable"}),
        "reapply_s3_credentials": issue != "database_connection" and store_up and "credentials" in s3_causes,
        # An empty store may be an unmounted data disk: a new bucket would hide the real one, so only on request.
        "reapply_bucket": issue != "database_connection" and store_up and "bucket" in s3_causes and recreate_bucket,
        "check_storage_permissions": issue == "artifact_storage"
        and bool(failing(checks, store, store_serving) or failing(checks, "mlflow", ARTIFACT_CHECKS)),
    }


def plan_words(store: str) -> tuple[tuple[str, str], ...]:
    """Each fix in words, in the order they run, naming the store's engine and role."""
    name = STORE_NAMES[store]
    role = f"{store}_server"
    return (
        ("restart_postgres", "restart PostgreSQL where it is down, and wait until it accepts connections"),
        ("restart_store", f"restart {name} where it is down, and wait until it is ready"),
        (
            "reapply_db_credentials",
            "re-apply the inventory's database role, password and access rules (postgres_server); then, if "
            "PostgreSQL still rejects MLflow, MLflow's configuration (mlflow_server, which restarts MLflow)",
        ),
        (
            "reapply_s3_credentials",
            f"reset MLflow's {name} account to the inventory's secret ({role}); then, if {name} still rejects "
            "MLflow, MLflow's configuration (mlflow_server, which restarts MLflow)",
        ),
        (
            "reapply_bucket",
            f"create the missing artifact bucket, empty ({role}); its objects must come from a backup "
            "(playbooks/restore.yml)",
        ),
        (
            "check_storage_permissions",
            f"check that {name}'s user owns everything in its data directories, and give back what it does not own",
        ),
        ("restart_mlflow", "restart MLflow where it is down or hangs, and wait for /health"),
    )


def bucket_advice(store: str) -> str:
    name = STORE_NAMES[store]
    return (
        f"Not done: the artifact bucket is missing. If {name}'s data disk is not mounted, mount it and restart {name}; "
        "if the bucket is really gone, run again with -e troubleshoot_recreate_bucket=true to create it empty, then "
        "restore its objects from a backup (playbooks/restore.yml)."
    )


def troubleshoot_plan(report: Mapping[str, Any], issue: str, recreate_bucket: bool = False) -> dict[str, Any]:
    if issue not in ISSUE_CHECKS:
        raise AnsibleFilterError(f"troubleshoot_plan: issue must be one of {', '.join(ISSUE_CHECKS)}, not {issue!r}")
    store = store_tier(report)
    chosen = actions(report, issue, bool(recreate_bucket))
    plan = [words for key, words in plan_words(store) if chosen[key]]
    if issue != "database_connection" and "bucket" in causes(report["checks"], ARTIFACT_CHECKS) and not recreate_bucket:
        plan.append(bucket_advice(store))
    return {"findings": findings(report, issue), "actions": chosen, "plan": plan, "store": store}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"troubleshoot_plan": troubleshoot_plan}
