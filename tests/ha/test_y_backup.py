"""Backups of the database cluster (molecule/ha), after the switchover (so the primary is not the first mlflow_db
host) and before the failover: backup.yml dumps from a streaming standby rather than the primary and verifies the set
on the primary; restore.yml puts the set back on the primary, wherever it runs, and every standby replays it."""

from __future__ import annotations

import json

from conftest import MEMBERS, cluster, leader_of, sql, wait_for
from runbook_harness import PLAYBOOKS, files_under, other_host, platform_data

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]

SETS_HOST = "birtha-ha-proxy"  # the proxy and the backup sets (molecule/ha/molecule.yml)
SETS = "/var/backups/mlflow/sets"
EXPERIMENT = "ha-backup"


def manifest(host, set_id: str) -> dict:
    return json.loads(other_host(host, SETS_HOST).file(f"{SETS}/{set_id}/manifest.json").content_string)


def members_holding_set_files(members) -> dict[str, list[str]]:
    """The members with anything under the sets directory: the parts pass through them, the sets stay on SETS_HOST."""
    held = {name: files_under(member, SETS) for name, member in members.items()}
    return {name: files for name, files in held.items() if files}


def runs_on(member) -> list[str]:
    return sql(
        member,
        f"SELECT count(*) FROM runs r JOIN experiments e USING (experiment_id) WHERE e.name = '{EXPERIMENT}'",
    )


def test_a_backup_reads_a_standby_and_a_restore_reaches_every_member(host, members, run_playbook):
    platform_data(run_playbook, "generate", "--experiment", EXPERIMENT, "--runs", "40", "--artifacts", "4")
    before = platform_data(run_playbook, "state", "--experiment", EXPERIMENT)
    assert len(before[EXPERIMENT]["runs"]) == 40 and before[EXPERIMENT]["objects"] >= 4, before
    leader = leader_of(cluster(members[MEMBERS[0]]))

    backup = run_playbook(PLAYBOOKS / "backup.yml")
    assert backup.rc == 0, backup.stdout[-6000:]
    set_id = backup.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    taken = manifest(host, set_id)
    assert taken["postgres"]["host"] in MEMBERS and taken["postgres"]["host"] != leader, taken["postgres"]["host"]
    assert taken["postgres"]["standby"] is True
    assert other_host(host, SETS_HOST).file(f"{SETS}/{set_id}/VERIFIED").exists
    assert f"The backup dumps from {taken['postgres']['host']} (a standby" in backup.stdout
    assert members_holding_set_files(members) == {}

    # The way back to the primary: the same playbook, told not to use a standby.
    primary_only = run_playbook(
        PLAYBOOKS / "backup.yml", {"postgres_server_backup_from_standby": False, "backup_verify_after_backup": False}
    )
    assert primary_only.rc == 0, primary_only.stdout[-6000:]
    second = primary_only.task_results("Name the set")[0]["ansible_facts"]["backup_set_id"]
    assert manifest(host, second)["postgres"]["host"] == leader
    assert manifest(host, second)["postgres"]["standby"] is False

    # Lost data, then the restore of the verified set.
    dropped = platform_data(run_playbook, "drop", "--experiment", EXPERIMENT)
    assert dropped == {"dropped": 1}, dropped
    restored = run_playbook(PLAYBOOKS / "restore.yml", {"confirm_restore": True, "restore_set": set_id})
    assert restored.rc == 0, restored.stdout[-6000:]
    assert platform_data(run_playbook, "state", "--experiment", EXPERIMENT) == before
    # The playbook waited for both standbys by name, not for a count.
    waited = restored.task_results("Wait until each of them has replayed the restore")[0]["query_result"][0]
    assert sorted(waited["replayed"]) == sorted(n for n in MEMBERS if n != leader), waited
    # Written on the primary, whichever member that is; replayed by each standby before the playbook ended.
    assert members[leader].file(f"/var/backups/mlflow/restore-{set_id}.json").exists
    assert leader_of(cluster(members[MEMBERS[0]])) == leader
    assert members_holding_set_files(members) == {}
    for name, member in members.items():
        assert runs_on(member) == ["40"], name
        kept = sql(
            member, "SELECT datname FROM pg_database WHERE datname LIKE 'mlflow_db_before_restore_%'", "postgres"
        )
        assert len(kept) == 1, (name, kept)


def test_a_standby_that_does_not_replay_the_restore_is_named_once_mlflow_runs(host, members, run_playbook):
    view = cluster(members[MEMBERS[0]])
    leader = leader_of(view)
    lagging = next(m["name"] for m in view["members"] if m["role"] == "replica")
    before = platform_data(run_playbook, "state", "--experiment", EXPERIMENT)
    # Replay stopped the way a starved or stuck host stops it: the startup process frozen (pg_wal_replay_pause()
    # would not do: Patroni resumes a paused replay on its next loop). The standby still streams. [s]: the pattern
    # must not match pkill's own shell.
    frozen = members[lagging].run("pkill -STOP -f '[s]tartup recovering'")
    assert frozen.rc == 0, frozen.stderr
    try:
        restored = run_playbook(
            PLAYBOOKS / "restore.yml",
            {"confirm_restore": True, "postgres_backup_replay_timeout": 6},
        )
        # The restore went through to the end (MLflow serves it), then the run failed naming the standby.
        assert restored.rc != 0
        [named] = restored.task_results("Require every standby that streamed before the restore to have replayed it")
        assert f"but {lagging} had not replayed it" in " ".join(named["msg"].split()), restored.stdout[-4000:]
        # The data check passed before (its task name is in the output either way: read its result).
        [listed] = restored.task_results("MLflow lists as many experiments as the backup holds")
        assert not listed.get("failed"), listed
        assert platform_data(run_playbook, "state", "--experiment", EXPERIMENT) == before
        assert leader_of(cluster(members[MEMBERS[0]])) == leader
    finally:
        members[lagging].run("pkill -CONT -f '[s]tartup recovering'")
    for name, member in members.items():
        assert wait_for(f"{name} to replay the restore", lambda m=member: runs_on(m) == ["40"], 60), name
