"""The database tier with three mlflow_db hosts (molecule/ha): Patroni keeps one primary and two streaming standbys,
one of them synchronous (platform_db_synchronous), behind etcd on the same hosts; what the primary commits is on the
standbys; Patroni's file holds passwords and is 0600; changing the cluster needs the API's login; replication is
admitted from the members only."""

from __future__ import annotations

import uuid

from conftest import MEMBERS, cluster, leader_of, patroni, sql, wait_for

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]


def primary_of(members) -> str:
    return wait_for("exactly one primary", lambda: [n for n, m in members.items() if patroni(m, "/primary") == 200], 60)


def test_one_primary_and_two_streaming_standbys_one_synchronous(members):
    primaries = primary_of(members)
    assert primaries == [MEMBERS[0]], f"the first mlflow_db host creates the cluster and leads it: {primaries}"
    primary = members[MEMBERS[0]]
    # Patroni names a synchronous standby one loop after both standbys stream.
    rows = wait_for(
        "two streaming standbys, one synchronous",
        lambda: (
            (r := sql(primary, "select application_name, state, sync_state from pg_stat_replication", "postgres"))
            and len(r) == 2
            and all("|streaming|" in line for line in r)
            and sorted(line.rsplit("|", 1)[1] for line in r) == ["async", "sync"]
            and r
        ),
        60,
    )
    assert sorted(line.split("|")[0] for line in rows) == MEMBERS[1:]
    for name in MEMBERS[1:]:
        assert patroni(members[name], "/replica") == 200
    view = cluster(primary)
    assert leader_of(view) == MEMBERS[0]
    assert sorted(m["state"] for m in view["members"]) == ["running"] * 3


def test_etcd_has_every_member_healthy(members):
    health = members[MEMBERS[1]].run("ETCDCTL_API=3 etcdctl endpoint health --cluster")
    assert health.rc == 0, health.stderr
    # etcdctl reports on stderr.
    said = health.stdout + health.stderr
    assert said.count("is healthy") == 3, said


def test_a_commit_on_the_primary_is_on_every_standby(members):
    note = "replicated-" + uuid.uuid4().hex[:8]
    primary = members[MEMBERS[0]]
    sql(primary, "create table if not exists replication_probe (note text not null)")
    sql(primary, f"insert into replication_probe values ('{note}')")
    count = f"select count(*) from replication_probe where note = '{note}'"
    for name in MEMBERS[1:]:
        wait_for(f"the row on {name}", lambda n=name: sql(members[n], count) == ["1"], 30)
        # A standby takes no writes.
        refused = members[name].run(
            "runuser -u postgres -- psql -XAtq -d mlflow_db -c \"insert into replication_probe values ('x')\""
        )
        assert refused.rc != 0 and "read-only transaction" in refused.stderr


def test_patronis_file_is_0600_and_a_dead_patroni_comes_back(members):
    for member in members.values():
        config = member.file("/etc/patroni/15-main.yml")
        assert (config.mode, config.user) == (0o600, "postgres")
        restart = member.run("systemctl show -p Restart --value patroni@15-main").stdout.strip()
        assert restart == "on-failure"
        assert member.service("patroni@15-main").is_enabled and member.service("etcd").is_enabled
        # No package cluster beside Patroni's, no second Patroni.
        assert not member.file("/etc/patroni/config.yml").exists


def test_changing_the_cluster_needs_the_apis_login(members):
    member = members[MEMBERS[1]]
    answer = member.run("curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8008/restart")
    assert answer.stdout.strip() == "401"
    # Reading needs none: health checks and HAProxy read it.
    assert patroni(member, "/health") == 200


def test_replication_is_admitted_from_the_members_only(members):
    rules = sql(
        members[MEMBERS[0]],
        "select type, address from pg_hba_file_rules"
        " where 'replication' = any(database) and 'replicator' = any(user_name)",
        "postgres",
    )
    addresses = sorted(line.split("|")[1] for line in rules)
    # Loopback too: Patroni reads its own timeline that way before it promotes.
    assert addresses == ["10.89.210.11", "10.89.210.12", "10.89.210.13", "127.0.0.1", "::1"], rules
