"""The artifact store as a SeaweedFS cluster of three members (molecule/ha, whose hosts are also the database
cluster's members and MLflow's servers): one raft of masters, a volume server on each member, two copies of every
object, each member's gateway serving every object, internal traffic under mutual TLS, and any one member's host lost
without losing an object or the ability to write one; back, it rejoins and every health check of it (and the
proxy's) is ok."""

from __future__ import annotations

import json
import shlex
import socket
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from runbook_harness import health_report, not_ok_on, other_host, platform_data, podman, wait_for

MEMBERS = ["birtha-ha1", "birtha-ha2", "birtha-ha3"]
# Their fixed addresses (molecule/ha/molecule.yml).
ADDRESSES = dict(zip(MEMBERS, ["10.89.210.11", "10.89.210.12", "10.89.210.13"], strict=True))
BUCKET = "cluster-probe"
PROBE = Path(__file__).resolve().parent / "files" / "s3_object.py"
PROBE_ON_HOST = "/root/s3_object.py"
CA = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"
# Seconds for the masters' maintenance to give a volume its lost copy: two of its one-minute runs, and the copy.
MAINTENANCE_WAIT = 240

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]


@pytest.fixture(scope="module")
def members(host) -> dict:
    reached = {name: other_host(host, name) for name in MEMBERS}
    for member in reached.values():
        member.ansible("ansible.builtin.copy", f"src={PROBE} dest={PROBE_ON_HOST} mode=0700", check=False)
    return reached


def s3(member, *args: str) -> dict:
    """The probe on a member, through that member's own gateway."""
    answer = member.run(" ".join(["/usr/bin/python3", PROBE_ON_HOST, *args]))
    assert answer.rc == 0, answer.stderr
    return json.loads(answer.stdout.strip().splitlines()[-1])


def master(member, path: str) -> dict:
    answer = member.run(f"curl -s -m 5 http://127.0.0.1:9333{path}")
    return json.loads(answer.stdout) if answer.rc == 0 and answer.stdout.startswith("{") else {}


def data_nodes(member) -> dict[str, str]:
    """Each volume server the leader knows: its address and the ids of the volumes it holds."""
    topology = master(member, "/dir/status").get("Topology", {})
    return {
        node["Url"].split(":")[0]: node.get("VolumeIds", "")
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
        for node in rack.get("DataNodes") or []
    }


def volume_ids(listed: str) -> list[int]:
    """SeaweedFS lists a node's volumes as ranges: "1-3 5" or "1-3,5"."""
    ids: list[int] = []
    for part in listed.replace(",", " ").split():
        bounds = part.split("-", 1)
        # Past 100 volumes a node's list ends in "...": the rest is not listed.
        if all(bound.isdigit() for bound in bounds):
            ids.extend(range(int(bounds[0]), int(bounds[-1]) + 1))
    return ids


def test_the_members_form_one_cluster_of_masters_and_volume_servers(members):
    def leaders() -> dict[str, str]:
        return {name: master(member, "/cluster/status").get("Leader", "") for name, member in members.items()}

    # A master that (re)started moments ago learns the leader within seconds.
    agreed = wait_for("every master to name the same leader", lambda: len(set(leaders().values()) - {""}) == 1, 60)
    assert agreed
    named = leaders()
    assert len(set(named.values())) == 1, named
    leader = next(iter(named.values())).split(":")[0]
    assert leader in ADDRESSES.values(), named
    nodes = wait_for("three volume servers", lambda: len(data_nodes(members[MEMBERS[0]])) == 3, 60)
    assert nodes
    assert sorted(data_nodes(members[MEMBERS[0]])) == sorted(ADDRESSES.values())


def test_an_object_written_through_one_member_is_read_through_every_other_on_two_members(members, capsys):
    key, text = f"written-on-1/{uuid.uuid4().hex}", uuid.uuid4().hex
    assert s3(members[MEMBERS[0]], "put", BUCKET, key, text) == {"put": key}
    for name in MEMBERS[1:]:
        wait_for(f"{key} through {name}", lambda m=members[name]: s3(m, "get", BUCKET, key).get("body") == text, 30)
    # Replication "001" (a cluster's default): every volume is on exactly two of the members. The master's view is
    # built from the volume servers' heartbeats (anew after a leader change). CI twice found a young volume with one
    # copy while every member ran (cause not known); the masters' maintenance (the role's master.toml; every minute
    # here, molecule/shared/group_vars) copies it. Read until it holds, for four minutes.
    started = time.monotonic()
    first = held = volumes_held(members)
    while not (held and set(held.values()) == {2}) and time.monotonic() < started + MAINTENANCE_WAIT:
        time.sleep(5)
        held = volumes_held(members)
    assert held and set(held.values()) == {2}, held
    if first != held:
        # Shown in the scenario's log: how often a volume starts with one copy (the cause is still not known).
        with capsys.disabled():
            print(f"\n[replication] {dict(first)} at first, two copies each after {time.monotonic() - started:.0f} s")


def volumes_held(members) -> Counter:
    """How many volume servers hold each volume, as the master lists them."""
    return Counter(vid for listed in data_nodes(members[MEMBERS[0]]).values() for vid in volume_ids(listed))


def weed_shell(member, *commands: str):
    """weed shell on a member as the service, with the members' certificates (security.toml in its directory)."""
    lines = " ".join(shlex.quote(line) for line in ["lock", *commands, "unlock"])
    return member.run(
        f"cd /etc/seaweedfs && printf '%s\\n' {lines} | runuser -u seaweedfs -- /usr/local/bin/weed shell"
        " -master=127.0.0.1:9333"
    )


def test_a_volume_that_lost_a_copy_gets_it_back(members):
    """One copy of a volume deleted on one member, as a replaced disk or a creation cut short leaves it: the masters'
    maintenance copies it back from the other member."""
    first = members[MEMBERS[0]]
    holders: dict[int, list[str]] = {}
    for address, listed in data_nodes(first).items():
        for vid in volume_ids(listed):
            holders.setdefault(vid, []).append(address)
    twice = sorted(vid for vid, nodes in holders.items() if len(nodes) == 2)
    assert twice, f"no volume on two members to take a copy from: {holders}"
    vid, nodes = twice[0], holders[twice[0]]
    deleted = weed_shell(first, f"volume.delete -node {nodes[0]}:8080 -volumeId {vid}")
    assert deleted.rc == 0, deleted.stdout + deleted.stderr
    wait_for(f"volume {vid} listed once", lambda: volumes_held(members)[vid] == 1, 30)
    wait_for(f"volume {vid} back on two members", lambda: volumes_held(members)[vid] == 2, MAINTENANCE_WAIT, step=5)


def test_a_client_without_a_members_certificate_is_refused(members):
    first = members[MEMBERS[0]]
    # The internal servers answer on the members' addresses, gRPC only with a member's certificate. Go refuses a
    # TLS 1.3 client without one after the client's Finished, so s_client must stay to read the alert (-ign_eof).
    for port in (19333, 18080, 18888):
        handshake = first.run(
            f"timeout 10 openssl s_client -ign_eof -connect {ADDRESSES[MEMBERS[1]]}:{port} -CAfile {CA} </dev/null 2>&1"
        )
        said = handshake.stdout
        assert "certificate required" in said or "bad certificate" in said, (port, said[-1500:])


def reaches(address: str, port: int) -> bool:
    """Whether this controller gets a TCP connection to address:port within 3 s (a dropped SYN times out)."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def test_the_internal_ports_are_closed_to_a_host_outside_the_cluster(members):
    # This controller reaches the members' network (podman's bridge) but is not a member. Without the role's
    # firewall a follower master would forward its /col/delete to the leader as itself, a member, and the bucket
    # would be gone; the S3 gateway stays open.
    for address in ADDRESSES.values():
        opened = [port for port in (9333, 19333, 8080, 18080, 8888, 18888, 19000) if reaches(address, port)]
        assert opened == [], (address, opened)
        assert reaches(address, 9000), address
    # A member still reaches them all.
    assert members[MEMBERS[0]].run(f"curl -s -m 3 http://{ADDRESSES[MEMBERS[2]]}:9333/cluster/status").rc == 0


def asynchronous_standby(member) -> str:
    """The database member Patroni has neither as leader nor as synchronous standby (the members also run PostgreSQL
    under Patroni, whose REST API is HTTPS with the platform's CA in the system's trust)."""

    def replica() -> str | None:
        answer = member.run("curl -s -m 5 https://127.0.0.1:8008/cluster")
        view = json.loads(answer.stdout) if answer.rc == 0 and answer.stdout.startswith("{") else {}
        return next((m["name"] for m in view.get("members", []) if m.get("role") == "replica"), None)

    return wait_for("an asynchronous standby", replica, 120, step=5)


def test_one_member_lost_loses_no_object_and_stops_no_upload(members, run_playbook, capsys):
    # The store alone is under test: the host lost is the database's asynchronous standby, so no commit waits on it
    # (losing the primary's host is tests/ha/test_z_failover.py's).
    lost = asynchronous_standby(members[MEMBERS[0]])
    # benchmarks/playbooks/platform_data.yml writes on mlflow_tracking[0], the first member, which leads the database
    # until tests/ha's switchover (sorted after these): never the standby.
    assert lost != MEMBERS[0], f"{MEMBERS[0]} is the asynchronous standby: the database's leader moved before this test"
    first, second = [name for name in MEMBERS if name != lost]
    before = {f"before/{number}-{uuid.uuid4().hex}": uuid.uuid4().hex for number in range(5)}
    for key, text in before.items():
        assert s3(members[first], "put", BUCKET, key, text) == {"put": key}
    # A member's host stopped outright, as a crashed machine is.
    assert podman("stop", "-t", "0", lost).returncode == 0
    stopped = time.monotonic()
    try:
        for name in (first, second):
            for key, text in before.items():
                wait_for(
                    f"{key} through {name}",
                    lambda m=members[name], k=key, t=text: s3(m, "get", BUCKET, k).get("body") == t,
                    30,
                )
        # New objects: the first attempts may wait for the masters to notice the lost member.
        during_key, during_text = f"during/{uuid.uuid4().hex}", uuid.uuid4().hex
        wait_for(
            "an upload with a member down",
            lambda: s3(members[second], "put", BUCKET, during_key, during_text).get("put"),
            120,
            step=5,
        )
        uploading = time.monotonic() - stopped
        assert s3(members[first], "get", BUCKET, during_key) == {"body": during_text}
        # MLflow (on the first member) logs runs with artifacts meanwhile.
        experiment = f"cluster-down-{uuid.uuid4().hex[:8]}"
        platform_data(run_playbook, "generate", "--experiment", experiment, "--runs", "3", "--artifacts", "2")
        state = platform_data(run_playbook, "state", "--experiment", experiment)
        assert len(state[experiment]["runs"]) == 3 and state[experiment]["objects"] >= 2, state
    finally:
        assert podman("start", lost).returncode == 0
    started = time.monotonic()
    # Back: its master follows the leader, its volume server rejoins, and its gateway serves what was written while
    # it was away.
    wait_for(
        "the member's master to name the leader", lambda: master(members[lost], "/cluster/status").get("Leader"), 120
    )
    wait_for("the member's volume server back", lambda: ADDRESSES[lost] in data_nodes(members[first]), 180, 5)
    wait_for(
        "the object written while it was away, through its gateway",
        lambda: s3(members[lost], "get", BUCKET, during_key).get("body") == during_text,
        180,
        step=5,
    )
    # The host is also a database member and an MLflow server: it streams again, its server is back in the proxy,
    # and every health check of it is ok again.
    rejoined = time.monotonic() - started
    wait_for(f"every check of {lost} ok again", lambda: not not_ok_on(health_report(run_playbook), lost), 300, 10)
    with capsys.disabled():
        print(
            f"\n[store member lost] {lost} stopped: {len(before)} objects readable through the others, the first"
            f" upload after {uploading:.0f}s, 3 MLflow runs with artifacts; started again: serving what was written"
            f" meanwhile after {rejoined:.0f}s, every health check of it ok after {time.monotonic() - started:.0f}s"
        )
