"""Losing the primary's host under writes (molecule/ha; runs late: it kills a container, no shutdown of anything on
it): Patroni promotes the synchronous standby once the dead leader's lock expires, MLflow's multi-host connection
finds it without a restart, no acknowledged write is lost (synchronous replication: each was on the standby before
PostgreSQL acknowledged it), and the host, started again, rejoins as a streaming standby; with its store member and
MLflow server back too, every health check of it (and the proxy's) is ok again."""

from __future__ import annotations

import time

from conftest import ADDRESSES, MEMBERS, cluster, leader_of, patroni, sql, synchronous_standby, wait_for
from runbook_harness import health_report, not_ok_on, podman

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]


def test_the_primarys_host_lost_under_writes_loses_no_acknowledged_write(members, writer, run_playbook, capsys):
    view = cluster(members[MEMBERS[0]])
    old = leader_of(view)
    sync = synchronous_standby(members[MEMBERS[0]])
    bystander = next(n for n in MEMBERS if n not in (old, sync))
    load = writer(on=bystander)
    time.sleep(3)
    stopped_at = time.monotonic()
    # SIGKILL to the container: PostgreSQL, Patroni and etcd die at once, as with a lost host or a kernel panic.
    killed = podman("kill", old)
    assert killed.returncode == 0, killed.stderr
    # The leader lock outlives its holder by up to ttl (30 s), then Patroni's next loop promotes.
    new = wait_for(
        "a new primary", lambda: [n for n in (sync, bystander) if patroni(members[n], "/primary") == 200], 120
    )
    took = time.monotonic() - stopped_at
    time.sleep(3)
    result = load.finish()
    kept = set(map(int, sql(members[new[0]], f"select id from ha_probe where note = '{load.run}'")))
    lost = sorted(set(result["acked"]) - kept)
    back_at = time.monotonic()
    started = podman("start", old)
    assert started.returncode == 0, started.stderr
    wait_for(
        f"{old} streaming again",
        lambda: any(
            line.startswith(old + "|streaming")
            for line in sql(members[new[0]], "select application_name, state from pg_stat_replication", "postgres")
        ),
        180,
        2,
    )
    with capsys.disabled():
        print(
            f"\n[ha failover] {old} killed: {new[0]} primary after {took:.1f}s; {len(result['acked'])} acknowledged"
            f" writes, {len(lost)} lost, {result['failed']} failed attempts, longest pause"
            f" {result['longest_gap_s']}s; {old} streaming again {time.monotonic() - back_at:.0f}s after its start"
        )
    assert new == [sync], f"the synchronous standby {sync} should have been promoted, not {new}"
    assert not lost, f"acknowledged writes missing on the new primary: {lost[:20]}"
    assert ADDRESSES[new[0]] in result["servers"], f"the writer never reached the new primary: {result['servers']}"
    # The host is also a store member and an MLflow server: every check of it, and the proxy's, ok again.
    wait_for(f"every check of {old} ok", lambda: not not_ok_on(health_report(run_playbook), old), 300, 10)
    with capsys.disabled():
        print(f"[ha failover] every health check of {old} ok {time.monotonic() - back_at:.0f}s after its start")
