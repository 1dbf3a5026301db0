"""The platform on SeaweedFS (molecule/default): what the seaweedfs_server role promises, on the converged host.

The converge itself already proved MLflow end to end on it: mlflow_platform_probe logged a run, read its artifact
back through MLflow and found it in the bucket with MLflow's identity; tests/awx_runs' platform-up job re-ran it with
changed=0.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS

HERE = Path(__file__).resolve().parent
PROBE = HERE / "files" / "s3_probe.py"
PROBE_ON_HOST = "/root/s3_probe.py"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"

pytestmark = pytest.mark.skipif(
    os.environ.get("BIRTHA_ARTIFACT_STORE") != "seaweedfs",
    reason="needs a platform on SeaweedFS (molecule/default)",
)

# The scenario's host; BIRTHA_SEAWEEDFS_HOST=birtha-sandbox runs these against a sandbox on SeaweedFS.
HOST = os.environ.get("BIRTHA_SEAWEEDFS_HOST", "birtha-aio")
testinfra_hosts = [f"ansible://{HOST}"]


def probe(host, *args: str) -> dict:
    """The probe on the host: it reads the keys from the host's files, not its arguments."""
    host.ansible("ansible.builtin.copy", f"src={PROBE} dest={PROBE_ON_HOST} mode=0700", check=False)
    result = host.run(" ".join([MLFLOW_PYTHON, PROBE_ON_HOST, *args]))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mlflow_identity_works_in_its_bucket_only(host):
    probe(host, "admin_put", "sw-other", "secret.txt", "not-for-mlflow")
    other = probe(host, "mlflow", "sw-other")
    assert set(other.values()) == {"AccessDenied"}, other
    assert probe(host, "admin_get", "sw-other", "secret.txt") == {"body": "not-for-mlflow"}
    own = probe(host, "mlflow", "mlflow-artifacts")
    # What MLflow does (mlflow gc and the purge delete, large artifacts go in parts), and not what an admin does.
    assert {name: own[name] for name in ("list", "put", "delete", "delete_batch", "multipart")} == dict.fromkeys(
        ("list", "put", "delete", "delete_batch", "multipart"), "allowed"
    ), own
    assert {own["create_bucket"], own["delete_bucket"], own["put_policy"]} == {"AccessDenied"}, own


def test_anonymous_requests_are_refused(host):
    base = "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9000/mlflow-artifacts"
    assert host.run(f"{base}/").stdout == "403"
    # The kind of request MinIO's unfixed advisories let through without a secret (CVE-2026-41145, CVE-2026-40344).
    trailer = (
        "-X PUT -H 'x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER' -H 'x-amz-trailer: x-amz-checksum-crc32'"
    )
    assert host.run(f"{base}/anonymous.txt {trailer} --data-binary 'written without a key'").stdout == "403"
    listed = probe(host, "admin_get_missing", "mlflow-artifacts", "anonymous.txt")
    assert listed == {"exists": False}


def test_other_local_users_cannot_use_the_loopback_servers(host):
    # The filer's HTTP port serves every object unless signed; weed shell administers everything.
    status = host.run(
        "runuser -u nobody -- curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8888/buckets/mlflow-artifacts/"
    ).stdout
    assert status == "401"
    assert host.run("runuser -u nobody -- /usr/local/bin/weed version").rc != 0
    assert host.file("/etc/seaweedfs/security.toml").mode == 0o600


def test_only_the_s3_gateway_listens_beyond_loopback(host):
    # ss cannot name another user's process in the container, so the sockets are told apart by port.
    listening = [line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()]
    weed_ports = {"9333", "8080", "8888", "19333", "18080", "18888", "19000"}
    assert weed_ports <= {address.rsplit(":", 1)[1] for address in listening}, listening
    outside = {address.rsplit(":", 1)[1] for address in listening if not address.startswith(("127.0.0.1:", "[::1]:"))}
    # sshd (the test's connection) and MLflow besides the S3 gateway and its gRPC port (SeaweedFS binds both to
    # -s3.ip.bind; its IAM calls answer only local peers); none of the master's, volume's or filer's ports.
    assert "9000" in outside and outside <= {"22", "5000", "9000", "19000"}, listening


def test_identities_are_0600_of_the_service_and_off_the_command_line(host):
    identities = host.file("/etc/seaweedfs/s3.json")
    assert (identities.user, identities.group, identities.mode) == ("seaweedfs", "seaweedfs", 0o600)
    secret = host.run(
        "python3 -c \"import json; print(json.load(open('/etc/seaweedfs/s3.json'))['identities'][0]"
        "['credentials'][0]['secretKey'])\""
    ).stdout.strip()
    assert len(secret) >= 16
    command_lines = host.run("ps -eo args").stdout
    assert secret not in command_lines
    assert "-s3.config=/etc/seaweedfs/s3.json" in command_lines
    data = host.file("/var/lib/seaweedfs")
    assert (data.user, stat.S_IMODE(data.mode)) == ("seaweedfs", 0o750)


def test_objects_survive_a_restart(host):
    key, text = f"restart/{uuid.uuid4().hex}.txt", uuid.uuid4().hex
    probe(host, "admin_put", "mlflow-artifacts", key, text)
    assert host.run("systemctl restart seaweedfs").rc == 0
    wait = "for i in $(seq 60); do curl -sf -o /dev/null http://127.0.0.1:9000/healthz && exit 0; sleep 1; done"
    assert host.run(f"{wait}; exit 1").rc == 0
    assert probe(host, "admin_get", "mlflow-artifacts", key) == {"body": text}


@pytest.mark.parametrize(
    ("extravars", "names"),
    [
        ({"platform_artifact_store": "ceph"}, "platform_artifact_store"),
        ({"seaweedfs_server_volume_max": 8}, "seaweedfs_server_volume_max"),
        ({"seaweedfs_server_s3_port": 9100}, "platform_minio_port"),
        ({"platform_artifact_store": "minio"}, "runs SeaweedFS"),
        ({"seaweedfs_server_mlflow_access_key": "birtha-root"}, "seaweedfs_server_mlflow_access_key"),
        # Two copies on a one-host store group.
        ({"seaweedfs_server_replication": "001"}, "seaweedfs_server_replication"),
    ],
)
def test_bad_input_is_refused_before_anything_changes(run_playbook, host, extravars, names):
    watched = ["/etc/seaweedfs/s3.json", "/etc/systemd/system/seaweedfs.service"]
    before = [host.file(path).md5sum for path in watched]
    result = run_playbook(PLAYBOOKS / "platform_up.yml", extravars)
    assert result.rc != 0
    assert names in result.stdout, result.stdout[-3000:]
    # The preflight names MinIO's unfixed advisories whenever MinIO is chosen, and only then.
    minio = extravars.get("platform_artifact_store") == "minio"
    assert ("CVE-2026-41145" in result.stdout and "CVE-2026-40344" in result.stdout) is minio, result.stdout[-3000:]
    assert [host.file(path).md5sum for path in watched] == before
    assert not host.file("/etc/systemd/system/minio.service").exists
