"""How per-host health results become one report and a troubleshooting plan (filters health_report and
troubleshoot_plan)."""

from __future__ import annotations

from ansible_collections.birtha.mlflow.plugins.filter.health_report import health_report
from ansible_collections.birtha.mlflow.plugins.filter.troubleshoot_plan import troubleshoot_plan

GROUPS = {"mlflow_db": ["db"], "mlflow_artifacts": ["s3"], "mlflow_tracking": ["app"]}


def check(tier: str, name: str, status: str = "ok", **data) -> dict:
    return {"tier": tier, "check": name, "status": status, "detail": f"{name} {status}", "fix": "", "data": data}


def host(tier: str, *checks: dict, journal: list[str] | None = None) -> dict:
    return {"unreachable": False, "tiers": {tier: {"checks": list(checks), "journal": journal or []}}}


def healthy_results() -> dict:
    return {
        "db": host("postgres", check("postgres", "service"), check("postgres", "pg_isready")),
        "s3": host("minio", check("minio", "service"), check("minio", "live")),
        "app": host("mlflow", check("mlflow", "service"), check("mlflow", "health"), check("mlflow", "db_credentials")),
    }


def test_all_ok_is_healthy_with_one_line_per_tier():
    report = health_report(healthy_results(), GROUPS)
    assert report["status"] == "healthy"
    assert report["summary"][0].startswith("Platform HEALTHY")
    assert [line.split()[1] for line in report["summary"][1:]] == ["postgres", "minio", "mlflow"]


def test_failures_come_in_dependency_order_with_fix_and_journal():
    results = healthy_results()
    results["app"] = host("mlflow", check("mlflow", "api", "fail"), journal=["connection refused"])
    results["db"] = host("postgres", check("postgres", "service", "fail", unit="postgresql@15-main", installed=True))
    report = health_report(results, GROUPS)
    assert report["status"] == "unhealthy"
    assert [(c["tier"], c["check"]) for c in report["failed"]] == [("postgres", "service"), ("mlflow", "api")]
    assert "First failure in dependency order: postgres on db, service" in report["summary"]
    assert any("journal: connection refused" in line for line in report["summary"])
    assert report["failed_labels"][0].startswith("postgres @ db, service")


def test_warnings_alone_are_degraded():
    results = healthy_results()
    results["db"] = host("postgres", check("postgres", "connections", "warn"))
    assert health_report(results, GROUPS)["status"] == "degraded"


def test_missing_tier_unreachable_and_unchecked_hosts_are_failures():
    groups = {"mlflow_db": ["db", "ghost"], "mlflow_tracking": ["app", "limited"]}
    results = healthy_results()
    results["ghost"] = {"unreachable": True, "msg": "Failed to connect\n to the host"}
    report = health_report(results, groups)
    failed = {(c["tier"], c["host"], c["check"]): c["detail"] for c in report["failed"]}
    assert "no hosts in group mlflow_artifacts" in failed[("minio", "-", "inventory")]
    assert failed[("postgres", "ghost", "reachable")] == "the host cannot be reached: Failed to connect to the host"
    assert "not checked" in failed[("mlflow", "limited", "checked")]


def test_plan_restarts_only_what_is_down_in_scope():
    results = healthy_results()
    results["db"] = host("postgres", check("postgres", "service", "fail"))
    report = health_report(results, GROUPS)
    assert troubleshoot_plan(report, "database_connection")["actions"]["restart_postgres"] is True
    # Artifact storage troubleshooting does not touch PostgreSQL.
    artifact = troubleshoot_plan(report, "artifact_storage")["actions"]
    assert artifact["restart_postgres"] is False and not any(artifact.values())


def test_plan_reapplies_credentials_only_when_the_other_side_is_up():
    results = healthy_results()
    results["app"] = host("mlflow", check("mlflow", "db_credentials", "fail", cause="credentials"))
    plan = troubleshoot_plan(health_report(results, GROUPS), "database_connection")
    assert plan["actions"]["reapply_db_credentials"] is True
    assert any("postgres_server" in line for line in plan["plan"])
    results["db"] = host("postgres", check("postgres", "service", "fail"))
    down = troubleshoot_plan(health_report(results, GROUPS), "database_connection")["actions"]
    # PostgreSQL down explains the refused login; restart it, do not rewrite passwords.
    assert down["restart_postgres"] is True and down["reapply_db_credentials"] is False


def test_plan_for_a_rotated_minio_secret_and_a_missing_bucket():
    results = healthy_results()
    results["app"] = host("mlflow", check("mlflow", "s3_credentials", "fail", cause="credentials"))
    actions = troubleshoot_plan(health_report(results, GROUPS), "artifact_storage")["actions"]
    assert actions["reapply_s3_credentials"] and not actions["reapply_bucket"]
    results["app"] = host("mlflow", check("mlflow", "s3_credentials", "fail", cause="bucket"))
    plan = troubleshoot_plan(health_report(results, GROUPS), "mlflow_unavailable")
    assert not plan["actions"]["reapply_bucket"] and any("restore.yml" in line for line in plan["plan"])


def test_a_check_that_could_not_run_is_a_failure_naming_why():
    results = healthy_results()
    results["db"] = {"tiers": {"postgres": {"failed": True, "msg": "Missing sudo password"}}}
    failed = health_report(results, GROUPS)["failed"]
    assert failed[0]["check"] == "checked" and "Missing sudo password" in failed[0]["detail"]


def test_results_of_an_earlier_round_are_not_current():
    results = {host: {**result, "round": "2"} for host, result in healthy_results().items()}
    results["db"]["round"] = "1"  # the host dropped out of the play before the second round
    report = health_report(results, GROUPS, current_round="2")
    assert [(c["host"], c["check"]) for c in report["failed"]] == [("db", "checked")]
    limited = health_report(results, GROUPS, current_round="2", limit="s3,app,localhost")
    assert limited["status"] == "healthy"
    assert any(line.startswith("SKIP postgres @ db") for line in limited["summary"])


def test_a_missing_bucket_is_recreated_only_on_request():
    results = healthy_results()
    results["app"] = host("mlflow", check("mlflow", "s3_credentials", "fail", cause="bucket"))
    report = health_report(results, GROUPS)
    plan = troubleshoot_plan(report, "artifact_storage")
    assert not plan["actions"]["reapply_bucket"] and "troubleshoot_recreate_bucket=true" in plan["plan"][-1]
    assert plan["actions"]["check_storage_permissions"]
    assert troubleshoot_plan(report, "artifact_storage", True)["actions"]["reapply_bucket"]
    assert not troubleshoot_plan(health_report(healthy_results(), GROUPS), "artifact_storage")["plan"]


def test_a_seaweedfs_platform_is_planned_with_its_own_checks_and_role():
    groups = {**GROUPS}
    tiers = {"postgres": "mlflow_db", "seaweedfs": "mlflow_artifacts", "mlflow": "mlflow_tracking"}
    results = healthy_results()
    results["s3"] = host("seaweedfs", check("seaweedfs", "service", "fail"), check("seaweedfs", "master", "fail"))
    report = health_report(results, groups, tiers)
    tier_lines = [line.split()[1] for line in report["summary"][1:] if line.startswith(("OK ", "FAIL ", "WARN "))]
    assert tier_lines == ["postgres", "seaweedfs", "mlflow"], report["summary"]
    plan = troubleshoot_plan(report, "artifact_storage")
    assert plan["store"] == "seaweedfs"
    assert plan["actions"]["restart_store"] and plan["actions"]["check_storage_permissions"]
    assert plan["plan"][0] == "restart SeaweedFS where it is down, and wait until it is ready"
    assert any(line.startswith("SeaweedFS master on s3: PROBLEM") for line in plan["findings"]), plan["findings"]
    results["s3"] = host("seaweedfs", check("seaweedfs", "service"))
    results["app"] = host("mlflow", check("mlflow", "s3_credentials", "fail", cause="credentials"))
    fixed = troubleshoot_plan(health_report(results, groups, tiers), "artifact_storage")
    assert fixed["actions"]["reapply_s3_credentials"]
    assert any("(seaweedfs_server)" in line for line in fixed["plan"]), fixed["plan"]


def test_without_a_store_tier_the_plan_falls_back_to_minio_and_labels_the_store_by_engine():
    report = health_report({"db": healthy_results()["db"]}, {"mlflow_db": ["db"]}, {"postgres": "mlflow_db"})
    assert troubleshoot_plan(report, "mlflow_unavailable")["store"] == "minio"
    results = healthy_results()
    results["s3"] = host("seaweedfs", check("seaweedfs", "service", "fail"))
    tiers = {"postgres": "mlflow_db", "seaweedfs": "mlflow_artifacts", "mlflow": "mlflow_tracking"}
    plan = troubleshoot_plan(health_report(results, GROUPS, tiers), "mlflow_unavailable")
    assert any(line.startswith("SeaweedFS service on s3: PROBLEM") for line in plan["findings"]), plan["findings"]
    assert plan["actions"]["restart_store"]


def test_the_proxy_comes_last_in_dependency_order():
    groups = {**GROUPS, "mlflow_proxy": ["lb"]}
    results = healthy_results()
    results["lb"] = host("proxy", check("proxy", "servers", "fail"))
    results["app"] = host("mlflow", check("mlflow", "health", "fail"))
    tier_groups = {
        "postgres": "mlflow_db",
        "minio": "mlflow_artifacts",
        "mlflow": "mlflow_tracking",
        "proxy": "mlflow_proxy",
    }
    report = health_report(results, groups, dict(reversed(tier_groups.items())))
    assert [c["tier"] for c in report["failed"]] == ["mlflow", "proxy"]
    assert [line.split()[1] for line in report["summary"] if line.startswith(("OK", "FAIL"))] == [
        "postgres",
        "minio",
        "mlflow",
        "proxy",
    ]
