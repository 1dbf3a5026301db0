"""Point-in-time recovery with pgBackRest (molecule/postgres, platform_db_archiving): good writes, then at T a bad
UPDATE of runs and params and a deleted param, then more writes. data_corruption.yml --check names what changed
since T, per run and experiment, against a copy recovered to T. restore_point_in_time.yml refuses without
confirmation and outside the recoverable window, naming it; --check changes nothing; confirmed (through
data_corruption.yml's restore, which swaps in the assessment's copy), it takes every MLflow table back to its state
at T (rows and checksums), writes acknowledged seconds before T included, keeps the replaced data for rollback, and
the cluster archives again. Last in the scenario: it undoes the other tests'
writes."""

from __future__ import annotations

import datetime
import json
import os
import re
import time
import uuid

import pytest
from runbook_harness import REPO_ROOT

PITR = REPO_ROOT / "playbooks" / "restore_point_in_time.yml"
CORRUPTION = REPO_ROOT / "playbooks" / "data_corruption.yml"
SQL = REPO_ROOT / "tests" / "postgres_only" / "playbooks" / "sql.yml"
COMMAND = REPO_ROOT / "tests" / "postgres_only" / "playbooks" / "command.yml"
ROLE = REPO_ROOT / "tests" / "postgres_only" / "playbooks" / "pitr_role.yml"
HEALTH = REPO_ROOT / "tests" / "postgres_only" / "playbooks" / "health.yml"
CONVERGE = REPO_ROOT / "molecule" / "postgres" / "converge.yml"
TABLES = ("experiments", "runs", "params", "tags", "metrics", "latest_metrics", "registered_models", "model_versions")


def sql(run_playbook, *statements: str) -> list[list[dict]]:
    ran = run_playbook(SQL, {"statements": list(statements)})
    assert ran.rc == 0, ran.stdout[-4000:]
    return ran.task_results("Rows")[0]["msg"]


def snapshot(run_playbook) -> dict[str, tuple[int, str]]:
    """Each table's row count and the md5 of its rows in order: equal snapshots mean equal tables."""
    statements = [
        f"SELECT count(*) AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS sum FROM {table} t"
        for table in TABLES
    ]
    rows = sql(run_playbook, *statements)
    return {table: (result[0]["n"], result[0]["sum"]) for table, result in zip(TABLES, rows, strict=True)}


def new_run(experiment: str, status: str = "FINISHED") -> list[str]:
    """Statements that log a run with a parameter in the named experiment (created when missing)."""
    run = uuid.uuid4().hex
    return [
        f"INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) "
        f"SELECT '{experiment}', 's3://mlflow/{experiment}', 'active', 0, 0 "
        f"WHERE NOT EXISTS (SELECT 1 FROM experiments WHERE name = '{experiment}')",
        f"INSERT INTO runs (run_uuid, name, source_type, status, start_time, lifecycle_stage, experiment_id) "
        f"SELECT '{run}', 'r-{run[:6]}', 'LOCAL', '{status}', 0, 'active', experiment_id FROM experiments "
        f"WHERE name = '{experiment}'",
        f"INSERT INTO params (key, value, run_uuid) VALUES ('lr', '0.01', '{run}')",
    ]


def run_id(statements: list[str]) -> str:
    """The id of the run new_run's statements log."""
    return re.search(r"'([0-9a-f]{32})'", statements[1]).group(1)


def on_host(run_playbook, *argv: str) -> dict:
    ran = run_playbook(COMMAND, {"argv": list(argv)})
    assert ran.rc == 0, ran.stdout[-4000:]
    return ran.task_results("Output")[0]["msg"]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def said(result) -> str:
    return " ".join(result.stdout.split())


@pytest.mark.skipif(
    bool(os.environ.get("BIRTHA_PLATFORM_INVENTORY")),
    reason="takes the database back in time: runs in molecule/postgres only, not against a platform in use",
)
def test_a_point_in_time_restore_undoes_the_corruption_and_keeps_what_came_before(run_playbook, tmp_path):
    # The last write is acknowledged about a second before T: it is only in the WAL, in no backup, and must come back.
    good, late_run = new_run("pitr-good"), new_run("pitr-late")
    sql(run_playbook, *good, *new_run("pitr-good"), *late_run)
    at_t = snapshot(run_playbook)
    # The runs the corruption below changes: every one not FAILED already, or with a param not yet 'corrupted'.
    hit = sql(
        run_playbook,
        "SELECT run_uuid FROM runs r WHERE status <> 'FAILED' "
        "OR EXISTS (SELECT 1 FROM params p WHERE p.run_uuid = r.run_uuid AND p.value <> 'corrupted')",
    )[0]
    time.sleep(1)
    target = utc_now()
    time.sleep(1)
    # The corruption: a bad UPDATE of runs and params, and a run's param deleted; then good writes elsewhere.
    late_experiment = f"pitr-after-{uuid.uuid4().hex[:8]}"
    after = new_run(late_experiment)
    sql(
        run_playbook,
        "UPDATE params SET value = 'corrupted'",
        "UPDATE runs SET status = 'FAILED'",
        f"DELETE FROM params WHERE run_uuid = '{run_id(good)}'",
        *after,
    )
    corrupted = snapshot(run_playbook)
    assert corrupted["params"] != at_t["params"] and corrupted["runs"] != at_t["runs"]

    # The assessment (--check: report only) names, per run and experiment, what changed since T.
    assessed = run_playbook(
        CORRUPTION, {"corruption_time": iso(target), "platform_incident_dir": str(tmp_path)}, check=True
    )
    assert assessed.rc == 0, assessed.stdout[-6000:]
    found = assessed.task_results("Compare the live data with the copy")[0]
    changed = {o["id"] for o in found["objects"] if o["object"] == "run" and o["change"] == "changed"}
    added = [(o["object"], o["name"]) for o in found["objects"] if o["change"] == "added"]
    assert changed == {row["run_uuid"] for row in hit}, found["summary"]
    assert sorted(added) == [("experiment", late_experiment), ("run", f"r-{run_id(after)[:6]}")], found["summary"]
    details = {o["id"]: o["details"] for o in found["objects"]}
    assert details[run_id(good)] == ["run status: 'FINISHED' -> 'FAILED'", "param lr removed (was '0.01')"], details
    late = next(o["id"] for o in found["objects"] if o["name"] == f"r-{run_id(late_run)[:6]}")
    assert details[late] == ["run status: 'FINISHED' -> 'FAILED'", "param lr value: '0.01' -> 'corrupted'"], details
    assert "Backups and WAL archive: verified" in said(assessed), assessed.stdout[-3000:]
    record = json.loads(next(tmp_path.glob("data-corruption-*.json")).read_text())
    assert record["check_mode"] is True and record["assessment"]["counts"] == found["counts"], record
    assert assessed.stat("data_corruption")["impact"] == found["impact"]

    refused = run_playbook(PITR, {"restore_target_time": iso(target)})
    assert refused.rc != 0
    assert "-e confirm_restore=true" in said(refused), refused.stdout[-3000:]
    for bad, named in (
        (iso(utc_now() + datetime.timedelta(hours=1)), "is in the future; the recoverable window is"),
        ("2000-01-01T00:00:00Z", "is before the oldest backup ended; the recoverable window is"),
    ):
        wrong = run_playbook(PITR, {"restore_target_time": bad, "confirm_restore": True})
        assert wrong.rc != 0, bad
        assert named in said(wrong), (bad, wrong.stdout[-3000:])
    checked = run_playbook(PITR, {"restore_target_time": iso(target), "confirm_restore": True}, check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert f"can go back to {target.strftime('%Y-%m-%dT%H:%M:%SZ')}" in said(checked), checked.stdout[-3000:]
    # Nothing changed by the refusals and the check.
    assert snapshot(run_playbook) == corrupted

    # data_corruption.yml's restore: the assessment's copy, recovered once, is the one restore_point_in_time.yml's
    # plays swap in.
    restored = run_playbook(
        CORRUPTION,
        {
            "corruption_time": iso(target),
            "corruption_action": "restore",
            "confirm_restore": True,
            "platform_incident_dir": str(tmp_path),
        },
    )
    assert restored.rc == 0, restored.stdout[-6000:]
    assert snapshot(run_playbook) == at_t
    recoveries = restored.task_results(
        "Restore the newest backup before the target into the scratch directory, recovering to the target"
    )
    assert len(recoveries) == 1, recoveries  # ran (not skipped) once
    kept = re.search(r"The data it replaced is kept as (/\S+before-pitr-\d{8}T\d{6}Z)\.", said(restored))
    assert kept, restored.stdout[-3000:]
    # The replaced data is where the report says; the scratch copy became the live data; pgBackRest's recovery
    # settings (its restore_command names the scratch directory) did not go live with it.
    data_dir = kept.group(1).split(".before-pitr-")[0]
    listed = on_host(run_playbook, "sh", "-c", f"ls -d {data_dir}.*; cat {data_dir}/postgresql.auto.conf")["stdout"]
    assert kept.group(1) in listed.split() and f"{data_dir}.pitr-scratch" not in listed, listed
    assert "restore_command" not in listed and "recovery_target" not in listed, listed

    # The restored cluster archives on its new timeline, and the role still finds it as it left it.
    sql(run_playbook, *new_run("pitr-after-restore"))
    archive = on_host(run_playbook, "runuser", "-u", "postgres", "--", "pgbackrest", "--stanza=mlflow", "check")
    assert str(archive["rc"]) == "0", archive
    again = run_playbook(CONVERGE)
    assert again.rc == 0, again.stdout[-4000:]
    assert again.stats.get("changed", {}) == {}, again.stats


def next_segment(segment: str) -> str:
    """The WAL segment after this one on its timeline (16 MB segments: 256 to a log)."""
    timeline, log, seg = int(segment[:8], 16), int(segment[8:16], 16), int(segment[16:], 16) + 1
    return f"{timeline:08X}{log + seg // 256:08X}{seg % 256:08X}"


@pytest.mark.skipif(
    bool(os.environ.get("BIRTHA_PLATFORM_INVENTORY")),
    reason="moves a WAL segment out of the repository: molecule/postgres only",
)
def test_a_gap_in_the_wal_archive_is_named_and_nothing_changes(run_playbook):
    info = on_host(
        run_playbook, "runuser", "-u", "postgres", "--", "pgbackrest", "--stanza=mlflow", "--output=json", "info"
    )
    # The segment after the newest backup's: the one a restore to any later time reads first.
    newest = json.loads(info["stdout"])[0]["backup"][-1]
    missing = next_segment(newest["archive"]["stop"])
    sql(run_playbook, *new_run("pitr-gap"))
    time.sleep(1)
    target = utc_now()
    time.sleep(1)
    sql(run_playbook, *new_run("pitr-gap-after"))
    before = snapshot(run_playbook)
    aside = f"mv /var/lib/pgbackrest/archive/mlflow/*/{missing[:16]}/{missing}-* /root/"
    assert str(on_host(run_playbook, "sh", "-c", aside)["rc"]) == "0"
    try:
        failed = run_playbook(PITR, {"restore_target_time": iso(target), "confirm_restore": True})
    finally:
        on_host(run_playbook, "sh", "-c", f"mv /root/{missing}-* /var/lib/pgbackrest/archive/mlflow/*/{missing[:16]}/")
    assert failed.rc != 0
    assert f"a gap in the WAL archive: the repository has no WAL segment after {newest['archive']['stop']}" in said(
        failed
    ), failed.stdout[-3000:]
    assert "Nothing was changed: the live data was not touched" in said(failed)
    assert snapshot(run_playbook) == before


@pytest.mark.skipif(
    bool(os.environ.get("BIRTHA_PLATFORM_INVENTORY")),
    reason="runs the scenario's converge: molecule/postgres only",
)
def test_another_cipher_pass_is_refused_and_the_repository_kept(run_playbook):
    conf = ["sha256sum", "/etc/pgbackrest/pgbackrest.conf"]
    before = on_host(run_playbook, *conf)["stdout"]
    refused = run_playbook(ROLE, {"postgres_pitr_cipher_pass": "another-cipher-pass-" + uuid.uuid4().hex})
    assert refused.rc != 0
    assert "does not decrypt with postgres_pitr_cipher_pass (platform_db_archive_cipher_pass)" in said(refused), (
        refused.stdout[-3000:]
    )
    assert on_host(run_playbook, *conf)["stdout"] == before


def archiving(run_playbook) -> tuple[dict, dict]:
    """platform_health's archiving check and platform_metrics' archiving measure with its finding, on the database
    host."""
    ran = run_playbook(HEALTH)
    assert ran.rc == 0, ran.stdout[-4000:]
    check = next(check for check in ran.task_results("Checks")[0]["msg"] if check["check"] == "archiving")
    measured = ran.task_results("Metrics")[0]["msg"]
    finding = next(found for found in measured["findings"] if found["check"] == "archiving")
    return check, {**measured["archiving"], "finding": finding["status"]}


@pytest.mark.skipif(
    bool(os.environ.get("BIRTHA_PLATFORM_INVENTORY")),
    reason="breaks archiving for a while: molecule/postgres only",
)
def test_health_and_monitoring_report_the_archive_lag_and_a_failing_archiver(run_playbook):
    healthy, measured = archiving(run_playbook)
    assert healthy["status"] == "ok" and not healthy["data"]["failing"], healthy
    assert healthy["detail"].startswith(f"WAL archive {healthy['data']['lag_seconds']} s behind"), healthy
    assert measured["finding"] == "ok" and not measured["failing"], measured
    # An archive_command that fails (a repository gone, a wrong cipher pass look the same to PostgreSQL).
    psql = ["runuser", "-u", "postgres", "--", "psql", "-XAtq"]
    broken = on_host(
        run_playbook, *psql, "-c", "ALTER SYSTEM SET archive_command = 'false'", "-c", "SELECT pg_reload_conf()"
    )
    assert str(broken["rc"]) == "0", broken
    try:
        sql(run_playbook, *new_run("pitr-unarchived"))
        sql(run_playbook, "SELECT pg_switch_wal()")
        failing, measured = wait_for_archiving(run_playbook, lambda check: check["data"]["failing"])
        assert failing["status"] == "warn" and "the last attempt failed" in failing["detail"], failing
        assert measured["failing"] and measured["finding"] == "warn", measured
    finally:
        on_host(run_playbook, *psql, "-c", "ALTER SYSTEM RESET archive_command", "-c", "SELECT pg_reload_conf()")
    # Archived again once the command works: the waiting segment goes, and the check is ok.
    recovered, measured = wait_for_archiving(run_playbook, lambda check: check["status"] == "ok")
    assert recovered["data"]["lag_seconds"] == 0 and not recovered["data"]["failing"], recovered
    assert measured["lag_seconds"] == 0 and measured["finding"] == "ok", measured


def wait_for_archiving(run_playbook, done, seconds: int = 90) -> tuple[dict, dict]:
    """archiving()'s answer once done(check) holds; the last one after seconds."""
    deadline = time.monotonic() + seconds
    while True:
        check, measured = archiving(run_playbook)
        if done(check) or time.monotonic() > deadline:
            return check, measured
        time.sleep(3)
