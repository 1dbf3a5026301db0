"""The database tier with three mlflow_db hosts (molecule/ha): Patroni keeps one primary and two streaming standbys, one
of them synchronous (platform_db_synchronous), behind etcd on the same hosts; etcd refuses anyone without its login,
and Patroni's etcd user reaches its namespace only; what the primary commits is on the standbys;
postgres_server_settings hold on every member, and a changed one reaches them all (standbys first when raised, again
after the primary when lowered, by the whole converge, which changes nothing else: the scenario's idempotence run);
Patroni's file holds passwords and is 0600, and a killed Patroni comes back; changing the cluster needs the API's
login; replication is admitted from the members only; --check on the running cluster changes nothing; a rebuilt first
host gets no new secrets, and a changed member list is refused, and so is a rebuilt member in a run limited to it."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml
from conftest import (
    ADDRESSES,
    CA_FILE,
    MEMBERS,
    PATRONI,
    SCHEME,
    STATE_DIR,
    TLS,
    cluster,
    leader_of,
    patroni,
    sql,
    told,
    wait_for,
)
from runbook_harness import PLAYBOOKS, REPO_ROOT

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


CONVERGE = REPO_ROOT / "molecule" / "ha" / "converge.yml"
# What a changed postgres_server_settings changes, and all that converge.yml may change on a converged cluster.
SETTINGS_TASKS = frozenset(
    f"postgres_server : {task}"
    for task in (
        "HA | Write Patroni's configuration (0600, it holds the cluster's passwords)",
        "Reload Patroni",
        "HA | Keep the cluster's settings and synchronous replication as the inventory asks",
        "HA | Restart PostgreSQL through Patroni for its pending settings",
    )
)
# base64 of Patroni's namespace in etcd (its leader key and configuration live under it), and of the prefix's end.
NAMESPACE, NAMESPACE_END = "L2JpcnRoYS1tbGZsb3cv", "L2JpcnRoYS1tbGZsb3cw"


def etcd(member, address: str, path: str, body: dict | None = None, token: str = "") -> dict:
    """etcd's JSON API on a member's address, as anyone on the network would call it (with a token: logged in)."""
    data = f" -X POST -d {json.dumps(json.dumps(body))}" if body is not None else ""
    header = f" -H 'Authorization: {token}'" if token else ""
    answer = member.run(f"curl -s -m 5{data}{header} {SCHEME}://{address}:2379{path}")
    assert answer.rc == 0, answer.stderr
    return json.loads(answer.stdout)


def test_etcd_has_every_member_healthy_and_refuses_anyone_without_its_login(members):
    asker = members[MEMBERS[1]]
    for address in ADDRESSES.values():
        assert etcd(asker, address, "/health") == {"health": "true"}
    read = etcd(asker, ADDRESSES[MEMBERS[0]], "/v3/kv/range", {"key": NAMESPACE, "range_end": NAMESPACE_END})
    assert "user name is empty" in read.get("error", ""), read
    write = etcd(asker, ADDRESSES[MEMBERS[0]], "/v3/kv/put", {"key": NAMESPACE + "eA==", "value": "eA=="})
    assert "user name is empty" in write.get("error", ""), write
    # Patroni itself logs in: the cluster still has its leader.
    assert leader_of(cluster(members[MEMBERS[0]])) is not None


def test_patronis_etcd_user_reaches_its_namespace_only(members):
    first = members[MEMBERS[0]]
    login = yaml.safe_load(first.check_output("cat /etc/patroni/15-main.yml"))["etcd3"]
    assert login["username"] == "patroni"
    token = etcd(first, "127.0.0.1", "/v3/auth/authenticate", {"name": "patroni", "password": login["password"]})
    token = token["token"]
    mine = etcd(first, "127.0.0.1", "/v3/kv/range", {"key": NAMESPACE, "range_end": NAMESPACE_END}, token)
    assert int(mine.get("count", 0)) > 0, mine
    # Outside the namespace, and etcd's users: refused (Patroni's file opens neither).
    outside = etcd(first, "127.0.0.1", "/v3/kv/put", {"key": "L291dHNpZGU=", "value": "eA=="}, token)
    assert "permission denied" in outside.get("error", ""), outside
    users = etcd(first, "127.0.0.1", "/v3/auth/user/add", {"name": "intruder", "password": "x" * 20}, token)
    assert "permission denied" in users.get("error", ""), users


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


def test_the_settings_hold_on_every_member(members):
    # molecule/ha/converge.yml: max_connections 120 (cluster-wide under Patroni), work_mem 8MB.
    for name, member in members.items():
        assert sql(member, "show max_connections", "postgres") == ["120"], name
        assert sql(member, "show work_mem", "postgres") == ["8MB"], name


def test_patronis_file_is_0600_and_a_killed_patroni_comes_back(members):
    for member in members.values():
        config = member.file("/etc/patroni/15-main.yml")
        assert (config.mode, config.user) == (0o600, "postgres")
        assert member.service("patroni@15-main").is_enabled and member.service("etcd").is_enabled
        # No package cluster beside Patroni's, no second Patroni.
        assert not member.file("/etc/patroni/config.yml").exists
    # A standby's Patroni, killed: systemd starts it again (the role's Restart=on-failure) and it runs its member.
    name = next(n for n in MEMBERS if patroni(members[n], "/replica") == 200)
    member = members[name]
    pid = member.run("systemctl show -p MainPID --value patroni@15-main").stdout.strip()
    assert member.run("systemctl kill --kill-whom=main -s KILL patroni@15-main").rc == 0
    wait_for(
        f"{name}'s Patroni running again under a new process",
        lambda: (
            member.run("systemctl show -p MainPID --value patroni@15-main").stdout.strip() not in ("0", pid)
            and patroni(member, "/replica") == 200
        ),
        90,
    )


def test_changing_the_cluster_needs_the_apis_login(members):
    member = members[MEMBERS[1]]
    answer = member.run(f"curl -s -m 5 -o /dev/null -w '%{{http_code}}' -X POST {PATRONI}/restart")
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


@pytest.mark.skipif(not TLS, reason="the cluster runs without platform_tls")
def test_every_connection_of_the_cluster_is_encrypted(members):
    primary = members[leader_of(cluster(members[MEMBERS[0]]))]
    # pg_hba admits nothing over the network without TLS, and both standbys stream over it.
    kinds = sql(primary, "select distinct type from pg_hba_file_rules where type like 'host%'", "postgres")
    assert kinds == ["hostssl"], kinds
    streaming = sql(
        primary, "select count(*) from pg_stat_replication r join pg_stat_ssl s using (pid) where s.ssl", "postgres"
    )
    assert streaming == ["2"], streaming
    asker = members[MEMBERS[1]]
    # Patroni's REST API and etcd answer no plain HTTP, and etcd's peer port no one without a certificate of the CA.
    for url in (f"http://{ADDRESSES[MEMBERS[0]]}:8008/health", f"http://{ADDRESSES[MEMBERS[0]]}:2379/health"):
        assert asker.run(f"curl -s -m 5 -o /dev/null -w '%{{http_code}}' {url}").stdout.strip() in ("000", "400"), url
    # etcd's peer port completes a TLS handshake only with a certificate of the platform's CA.
    refused = handshake(asker, f"{MEMBERS[0]}:2380")
    assert "certificate required" in refused or "bad certificate" in refused, refused[-1500:]
    member_key = "-cert /var/lib/etcd/tls/server.crt -key /var/lib/etcd/tls/server.key"
    accepted = handshake(asker, f"{MEMBERS[0]}:2380", member_key)
    assert "Verify return code: 0 (ok)" in accepted and " alert " not in accepted, accepted[-1500:]


def handshake(member, target: str, options: str = "") -> str:
    """openssl s_client's account of a TLS handshake from member to target (host:port). It stays to read the server's
    verdict (-ign_eof): Go refuses a TLS 1.3 client's certificate, or its lack, after the client's Finished."""
    return member.run(
        f"timeout 10 openssl s_client -ign_eof -connect {target} -CAfile {CA_FILE} {options} </dev/null 2>&1"
    ).stdout


def started_at(member) -> float:
    return float(sql(member, "select extract(epoch from pg_postmaster_start_time())", "postgres")[0])


def test_a_raised_and_a_lowered_setting_reach_every_member(members, run_playbook):
    leader = leader_of(cluster(members[MEMBERS[0]]))
    before = {name: started_at(member) for name, member in members.items()}
    # The database tier only (platform_up.yml's tag), as an operator changing its settings would run it (and quicker).
    # Two more for the lowering run to take out again: one of replication's own (back to its value), one not.
    extra = {"track_io_timing": "on", "wal_keep_size": "256MB"}
    raised = run_playbook(
        CONVERGE,
        {"postgres_server_settings": {"max_connections": 130, "work_mem": "8MB", **extra}},
        tags="database",
    )
    assert raised.rc == 0, raised.stdout[-6000:]
    # max_connections needs a restart: Patroni restarted every member, and the primary kept its role.
    for name, member in members.items():
        assert sql(member, "show max_connections", "postgres") == ["130"], name
        assert sql(member, "show track_io_timing", "postgres") == ["on"], name
    after = {name: started_at(member) for name, member in members.items()}
    assert all(after[name] != before[name] for name in members), (before, after)
    # Standbys first: a standby may not run below its primary's max_connections.
    assert all(after[name] < after[leader] for name in members if name != leader), after
    assert leader_of(cluster(members[MEMBERS[0]])) == leader
    # Back to converge.yml's 120: now the primary goes first, and the standbys follow once it has. The whole converge,
    # not only its database tag: it is the scenario's idempotence run too (molecule/ha/molecule.yml has none), so
    # nothing but the database settings may change, and on the database hosts only.
    lowered = run_playbook(CONVERGE)
    assert lowered.rc == 0, lowered.stdout[-6000:]
    changed = lowered.changed_tasks()
    # Every change the recap counts is named (a no_log task's too), and each is one of the settings'.
    assert len(changed) == lowered.changed(), (lowered.changed(), sorted(changed))
    assert {task for host, task in changed} <= SETTINGS_TASKS, sorted(changed)
    assert {host for host, task in changed} <= set(MEMBERS), sorted(changed)
    for name, member in members.items():
        assert sql(member, "show max_connections", "postgres") == ["120"], name
        # Taken out of the cluster's configuration, not left behind: the default, and replication's own value.
        assert sql(member, "show track_io_timing", "postgres") == ["off"], name
        assert sql(member, "show wal_keep_size", "postgres") == ["128MB"], name
    # PostgreSQL's default is 0, Patroni's 128MB: only the configuration says it was set back, not nulled.
    parameters = json.loads(members[MEMBERS[0]].run(f"curl -s -m 5 {PATRONI}/config").stdout)
    assert "track_io_timing" not in parameters["postgresql"]["parameters"], parameters
    assert parameters["postgresql"]["parameters"]["wal_keep_size"] == "128MB", parameters
    view = cluster(members[MEMBERS[0]])
    assert leader_of(view) == leader
    assert not any(m.get("pending_restart") for m in view["members"]), view


def test_a_rebuilt_first_host_gets_no_new_secrets(members, run_playbook):
    first = members[MEMBERS[0]]
    # As a rebuilt host: no kept state, no Patroni file; the other members run on, each with its copy of the state.
    aside = [(STATE_DIR, STATE_DIR + ".aside"), ("/etc/patroni/15-main.yml", "/root/15-main.yml.aside")]
    others = [members[name] for name in MEMBERS[1:]]
    for path, moved in aside:
        assert first.run(f"mv {path} {moved}").rc == 0
    try:
        # Without this controller's copy: the secrets can only come from the platform.
        read = run_playbook(PLAYBOOKS / "platform_state.yml", {"platform_credentials_dir": ""})
        generated = first.file(STATE_DIR).exists
        # No member keeps any state (a cluster whose only copy was on its rebuilt first host, before mirroring).
        for member in others:
            assert member.run(f"mv {STATE_DIR} {STATE_DIR}.aside").rc == 0
        lost = run_playbook(PLAYBOOKS / "platform_state.yml", {"platform_credentials_dir": ""})
        generated_when_lost = [name for name, member in members.items() if member.file(STATE_DIR).exists]
    finally:
        for member in others:
            member.run(f"if [ -d {STATE_DIR}.aside ]; then rm -rf {STATE_DIR}; mv {STATE_DIR}.aside {STATE_DIR}; fi")
        for path, moved in aside:
            first.run(f"rm -rf {path}; mv {moved} {path}")
    assert read.rc == 0, read.stdout[-4000:]
    assert told(read).startswith(f"{MEMBERS[0]} has no copy: this run uses the newest copy, on {MEMBERS[1]}.")
    assert not generated, "a reading run wrote state on the rebuilt host"
    assert lost.rc != 0, lost.stdout[-4000:]
    assert "its database cluster runs on the other mlflow_db hosts" in lost.stdout, lost.stdout[-4000:]
    assert "platform_db_etcd_password" in lost.stdout
    assert not generated_when_lost


def test_a_changed_member_list_is_refused(members, run_playbook):
    grown = [*MEMBERS, "birtha-ha4", "birtha-ha5"]
    # Even --check stops at the role's input checks, before anything would be changed.
    refused = run_playbook(CONVERGE, {"postgres_server_ha_hosts": grown}, check=True)
    assert refused.rc != 0
    assert "runs with the members" in refused.stdout and "birtha-ha5" in refused.stdout, refused.stdout[-4000:]
    assert "Nothing was changed" in refused.stdout
    assert refused.stats.get("changed", {}) == {}


@pytest.mark.skipif(not TLS, reason="the cluster runs without platform_tls")
def test_turning_tls_off_on_the_running_cluster_is_refused(members, run_playbook):
    # Limited to one member, as an operator might try it host by host: the others' etcd still says how it runs.
    refused = run_playbook(CONVERGE, {"platform_tls": False}, check=True, limit=MEMBERS[-1])
    assert refused.rc != 0
    said = " ".join(refused.stdout.split())
    assert "runs with TLS, and the inventory now asks for it off (platform_tls)" in said, refused.stdout[-4000:]
    assert refused.stats.get("changed", {}) == {}


def test_a_rebuilt_member_is_refused_even_in_a_run_limited_to_it(members, run_playbook):
    last = members[MEMBERS[-1]]
    # As a rebuilt host: etcd's data gone. etcd stopped first (the other two keep the majority).
    assert last.run("systemctl stop etcd && mv /var/lib/etcd/default/member /root/etcd-member.aside").rc == 0
    try:
        refused = run_playbook(CONVERGE, check=True, limit=MEMBERS[-1])
    finally:
        restored = last.run("mv /root/etcd-member.aside /var/lib/etcd/default/member && systemctl start etcd")
    assert restored.rc == 0, restored.stderr
    # Only the other members' etcd, asked over the network, knows it was a member.
    assert refused.rc != 0
    assert f"{MEMBERS[-1]} is rebuilt (its etcd data is gone)" in refused.stdout, refused.stdout[-4000:]
    assert refused.stats.get("changed", {}) == {}
    wait_for(
        "etcd back on the rebuilt member",
        lambda: '"health":"true"' in last.check_output(f"curl -s {SCHEME}://127.0.0.1:2379/health"),
        60,
    )


def test_the_health_check_names_the_leader_and_each_standby(members, run_playbook, tmp_path):
    leader = leader_of(cluster(members[MEMBERS[0]]))
    checked = run_playbook(
        PLAYBOOKS / "health_check.yml",
        {"platform_health_fail_on_unhealthy": False, "platform_report_dir": str(tmp_path)},
    )
    assert checked.rc == 0, checked.stdout[-4000:]
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    database = [c for c in report["checks"] if c["tier"] == "postgres"]
    for name in MEMBERS:
        mine = {c["check"]: c for c in database if c["host"] == name}
        # Patroni's unit is the service; the cluster unit postgresql@15-main stays stopped under Patroni.
        assert mine["service"]["status"] == "ok", mine["service"]
        assert mine["service"]["data"]["unit"] == "patroni@15-main", mine["service"]
        assert mine["etcd"]["status"] == "ok", mine["etcd"]
        assert mine["patroni"]["status"] == "ok", mine["patroni"]
        assert mine["patroni"]["data"]["leader"] == leader
        assert mine["patroni"]["detail"].startswith(f"{leader} leads; ")
        assert sorted(m["name"] for m in mine["patroni"]["data"]["members"]) == MEMBERS
