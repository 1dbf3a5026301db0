"""Jobs run the way AWX runs them (awx/README.md): ansible-runner with process isolation in the execution
environment image, a fresh private data dir per job, the hosts reached over SSH as a sudoer with the machine
credential's key, reports and set_stats kept in the job's artifacts. Against the default scenario's
converged platform, before its own tests drop and restore the databases (molecule/default/molecule.yml).

Each job starts with no controller state: no credentials directory, no fact cache, no earlier report. Whatever it
needs it reads from the platform (role platform_state) or is given as AWX gives it.
"""

from __future__ import annotations

import json

import pytest
import yaml
from awx_job import REPO_ROOT, JobResult, credential_extravars, host_shell

STATE_DIR = "/etc/birtha-mlflow/state"


def stats_event(job: JobResult) -> dict:
    """The playbook_on_stats event as the job left it in its artifacts: AWX shows its set_stats as the job's
    artifacts and passes them to the next node of a workflow."""
    found = [event for event in job.events_on_disk() if event.get("event") == "playbook_on_stats"]
    assert found, f"{job.name}: no playbook_on_stats event in {job.artifact_dir / 'job_events'}"
    return found[-1]["event_data"]


def secret_files() -> dict[str, str]:
    """Each secret's file name in the state directory (and in a controller's credentials directory), and the variable
    that supplies it."""
    secrets = yaml.safe_load((REPO_ROOT / "roles" / "platform_state" / "vars" / "main.yml").read_text())
    return {secret["name"]: secret["var"] for secret in secrets["__platform_state_secrets"]}


def platform_secrets(host: str) -> dict[str, str]:
    """What the platform keeps (root-only on its state host), by the variable that supplies each secret."""
    return {
        var: host_shell(host, f"cat {STATE_DIR}/{name} 2>/dev/null || true").strip()
        for name, var in secret_files().items()
    }


def state_digest(host: str) -> str:
    return host_shell(host, f"cd {STATE_DIR} && find . -type f -print0 | sort -z | xargs -0 sha256sum")


def state_host(jobs) -> str:
    return jobs.platform.groups["mlflow_db"][0]


def changed_on_platform(job: JobResult) -> dict[str, int]:
    """Changes on the platform's hosts. The job's controller (localhost) is a new container each time: a job that
    writes a report there creates its report directory first."""
    return {host: count for host, count in job.stats.get("changed", {}).items() if host != "localhost" and count}


def test_deploy_from_a_fresh_job_changes_nothing(jobs):
    """platform_up.yml from a job that has never seen the platform: it reads the platform's secrets from the
    platform, finds everything in place and says so (changed=0), and the job's copy is the platform's."""
    job = jobs.run("platform-up", "playbooks/platform_up.yml")
    assert job.rc == 0, job.stdout[-6000:]
    assert job.failed() == 0 and job.changed() == 0, {
        "changed": job.stats.get("changed"),
        "tasks that changed": sorted(
            {
                event.get("event_data", {}).get("task", "")
                for event in job.events
                if event.get("event_data", {}).get("res", {}).get("changed")
            }
        ),
    }
    # The job had no credentials directory: the copy it made (where `make platform-up` says the admin password
    # is) holds the platform's value, read from the platform.
    copy = job.private_data_dir / ".credentials" / "inventory" / "mlflow_admin_password"
    assert copy.read_text().strip() == platform_secrets(state_host(jobs))["platform_mlflow_admin_password"]


def test_backup_then_verify_in_separate_jobs(jobs):
    """backup.yml, then backup_verify.yml in a job of its own, each with the secrets as the credential type
    "Birtha MLflow platform secrets" injects them (every field, as extra variables): the set is verified."""
    host = state_host(jobs)
    credential = credential_extravars(platform_secrets(host))

    backup = jobs.run("backup", "playbooks/backup.yml", extravars={**credential, "backup_set_name": "awx-job"})
    assert backup.rc == 0, backup.stdout[-6000:]
    set_id = backup.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    assert "awx-job" in set_id

    verify = jobs.run(
        "backup-verify", "playbooks/backup_verify.yml", extravars={**credential, "backup_verify_set": set_id}
    )
    assert verify.rc == 0, verify.stdout[-6000:]
    assert f"Backup set {set_id} verified" in verify.stdout
    marker = verify.task_results("Write the VERIFIED marker")
    assert marker and marker[0]["dest"].endswith(f"/{set_id}/VERIFIED"), marker


def test_troubleshooting_finds_nothing_wrong_and_its_health_report_reaches_the_artifacts(jobs):
    """troubleshoot_mlflow_unavailable.yml: diagnoses, finds nothing to fix, changes nothing, exits 0. Its health
    checks (health_check.yml's, before and after) keep their JSON reports with the job (its controller, the execution
    environment's container, is gone), and the essentials are set_stats in the job's events."""
    job = jobs.run("troubleshoot-mlflow", "playbooks/troubleshoot_mlflow_unavailable.yml")
    assert job.rc == 0, job.stdout[-6000:]
    plan = job.task_results("Decide on the safe fixes")[0]["ansible_facts"]["troubleshoot_plan"]
    assert plan["plan"] == [], plan
    assert "Nothing this playbook can fix safely was found." in job.stdout
    assert changed_on_platform(job) == {}, job.stats

    health = stats_event(job)["artifact_data"]["birtha_health"]
    assert health["status"] == "healthy" and health["failed"] == [], health
    kept = job.container_path(job.artifact_dir)
    assert health["report"].startswith(f"{kept}/"), f"the report {health['report']} went with the job's container"
    report_path = job.host_path(health["report"])
    report = json.loads(report_path.read_text())
    assert report["status"] == "healthy" and report["failed"] == [], report["summary"]
    assert report_path.stat().st_mode & 0o777 == 0o600


@pytest.fixture(scope="module")
def wrong_key_job(jobs, ssh_keys) -> tuple[JobResult, str, str]:
    """platform_up.yml with a machine credential whose key the hosts do not accept; the platform's kept state before
    and after."""
    host = state_host(jobs)
    before = state_digest(host)
    job = jobs.run("wrong-key", "playbooks/platform_up.yml", ssh_private_key=ssh_keys["stranger"])
    return job, before, state_digest(host)


def test_a_job_that_cannot_log_in_fails_and_changes_nothing(wrong_key_job):
    """The job fails, says it could not connect, and neither the platform nor its kept secrets change; no secret is
    generated on the job's side either."""
    job, before, after = wrong_key_job
    assert job.rc != 0 and job.status == "failed", (job.rc, job.status)
    assert "UNREACHABLE!" in job.stdout and "Failed to connect to the host via ssh" in job.stdout, job.stdout[-4000:]
    assert job.changed() == 0, job.stats
    assert after == before
    # Nor on the job's side: no secret was generated into its credentials directory.
    written = [path.name for path in (job.private_data_dir / ".credentials").glob("*/*")]
    assert set(written) & set(secret_files()) == set(), written


def test_a_job_that_cannot_log_in_names_the_unreachable_hosts(wrong_key_job, jobs):
    """AWX's job summary (the stats) shows the hosts it could not reach."""
    job = wrong_key_job[0]
    assert set(job.dark()) == set(jobs.platform.hosts), job.stats
