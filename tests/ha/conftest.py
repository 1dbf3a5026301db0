"""Fixtures of tests/ha (molecule/ha): playbooks through ansible-runner (tests/platform_fixtures.py), the cluster's
hosts through testinfra, and a writer that inserts through MLflow's multi-host connection while a test moves or
stops the primary."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

import platform_fixtures
import pytest
from runbook_harness import other_host, wait_for

MEMBERS = ["birtha-ha1", "birtha-ha2", "birtha-ha3"]
# Their fixed addresses (molecule/ha/molecule.yml): what inet_server_addr() reports.
ADDRESSES = dict(zip(MEMBERS, ["10.89.210.11", "10.89.210.12", "10.89.210.13"], strict=True))
WRITER = Path(__file__).resolve().parent / "files" / "pg_writer.py"
WRITER_ON_HOST = "/root/pg_writer.py"
STATE_DIR = "/etc/birtha-mlflow/state"
# molecule/ha runs hardened (BIRTHA_PLATFORM_TLS): Patroni and etcd then answer HTTPS only, verified with the
# platform's CA, which ssl_hardening put in each host's trust store (curl's too); PostgreSQL admits TLS logins only.
TLS = os.environ.get("BIRTHA_PLATFORM_TLS", "false").lower() == "true"
SCHEME = "https" if TLS else "http"
PATRONI = f"{SCHEME}://127.0.0.1:8008"
CA_FILE = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"


def pytest_configure(config: pytest.Config) -> None:
    platform_fixtures.register(config)


def patroni(member, path: str) -> int:
    """HTTP status of a GET on a member's Patroni REST API (0: no answer)."""
    answer = member.run(f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' {PATRONI}{path}")
    return int(answer.stdout.strip() or 0)


def cluster(member) -> dict:
    """Patroni's view of the cluster, as one member reports it."""
    answer = member.run(f"curl -s -m 5 {PATRONI}/cluster")
    assert answer.rc == 0, answer.stderr
    return json.loads(answer.stdout)


def synchronous_standby(member) -> str:
    """The running member Patroni names the synchronous standby, as `member` reports it (waits for one)."""
    return wait_for(
        "a synchronous standby",
        lambda: [m["name"] for m in cluster(member)["members"] if m["role"] == "sync_standby"],
        60,
    )[0]


def leader_of(view: dict) -> str | None:
    leaders = [m["name"] for m in view["members"] if m["role"] == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def sql(member, query: str, database: str = "mlflow_db") -> list[str]:
    """Rows of a query run as postgres over the member's local socket (one line each, fields |-separated)."""
    answer = member.run(f"runuser -u postgres -- psql -XAtq -d {database} -c {json.dumps(query)}")
    assert answer.rc == 0, answer.stderr
    return [line for line in answer.stdout.splitlines() if line]


def told(result) -> str:
    """What a platform_state run said of out-of-reach and older copies ('' when it said nothing)."""
    said = result.task_results("Say which state hosts are out of reach or keep an older copy")
    return " ".join(str(said[0].get("msg", "")).split()) if said else ""


@pytest.fixture(scope="module")
def members(host) -> dict:
    return {name: other_host(host, name) for name in MEMBERS}


@pytest.fixture(scope="module")
def mlflow_password(members) -> str:
    # The platform keeps it on the state host (the first mlflow_db host), root-only.
    return members[MEMBERS[0]].file(f"{STATE_DIR}/postgres_mlflow_password").content_string.strip()


class Writer:
    """tests/ha/files/pg_writer.py in the background on a member: inserts through every member with
    target_session_attrs=read-write, as MLflow's URI connects, and records each insert PostgreSQL acknowledged."""

    def __init__(self, member, password: str) -> None:
        self.member, self.run = member, uuid.uuid4().hex[:8]
        self.config, self.output, self.stop = (f"/root/pg-writer-{self.run}.{ext}" for ext in ("json", "out", "stop"))
        params = {
            "host": ",".join(MEMBERS),
            "port": ",".join(["5432"] * len(MEMBERS)),
            "dbname": "mlflow_db",
            "user": "mlflow",
            "password": password,
            "target_session_attrs": "read-write",
            "connect_timeout": "3",
        }
        if TLS:
            params.update(sslmode="verify-full", sslrootcert=CA_FILE)
        member.ansible("ansible.builtin.copy", f"src={WRITER} dest={WRITER_ON_HOST} mode=0700", check=False)
        # The password reaches the writer in 0600 files, never on a command line.
        with tempfile.TemporaryDirectory() as scratch:
            local = Path(scratch) / "writer.json"
            local.touch(mode=0o600)
            local.write_text(json.dumps({"params": params, "note": self.run}))
            member.ansible("ansible.builtin.copy", f"src={local} dest={self.config} mode=0600", check=False)

    def start(self) -> Writer:
        started = self.member.run(
            f"nohup python3 {WRITER_ON_HOST} {self.config} {self.output} {self.stop} >/dev/null 2>&1 &"
        )
        assert started.rc == 0, started.stderr
        progress = self.member.file(self.output + ".progress")
        wait_for("the writer's first acknowledged insert", lambda: progress.exists, 30)
        return self

    def finish(self, wait: int = 60) -> dict:
        self.member.run(f"touch {self.stop}")
        return json.loads(
            wait_for(
                "the writer's result",
                lambda: self.member.file(self.output).exists and self.member.file(self.output).content_string,
                wait,
            )
        )


@pytest.fixture
def writer(members, mlflow_password):
    def make(on: str) -> Writer:
        return Writer(members[on], mlflow_password).start()

    return make
