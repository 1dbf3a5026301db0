"""playbooks/upgrade_mlflow.yml on the cluster (molecule/ha; runs last, after the failover: the inventory's MLflow
host converged the version before the role's default, molecule/ha/host_vars, and the upgrade leaves it newer than the
inventory says). --check and a run without upgrade_confirm change nothing; the upgrade takes a verified backup set,
installs the new version, upgrades the schemas on the primary, wherever it is now, and starts MLflow, which answers
with the new version; the data is unchanged and the health check's round trip passes; a second run changes
nothing."""

from __future__ import annotations

import os

import yaml
from conftest import MEMBERS, cluster, leader_of, sql
from runbook_harness import PLAYBOOKS, REPO_ROOT, other_host, platform_data

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]

APP = "birtha-ha-app"  # MLflow and the backup sets (molecule/ha/molecule.yml)
SETS = "/var/backups/mlflow/sets"
EXPERIMENT = "ha-upgrade"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"
TARGET = yaml.safe_load((REPO_ROOT / "roles" / "mlflow_server" / "defaults" / "main.yml").read_text())[
    "mlflow_server_version"
]
# The role's default, from the wheels scripts/molecule.sh built for it (the scenario's host has the previous one's).
UPGRADE = {"mlflow_server_version": TARGET, "mlflow_server_wheel_archive": os.environ.get("BIRTHA_WHEEL_ARCHIVE", "")}


def installed(app) -> str:
    """The MLflow version installed in the server's virtualenv, as Python imports it."""
    answer = app.run(f"{MLFLOW_PYTHON} -c 'import mlflow; print(mlflow.__version__)'")
    assert answer.rc == 0, answer.stderr
    return answer.stdout.strip()


def schema_revision(members) -> str:
    leader = leader_of(cluster(members[MEMBERS[0]]))
    return sql(members[leader], "select version_num from alembic_version")[0]


def said(result, task: str) -> str:
    return " ".join(" ".join(str(r.get("msg", "")) for r in result.task_results(task)).split())


def test_an_upgrade_keeps_the_data_and_runs_the_new_version(host, members, run_playbook):
    app = other_host(host, APP)
    previous = installed(app)
    assert previous == os.environ["BIRTHA_MLFLOW_PREVIOUS_VERSION"] != TARGET
    platform_data(run_playbook, "generate", "--experiment", EXPERIMENT, "--runs", "20", "--artifacts", "2")
    before = platform_data(run_playbook, "state", "--experiment", EXPERIMENT)
    revision = schema_revision(members)
    started = app.run("systemctl show -P ActiveEnterTimestampMonotonic mlflow").stdout.strip()

    checked = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", UPGRADE, check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert f"MLflow runs {previous} on {APP}; the inventory asks for {TARGET}" in said(
        checked, "Report what the run does"
    ), checked.stdout[-3000:]
    refused = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", UPGRADE)
    assert refused.rc != 0 and "upgrade_confirm=true" in refused.stdout, refused.stdout[-3000:]
    # Neither stopped, installed or migrated anything.
    assert installed(app) == previous and schema_revision(members) == revision
    assert app.run("systemctl show -P ActiveEnterTimestampMonotonic mlflow").stdout.strip() == started

    upgraded = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", {**UPGRADE, "upgrade_confirm": True})
    assert upgraded.rc == 0, upgraded.stdout[-6000:]
    set_id = upgraded.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    assert app.file(f"{SETS}/{set_id}/VERIFIED").exists, "no verified backup set before the upgrade"
    assert installed(app) == TARGET
    # A server refuses to start on a schema other than its own (MLflow's _verify_schema): it runs, so it was upgraded.
    assert app.service("mlflow").is_running
    assert schema_revision(members) != revision
    assert platform_data(run_playbook, "state", "--experiment", EXPERIMENT) == before
    # MLflow writes a run and an artifact and reads them back on the new version.
    healthy = run_playbook(PLAYBOOKS / "health_check.yml", UPGRADE)
    assert healthy.rc == 0, healthy.stdout[-4000:]

    again = run_playbook(PLAYBOOKS / "upgrade_mlflow.yml", {**UPGRADE, "upgrade_confirm": True})
    assert (again.rc, again.changed()) == (0, 0), again.stdout[-4000:]
    # The server's own answer (GET /version), as the playbook reads it.
    assert f"MLflow runs {TARGET} on {APP}; the inventory asks for {TARGET}. Nothing to do." in said(
        again, "Report what the run does"
    ), again.stdout[-3000:]
