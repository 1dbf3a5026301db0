"""The platform's state mirrored on every database host (molecule/ha): each member keeps the same secrets, CA and
certificates; a member that lost its copy or keeps an older one gets the newest back from the others on the next
run that writes (a reading run changes nothing and says so); and with the first member out of reach every playbook
still reads and checks the platform's secrets on the others, deployments included."""

from __future__ import annotations

import os

import pytest
from conftest import MEMBERS, STATE_DIR, told
from runbook_harness import PLAYBOOKS, connection_vars, credentials_dir, derived_inventory, inventory_listing

testinfra_hosts = [f"ansible://{MEMBERS[0]}"]

PLATFORM_STATE = PLAYBOOKS / "platform_state.yml"
KEPT = f"{STATE_DIR}.test-kept"


def state_of(member) -> dict[str, str]:
    """Every kept file's sha256 by its relative name (.revision included): equal dicts are identical copies."""
    listing = member.run(f"cd {STATE_DIR} && find . -type f -print0 | sort -z | xargs -0 sha256sum")
    assert listing.rc == 0, listing.stderr
    return {
        name.removeprefix("./"): digest
        for digest, name in (line.split(maxsplit=1) for line in listing.stdout.splitlines())
    }


def kept(member, name: str) -> str:
    return member.file(f"{STATE_DIR}/{name}").content_string.strip()


def controller_copy(name: str) -> str:
    return (credentials_dir() / name).read_text().strip()


def test_every_member_keeps_the_same_state_root_only(members):
    copies = {name: state_of(members[name]) for name in MEMBERS}
    first = copies[MEMBERS[0]]
    # molecule/ha runs without platform_tls: no tls/ here.
    assert {"postgres_mlflow_password", "patroni_api_password", "etcd_root_password", ".revision"} <= set(first)
    for name in MEMBERS[1:]:
        assert copies[name] == first, f"{name}'s state differs from {MEMBERS[0]}'s"
        member = members[name]
        assert member.file(STATE_DIR).mode == 0o700
        loose = member.run(f"find {STATE_DIR} -type f ! -perm 0600 -o -type d ! -perm 0700").stdout.split()
        assert not loose, f"{name}: {loose} are not root-only"


def test_a_lost_and_a_stale_copy_come_back_from_the_newest(members, run_playbook):
    lost, stale = members[MEMBERS[1]], members[MEMBERS[2]]
    newest = state_of(members[MEMBERS[0]])
    revision = int(kept(members[MEMBERS[0]], ".revision"))
    assert revision >= 1
    for member in (lost, stale):
        assert member.run(f"rm -rf {KEPT} && cp -a {STATE_DIR} {KEPT}").rc == 0
    assert lost.run(f"rm -rf {STATE_DIR}").rc == 0
    # An older copy: another value under a lower revision, as a member down during a rotation keeps.
    older = f"echo stale > {STATE_DIR}/mlflow_admin_password && echo {revision - 1} > {STATE_DIR}/.revision"
    assert stale.run(older).rc == 0
    try:
        reading = run_playbook(PLATFORM_STATE)
        assert reading.rc == 0, reading.stdout[-3000:]
        assert told(reading).startswith(
            f"{MEMBERS[1]} has no copy; {MEMBERS[2]} keeps an older copy:"
            f" this run uses the newest copy, on {MEMBERS[0]}."
        )
        # The run worked with the newest copy: the controller's copy was refreshed from it, not from the stale one.
        assert controller_copy("mlflow_admin_password") == kept(members[MEMBERS[0]], "mlflow_admin_password")
        assert not lost.file(STATE_DIR).exists, "a reading run wrote a state directory"
        assert kept(stale, "mlflow_admin_password") == "stale", "a reading run changed a member's copy"

        writing = run_playbook(PLATFORM_STATE, {"platform_state_write": True})
        assert writing.rc == 0, writing.stdout[-3000:]
        assert state_of(lost) == newest
        assert state_of(stale) == newest
        assert lost.file(STATE_DIR).mode == 0o700
        again = run_playbook(PLATFORM_STATE, {"platform_state_write": True})
        assert (again.rc, again.changed()) == (0, 0), again.stdout[-3000:]
    finally:
        # Whatever failed above, the later tests get the members' copies back as they were.
        for member in (lost, stale):
            member.run(f"rm -rf {STATE_DIR} && mv {KEPT} {STATE_DIR}")


@pytest.fixture
def out_of_reach(tmp_path_factory):
    """The scenario's inventory with these members out of reach (nothing listens on loopback port 9), as an
    operator's laptop sees hosts that are down or cut off; its file and the extra variables to run it with."""

    def make(*names: str) -> tuple[str, dict[str, str]]:
        inventory = os.environ["MOLECULE_INVENTORY_FILE"]
        listing = inventory_listing(inventory)
        hosts = {name: connection_vars(listing, name) for name in listing["_meta"]["hostvars"]}
        for name in names:
            hosts[name] = {
                "ansible_connection": "ssh",
                "ansible_host": "127.0.0.1",
                "ansible_port": 9,
                "ansible_ssh_common_args": "-o ConnectTimeout=5 -o StrictHostKeyChecking=no -o BatchMode=yes",
            }
        groups = {
            group: listing[group]["hosts"]
            for group in ("mlflow_db", "mlflow_artifacts", "mlflow_tracking", "mlflow_backup")
            if listing.get(group, {}).get("hosts")
        }
        path, credentials = derived_inventory(inventory, tmp_path_factory.mktemp("out-of-reach"), hosts, groups)
        return path, {"platform_credentials_dir": credentials}

    return make


def test_the_first_member_away_leaves_the_secrets_on_the_others(members, run_playbook, out_of_reach):
    path, extravars = out_of_reach(MEMBERS[0])
    before = state_of(members[MEMBERS[1]])
    # A writing run (what platform_up.yml does first) needs the state: it used to stop with the first member away.
    result = run_playbook(PLATFORM_STATE, {**extravars, "platform_state_write": True}, other_inventory=path)
    assert result.rc == 0, result.stdout[-3000:]
    assert told(result).startswith(f"{MEMBERS[0]} is unreachable: this run uses the newest copy, on {MEMBERS[1]}.")
    assert result.changed() == 0
    assert state_of(members[MEMBERS[1]]) == before
    assert controller_copy("postgres_mlflow_password") == kept(members[MEMBERS[1]], "postgres_mlflow_password")


def test_a_write_without_a_majority_of_the_members_is_refused(members, run_playbook, out_of_reach):
    path, extravars = out_of_reach(*MEMBERS[:2])
    before = state_of(members[MEMBERS[2]])
    refused = run_playbook(PLATFORM_STATE, {**extravars, "platform_state_write": True}, other_inventory=path)
    assert refused.rc != 0
    [said] = refused.task_results("Stop a run that writes while a majority of the state hosts is out of reach")
    message = " ".join(said["msg"].split())
    assert message.startswith(f"{MEMBERS[0]}, {MEMBERS[1]} of the state hosts"), message
    assert "Nothing was changed" in message
    assert state_of(members[MEMBERS[2]]) == before
    # Reading goes on with the one left: an emergency or a diagnosis must still run.
    read = run_playbook(PLATFORM_STATE, extravars, other_inventory=path)
    assert read.rc == 0, read.stdout[-3000:]


def test_a_state_host_given_on_the_command_line_is_refused(members, run_playbook):
    newest = state_of(members[MEMBERS[0]])
    refused = run_playbook(PLATFORM_STATE, {"platform_state_write": True, "platform_state_host": MEMBERS[2]})
    assert refused.rc != 0
    [said] = refused.task_results("Require the member holding the newest copy as platform_state_host")
    assert f"but {MEMBERS[0]} holds the newest copy" in " ".join(said["msg"].split())
    assert state_of(members[MEMBERS[0]]) == newest
