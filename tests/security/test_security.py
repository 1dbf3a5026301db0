"""The security model's claims (README "Security model"), checked on the hardened three-host platform of the
security scenario: who can reach what, over which protocol, with which account."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS, credentials_dir, other_host

HERE = Path(__file__).resolve().parent
PROBE = HERE / "files" / "security_probe.py"
PROBE_ON_HOST = "/root/security_probe.py"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "security",
    reason="needs the security scenario's hardened hosts",
)

testinfra_hosts = ["ansible://birtha-mlflow"]
# The users' passwords for the whole session: a later run with the same ones must change nothing.
USER_PASSWORDS = {f"{name}_password": secrets.token_urlsafe(18) for name in ("alice", "bob", "carol")}
EXPECTED_ACCESS = {
    "alice": 200,  # READ granted
    "bob": 403,  # DENY granted
    "carol": 403,  # no grant: the hardened default permission is NO_PERMISSIONS
    "alice-wrong-password": 401,
    "anonymous": 401,
}


def probe(host, *args: str) -> dict:
    """The probe on the MLflow host: it reads MLflow's credentials from the host's files, not its arguments."""
    host.ansible("ansible.builtin.copy", f"src={PROBE} dest={PROBE_ON_HOST} mode=0700", check=False)
    result = host.run(" ".join([MLFLOW_PYTHON, PROBE_ON_HOST, *args]))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgres_refuses_plaintext_from_another_host_and_accepts_verified_tls(host):
    plain = probe(host, "pg", "birtha-db", "disable")
    assert not plain["connected"]
    assert "no pg_hba.conf entry" in plain["error"] and "no encryption" in plain["error"], plain
    verified = probe(host, "pg", "birtha-db", "verify-full")
    assert verified["connected"] and verified["ssl"], verified
    assert verified["version"] in ("TLSv1.2", "TLSv1.3"), verified


@pytest.mark.parametrize(("target", "port"), [("birtha-minio", 9000), ("birtha-mlflow", 5000)])
def test_https_refuses_tls_1_0_and_1_1(host, target, port):
    old = probe(host, "tls", target, str(port), "TLSv1", "TLSv1.1")
    assert not old["handshake"], old
    # The same client, allowed TLS 1.2, gets through: the refusal above is the server's.
    current = probe(host, "tls", target, str(port), "TLSv1.2", "TLSv1.3")
    assert current["handshake"], current


def test_postgres_refuses_tls_1_0_and_1_1(host):
    old = probe(host, "pg_tls", "birtha-db", "TLSv1", "TLSv1.1")
    assert not old["connected"], old
    current = probe(host, "pg_tls", "birtha-db", "TLSv1.2", "TLSv1.3")
    assert current["connected"], current


@pytest.mark.parametrize(
    "url", ["http://birtha-minio:9000/minio/health/live", "http://birtha-minio:9000/mlflow-artifacts/"]
)
def test_minio_does_not_serve_plain_http(host, url):
    answer = probe(host, "http", url)
    assert answer["status"] != 200, answer
    assert "ListBucketResult" not in answer["body"], answer


def test_mlflow_does_not_serve_plain_http(host):
    answer = probe(host, "http", "http://birtha-mlflow:5000/health")
    assert answer["status"] != 200, answer


def test_mlflow_account_cannot_read_another_bucket(host):
    minio = other_host(host, "birtha-minio")
    assert minio.run("mc mb --ignore-existing birtha/security-other").rc == 0
    assert minio.run("echo not-for-mlflow | mc pipe birtha/security-other/secret.txt").rc == 0
    denied = probe(host, "s3_read", "https://birtha-minio:9000", "security-other")
    assert denied == {"list": "AccessDenied", "get": "AccessDenied"}, denied
    own = probe(host, "s3_read", "https://birtha-minio:9000", "mlflow-artifacts")
    assert own["list"] == "allowed", own


def test_users_see_only_what_permissions_grant_and_rerun_changes_nothing(run_playbook):
    first = run_playbook(HERE / "playbooks" / "access.yml", USER_PASSWORDS)
    assert first.rc == 0, first.stdout[-6000:]
    assert first.stat("access_statuses") == EXPECTED_ACCESS
    second = run_playbook(HERE / "playbooks" / "access.yml", USER_PASSWORDS)
    assert second.rc == 0, second.stdout[-6000:]
    assert second.changed() == 0, second.stdout[-6000:]


def test_monitoring_and_backup_roles_have_least_privilege(run_playbook):
    result = run_playbook(HERE / "playbooks" / "service_roles.yml")
    assert result.rc == 0, result.stdout[-6000:]
    assert result.stat("service_roles") == {
        "monitor-activity": "allowed",  # pg_monitor: statistics and activity
        "monitor-read-runs": "refused",  # but no table data
        "backup-read-runs": "allowed",  # pg_read_all_data
        "backup-write": "refused",  # and nothing else
        "monitor-plaintext": "refused",  # hostssl only
    }


@pytest.mark.parametrize(
    ("server", "path", "owner"),
    [
        ("birtha-db", "/var/lib/postgresql/tls/server.key", "postgres"),
        ("birtha-minio", "/etc/minio/certs/private.key", "minio-user"),
        ("birtha-mlflow", "/etc/mlflow/tls/server.key", "mlflow"),
        ("birtha-mlflow", "/etc/mlflow/basic_auth.ini", "mlflow"),
        ("birtha-mlflow", "/etc/mlflow/mlflow.env", "root"),
        ("birtha-minio", "/etc/default/minio", "root"),
    ],
)
def test_secret_files_on_hosts_are_0600_and_owned_by_their_service(host, server, path, owner):
    found = other_host(host, server).file(path)
    assert found.exists, path
    assert found.mode == 0o600, f"{path} is {oct(found.mode)}"
    assert found.user == owner, f"{path} belongs to {found.user}"


def test_mismatched_certificate_is_refused_before_any_service_changes(run_playbook):
    tls = credentials_dir() / "tls"
    bad = {
        "ssl_hardening_ca_cert": str(tls / "ca.crt"),
        "ssl_hardening_host_cert": str(tls / "birtha-minio.crt"),
        "ssl_hardening_host_key": str(tls / "birtha-db.key"),
    }
    result = run_playbook(PLAYBOOKS / "platform_up.yml", bad)
    assert result.rc != 0
    assert "TLS material refused" in result.stdout and str(tls / "birtha-db.key") in result.stdout
    assert "is not the private key of" in result.stdout, result.stdout[-4000:]
    assert result.changed() == 0, result.stdout[-4000:]


def test_rotating_every_credential_keeps_data_users_and_service(run_playbook):
    directory = credentials_dir()
    before = {name: (directory / name).read_text() for name in ("postgres_mlflow_password", "mlflow_admin_password")}
    refused = run_playbook(PLAYBOOKS / "rotate_credentials.yml")
    assert refused.rc != 0 and "rotate_credentials_confirm=true" in refused.stdout
    assert {name: (directory / name).read_text() for name in before} == before

    rotated = run_playbook(PLAYBOOKS / "rotate_credentials.yml", {"rotate_credentials_confirm": True})
    assert rotated.rc == 0, rotated.stdout[-8000:]
    for name, old in before.items():
        assert (directory / name).read_text() != old, f"{name} was not rotated"
        kept = sorted(directory.glob(f"{name}.previous-*"))
        assert kept and kept[-1].read_text() == old, f"the old {name} was not kept"
        assert stat.S_IMODE(kept[-1].stat().st_mode) == 0o600

    old_login = run_playbook(HERE / "playbooks" / "old_admin_password.yml")
    assert old_login.rc == 0, old_login.stdout[-4000:]
    assert int(old_login.stat("previous_admin_status")) == 401
    # The new admin password works (the playbook logs in with it), users and grants survived, nothing to redo.
    again = run_playbook(HERE / "playbooks" / "access.yml", USER_PASSWORDS)
    assert again.rc == 0, again.stdout[-6000:]
    assert again.stat("access_statuses") == EXPECTED_ACCESS
    assert again.changed() == 0, again.stdout[-6000:]
    health = run_playbook(PLAYBOOKS / "health_check.yml")
    assert health.rc == 0, health.stdout[-6000:]
