"""Five ways the platform breaks at 3 a.m. For each: the health check names the tier and the check and exits
non-zero; the matching troubleshooting or outage playbook under --check only diagnoses; run for real, it brings
the platform back and the health check passes. The time to recovery of each case is recorded."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS

HERE = Path(__file__).resolve().parent / "playbooks"
# The platform's one host (molecule/faults): the units the fixes restart.
testinfra_hosts = ["ansible://birtha-faults"]


@dataclass(frozen=True)
class Fault:
    name: str
    tier: str
    check: str
    fix: str


FAULTS = [
    Fault("kill_mlflow", "mlflow", "service", "troubleshoot_mlflow_unavailable"),
    Fault("stop_postgres", "postgres", "service", "emergency_outage"),
    Fault("stop_minio", "minio", "service", "troubleshoot_artifact_storage"),
    Fault("wrong_db_password", "mlflow", "db_credentials", "troubleshoot_database_connection"),
    Fault("rotate_minio_secret", "mlflow", "s3_credentials", "troubleshoot_artifact_storage"),
]


def newest(directory: Path, prefix: str) -> dict:
    reports = sorted(directory.glob(f"{prefix}-*.json"))
    assert reports, f"no {prefix}-*.json in {directory}"
    return json.loads(reports[-1].read_text())


def failed_pairs(report: dict) -> list[tuple[str, str]]:
    return [(check["tier"], check["check"]) for check in report["failed"]]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


# What a run changed on the platform host: when each service last (re)started, how often systemd restarted it, and
# when MLflow's configuration files last changed.
UNIT_STATES = (
    "systemctl show postgresql minio mlflow"
    " $(systemctl list-units --all --plain --no-legend 'postgresql@*' | awk '{print $1}')"
    " --property Id,ActiveEnterTimestamp,NRestarts"
    " && stat -c '%n %Y' /etc/mlflow/mlflow.env /etc/mlflow/basic_auth.ini /etc/systemd/system/mlflow.service"
)


def unit_states(host) -> str:
    answer = host.run(UNIT_STATES)
    assert answer.rc == 0, answer.stderr
    return answer.stdout


def where(reports: Path) -> dict[str, str]:
    """Reports and incident records go to the test's directories, not the checkout."""
    return {"platform_report_dir": str(reports), "platform_incident_dir": str(reports.parent / "incidents")}


def health(run_playbook, reports: Path):
    return run_playbook(PLAYBOOKS / "health_check.yml", where(reports))


def test_the_platform_starts_healthy(run_playbook, reports):
    result = health(run_playbook, reports)
    assert result.rc == 0, result.stdout[-3000:]
    assert "Platform HEALTHY" in result.stdout
    report = newest(reports, "health")
    assert report["status"] == "healthy"
    # The job's stats (AWX shows them, a workflow passes them on) say the same and where the report is.
    published = result.stat("birtha_health")
    assert published["status"] == "healthy" and published["failed"] == []
    assert Path(published["report"]).parent == reports.resolve()
    checked = {(c["tier"], c["check"]) for c in report["checks"] if c["status"] == "ok"}
    # The deep checks ran, not only the cheap ones.
    assert {("mlflow", "api"), ("mlflow", "artifacts"), ("postgres", "select_1"), ("minio", "ready")} <= checked


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_is_named_and_fixed(fault: Fault, host, run_playbook, reports, recovery_times):
    injected = run_playbook(HERE / "inject.yml", {"fault": fault.name})
    assert injected.rc == 0, injected.stdout[-3000:]
    broken_at = time.monotonic()

    result = health(run_playbook, reports)
    assert result.rc != 0, "the health check passed with the platform broken"
    report = newest(reports, "health")
    assert report["status"] == "unhealthy"
    assert (fault.tier, fault.check) in failed_pairs(report), report["failed_labels"]
    # A failed job still publishes what failed.
    assert result.stat("birtha_health")["failed"] == report["failed_labels"]
    if fault.check == "service":
        # A stopped tier is the first failure in dependency order: the on-call engineer starts there.
        assert failed_pairs(report)[0] == (fault.tier, "service"), report["failed_labels"]
    assert f"{fault.tier} @ " in result.stdout and f"FAIL {fault.check}:" in result.stdout
    assert "Traceback" not in result.stdout

    before = unit_states(host)
    diagnosis = run_playbook(PLAYBOOKS / f"{fault.fix}.yml", where(reports), check=True)
    assert diagnosis.rc == 0, diagnosis.stdout[-3000:]
    # --check diagnoses only: no service (re)started, no configuration file rewritten.
    assert unit_states(host) == before
    issue = fault.fix.removeprefix("troubleshoot_")
    after = "outage-after" if fault.fix == "emergency_outage" else f"troubleshoot-{issue}-after"
    assert newest(reports, after)["status"] == "unhealthy", "--check changed something: the fault is gone"

    started = time.monotonic()
    fixed = run_playbook(PLAYBOOKS / f"{fault.fix}.yml", where(reports))
    assert fixed.rc == 0, fixed.stdout[-5000:]
    fix_seconds = time.monotonic() - started
    # Each fix ends with playbooks/health_check.yml itself; a non-zero exit there would have failed the run.
    assert newest(reports, after)["status"] == "healthy"
    assert "Platform HEALTHY" in fixed.stdout
    if fault.fix == "emergency_outage":
        outage_record_says_what_was_down_and_done(reports, fault.tier, fixed)
    recovery_times[fault.name] = {
        "fixed_by": f"playbooks/{fault.fix}.yml",
        "fix_seconds": round(fix_seconds, 1),
        "fault_to_healthy_seconds": round(time.monotonic() - broken_at, 1),
    }


def outage_record_says_what_was_down_and_done(reports: Path, tier: str, run) -> None:
    """emergency_outage.yml's incident record is the on-call engineer's log: what was down, what was done."""
    records = sorted((reports.parent / "incidents").glob("outage-*.json"))
    assert records, "emergency_outage.yml wrote no incident record"
    record = json.loads(records[-1].read_text())
    assert record["status_after"] == "healthy" and not record["check_mode"]
    assert any(line.startswith(f"{tier} @ ") and ", service:" in line for line in record["down_before"])
    assert [a["tier"] for a in record["actions"] if a["action"].startswith("restarted")] == [tier]
    assert record["seconds_to_recovery"] > 0
    assert (records[-1].stat().st_mode & 0o777) == 0o600
    assert run.stat("birtha_incident") == {**record, "record": str(records[-1])}


@pytest.fixture(scope="module", autouse=True)
def clear_faults(run_playbook):
    yield
    run_playbook(HERE / "inject.yml", {"fault": "clear"})
