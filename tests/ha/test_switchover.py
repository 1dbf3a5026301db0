"""playbooks/switchover.yml on the cluster of molecule/ha, under writes through MLflow's multi-host connection:
--check and a run without switchover_confirm change nothing; a candidate that is not a member, or (synchronous
replication) not the synchronous standby, is refused by name; a confirmed run hands the primary to the synchronous
standby, loses no acknowledged write and leaves every member running; naming the new primary again changes
nothing."""

from __future__ import annotations

from conftest import MEMBERS, cluster, leader_of, sql, wait_for
from runbook_harness import PLAYBOOKS

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]
SWITCHOVER = PLAYBOOKS / "switchover.yml"


def roles(members) -> dict[str, str]:
    return {m["name"]: m["role"] for m in cluster(members[MEMBERS[0]])["members"]}


def synchronous_standby(members) -> str:
    return wait_for("a synchronous standby", lambda: [n for n, r in roles(members).items() if r == "sync_standby"], 60)[
        0
    ]


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
    sync = synchronous_standby(members)
    asynchronous = next(n for n, r in roles(members).items() if r == "replica" and n != sync)
    refused = run_playbook(SWITCHOVER, {"switchover_confirm": True, "switchover_candidate": asynchronous})
    assert refused.rc != 0, refused.stdout[-4000:]
    assert f"only the synchronous standby ({sync})" in refused.stdout, refused.stdout[-4000:]
    assert leader_of(cluster(members[MEMBERS[0]])) == MEMBERS[0]


def test_a_switchover_under_writes_loses_no_acknowledged_write(members, run_playbook, writer, capsys):
    before = leader_of(cluster(members[MEMBERS[0]]))
    sync = synchronous_standby(members)
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
