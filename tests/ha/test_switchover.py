"""playbooks/switchover.yml on the cluster of molecule/ha, under writes through MLflow's multi-host connection:
--check and a run without switchover_confirm change nothing; a candidate that is not a member, or (synchronous
replication) not the synchronous standby, is refused by name; a confirmed run hands the primary to the synchronous
standby, loses no acknowledged write and leaves every member running; naming the new primary again changes
nothing; the playbooks that write through the local socket then run on the new primary (playbooks/db_primary.yml)."""

from __future__ import annotations

from pathlib import Path

from conftest import MEMBERS, cluster, leader_of, sql, synchronous_standby
from runbook_harness import PLAYBOOKS

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]
SWITCHOVER = PLAYBOOKS / "switchover.yml"
WHICH_PRIMARY = Path(__file__).resolve().parent / "files" / "which_primary.yml"


def roles(members) -> dict[str, str]:
    return {m["name"]: m["role"] for m in cluster(members[MEMBERS[0]])["members"]}


def test_check_mode_and_no_confirmation_change_nothing(members, run_playbook):
    before = leader_of(cluster(members[MEMBERS[0]]))
    checked = run_playbook(SWITCHOVER, check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert f"Would hand the primary from {before} to" in checked.stdout
    unconfirmed = run_playbook(SWITCHOVER)
    assert unconfirmed.rc != 0
    assert "switchover_confirm=true" in unconfirmed.stdout, unconfirmed.stdout[-4000:]
    assert leader_of(cluster(members[MEMBERS[0]])) == before


def test_a_candidate_that_cannot_take_over_is_refused_by_name(members, run_playbook):
    stranger = run_playbook(SWITCHOVER, {"switchover_confirm": True, "switchover_candidate": "birtha-nowhere"})
    assert stranger.rc != 0 and "is not a member of the cluster" in stranger.stdout, stranger.stdout[-4000:]
    sync = synchronous_standby(members[MEMBERS[0]])
    asynchronous = next(n for n, r in roles(members).items() if r == "replica" and n != sync)
    refused = run_playbook(SWITCHOVER, {"switchover_confirm": True, "switchover_candidate": asynchronous})
    assert refused.rc != 0, refused.stdout[-4000:]
    assert f"only the synchronous standby ({sync})" in refused.stdout, refused.stdout[-4000:]
    assert leader_of(cluster(members[MEMBERS[0]])) == MEMBERS[0]


def test_a_switchover_under_writes_loses_no_acknowledged_write(members, run_playbook, writer, capsys):
    before = leader_of(cluster(members[MEMBERS[0]]))
    sync = synchronous_standby(members[MEMBERS[0]])
    # The writer runs on the member that keeps its role, as MLflow on another host would.
    load = writer(on=next(n for n in MEMBERS if n not in (before, sync)))
    switched = run_playbook(SWITCHOVER, {"switchover_confirm": True})
    result = load.finish()
    assert switched.rc == 0, switched.stdout[-6000:]
    assert f"The primary moved from {before} to {sync}" in switched.stdout
    assert leader_of(cluster(members[sync])) == sync
    kept = set(map(int, sql(members[sync], f"select id from ha_probe where note = '{load.run}'")))
    lost = sorted(set(result["acked"]) - kept)
    with capsys.disabled():
        print(
            f"\n[ha switchover] {len(result['acked'])} acknowledged writes, {len(lost)} lost, {result['failed']} failed"
            f" attempts, longest pause {result['longest_gap_s']}s, servers {result['servers']}"
        )
    assert not lost, f"acknowledged writes missing on the new primary: {lost[:20]}"
    assert len(result["servers"]) == 2, "the writer should have written to the old primary, then the new one"
    again = run_playbook(SWITCHOVER, {"switchover_confirm": True, "switchover_candidate": sync})
    assert again.rc == 0 and again.stats.get("changed", {}) == {}, again.stdout[-4000:]
    assert f"{sync} is already the primary" in again.stdout


def test_the_writing_playbooks_follow_the_primary(members, run_playbook):
    leader = leader_of(cluster(members[MEMBERS[0]]))
    # After the switchover above the primary is no longer the first mlflow_db host.
    assert leader != MEMBERS[0]
    found = run_playbook(WHICH_PRIMARY)
    assert found.rc == 0, found.stdout[-4000:]
    assert f"writes go to {leader}" in found.stdout
    assert found.stdout.count("writes go to") == 1, found.stdout[-4000:]
