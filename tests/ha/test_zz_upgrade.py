"""playbooks/upgrade_mlflow.yml on the three MLflow servers (molecule/ha; runs last, after the failover: the
inventory's MLflow hosts converged the version before the role's default, molecule/ha/host_vars, and the upgrade
leaves them newer than the inventory says). --check and a run without upgrade_confirm change nothing; the upgrade
takes a verified backup set, installs the new version everywhere, upgrades the schemas once on the primary, wherever
it is now, and starts every server, each back in the proxy and answering with the new version; the data is unchanged
and the health check's round trip passes; a second run changes nothing."""

from __future__ import annotations

import os

import yaml
from conftest import MEMBERS, cluster, leader_of, sql
from runbook_harness import PLAYBOOKS, REPO_ROOT, health_report, not_ok_on, other_host, platform_data

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]

SETS_HOST = "birtha-ha-proxy"  # the proxy and the backup sets (molecule/ha/molecule.yml); MLflow runs on MEMBERS
SETS = "/var/backups/mlflow/sets"
EXPERIMENT = "ha-upgrade"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"
TARGET = yaml.safe_load((REPO_ROOT / "roles" / "mlflow_server" / "defaults" / "main.yml").read_text())[
    "mlflow_server_version"
]
# The role's default, from the wheels scripts/molecule.sh built for it (the scenario's host has the previous one's).
UPGRADE = {"mlflow_server_version": TARGET, "mlflow_server_wheel_archive": os.environ.get("BIRTHA_WHEEL_ARCHIVE", "")}


def installed(servers: dict) -> set[str]:
    """The MLflow versions installed in the servers' virtualenvs, as Python imports them."""
    versions = set()
    for server in servers.values():
        answer = server.run(f"{MLFLOW_PYTHON} -c 'import mlflow; print(mlflow.__version__)'")
        assert answer.rc == 0, answer.stderr
        versions.add(answer.stdout.strip())
    return versions


def started_at(servers: dict) -> dict[str, str]:
    return {
        name: server.run("systemctl show -P ActiveEnterTimestampMonotonic mlflow").stdout.strip()
        for name, server in servers.items()
    }


def schema_revision(members) -> str:
    leader = leader_of(cluster(members[MEMBERS[0]]))
    return sql(members[leader], "select version_num from alembic_version")[0]


def said(result, task: str) -> str:
    return " ".join(" ".join(str(r.get("msg", "")) for r in result.task_results(task)).split())


def test_an_upgrade_keeps_the_data_and_runs_the_new_version(host, members, run_playbook):
    previous = os.environ["BIRTHA_MLFLOW_PREVIOUS_VERSION"]
    assert installed(members) == {previous} and previous != TARGET
    platform_data(run_playbook, "generate", "--experiment", EXPERIMENT, "--runs", "20", "--artifacts", "2")
    before = platform_data(run_playbook, "state", "--experiment", EXPERIMENT)
    revision = schema_revision(members)
    started = started_at(members)

    checked = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", UPGRADE, check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    running = ", ".join(f"{previous} on {name}" for name in MEMBERS)
    assert f"MLflow runs {running}; the inventory asks for {TARGET}" in said(checked, "Report what the run does"), (
        checked.stdout[-3000:]
    )
    refused = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", UPGRADE)
    assert refused.rc != 0 and "upgrade_confirm=true" in refused.stdout, refused.stdout[-3000:]
    # Neither stopped, installed or migrated anything.
    assert installed(members) == {previous} and schema_revision(members) == revision
    assert started_at(members) == started

    upgraded = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", {**UPGRADE, "upgrade_confirm": True})
    assert upgraded.rc == 0, upgraded.stdout[-6000:]
    set_id = upgraded.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    assert other_host(host, SETS_HOST).file(f"{SETS}/{set_id}/VERIFIED").exists, "no verified set before the upgrade"
    assert installed(members) == {TARGET}
    # A server refuses to start on a schema other than its own (MLflow's _verify_schema): they run, so it was upgraded.
    assert all(server.service("mlflow").is_running for server in members.values())
    assert schema_revision(members) != revision
    assert platform_data(run_playbook, "state", "--experiment", EXPERIMENT) == before
    # MLflow writes a run and an artifact and reads them back on the new version.
    # And every server is back in the proxy.
    report = health_report(run_playbook, UPGRADE)
    assert all(not not_ok_on(report, name) for name in MEMBERS), [not_ok_on(report, name) for name in MEMBERS]

    again = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", {**UPGRADE, "upgrade_confirm": True})
    assert (again.rc, again.changed()) == (0, 0), again.stdout[-4000:]
    # The server's own answer (GET /version), as the playbook reads it.
    running = ", ".join(f"{TARGET} on {name}" for name in MEMBERS)
    assert f"MLflow runs {running}; the inventory asks for {TARGET}. Nothing to do." in said(
        again, "Report what the run does"
    ), again.stdout[-3000:]
