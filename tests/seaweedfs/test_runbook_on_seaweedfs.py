"""The runbook's store-touching playbooks on SeaweedFS (molecule/default), each judged by what a user would see.

Retention, purge, archive, storage cleanup, monitoring and log collection run on it from tests/platform_api, and
backup with its restore rehearsal, a disaster and the restore from tests/backup_restore (the scenario runs all three
directories). These are the ones that act on the store itself: the artifact-storage troubleshooting of a stopped
store and of a rejected key, and a rotated S3 key.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from runbook_harness import PLAYBOOKS
from test_seaweedfs import HOST, probe
from test_seaweedfs import pytestmark as seaweedfs_only

pytestmark = seaweedfs_only
testinfra_hosts = [f"ansible://{HOST}"]
BUCKET = "mlflow-artifacts"


def test_health_check_covers_every_seaweedfs_server(run_playbook):
    result = run_playbook(PLAYBOOKS / "health_check.yml")
    assert result.rc == 0, result.stdout[-4000:]
    report = json.loads(Path(result.stat("birtha_health")["report"]).read_text())
    checked = {c["check"]: c["status"] for c in report["checks"] if c["tier"] == "seaweedfs" and c["host"] == HOST}
    assert checked == {
        "service": "ok",
        "live": "ok",
        "master": "ok",
        "volume": "ok",
        "filer": "ok",
        "disk /var/lib/seaweedfs": "ok",
    }, report["checks"]
    assert not [c for c in report["checks"] if c["tier"] == "minio"]


def test_troubleshooting_restarts_a_stopped_store(run_playbook, host):
    # A file left by a copy run as root: the storage-permissions step gives it back to SeaweedFS's user.
    planted = "/var/lib/seaweedfs/data/left-by-root"
    assert host.run(f"touch {planted} && chown root:root {planted}").rc == 0
    assert host.run("systemctl stop seaweedfs").rc == 0
    try:
        checked = run_playbook(PLAYBOOKS / "troubleshoot_artifact_storage.yml", check=True)
        assert checked.rc == 0, checked.stdout[-4000:]
        assert "restart SeaweedFS where it is down" in checked.stdout, checked.stdout[-4000:]
        assert f"SeaweedFS service on {HOST}: PROBLEM" in checked.stdout, checked.stdout[-4000:]
        assert host.service("seaweedfs").is_running is False

        assert host.file(planted).user == "root", "check mode changed an owner"

        fixed = run_playbook(PLAYBOOKS / "troubleshoot_artifact_storage.yml")
        # The run ends with the health check, which fails it on anything unhealthy.
        assert fixed.rc == 0, fixed.stdout[-4000:]
        assert host.service("seaweedfs").is_running
        assert host.file(planted).user == "seaweedfs"
    finally:
        host.run(f"systemctl start seaweedfs; rm -f {planted}")
    assert healthy_after(fixed), fixed.stat("birtha_health")


def healthy_after(run) -> bool:
    """The troubleshooting run's closing health check (troubleshoot.yml's last play, published last) passed."""
    return (run.stat("birtha_health") or {}).get("status") == "healthy"


def mlflow_listing(host) -> str:
    """What MLflow's key gets for a listing of its bucket, once the gateway answers again (up to a minute)."""
    for _attempt in range(30):
        try:
            return probe(host, "mlflow", BUCKET)["list"]
        except AssertionError:  # the gateway is still starting: the probe could not connect
            time.sleep(2)
    return probe(host, "mlflow", BUCKET)["list"]


def test_troubleshooting_gives_seaweedfs_mlflows_key_back(run_playbook, host):
    # SeaweedFS's copy of MLflow's secret changed under it (an identities file restored from elsewhere, a hand
    # edit): MLflow's key is rejected. Changed on the host, so no secret crosses a command line.
    identities = "/etc/seaweedfs/s3.json"
    before = host.file(identities).sha256sum
    replace = (
        "import json, secrets; path = '/etc/seaweedfs/s3.json'; config = json.load(open(path)); "
        "[i['credentials'][0].update(secretKey=secrets.token_hex(20)) for i in config['identities'] "
        "if i['name'] == 'mlflow']; json.dump(config, open(path, 'w'))"
    )
    assert host.run(f'python3 -c "{replace}" && systemctl restart seaweedfs').rc == 0
    assert mlflow_listing(host) == "SignatureDoesNotMatch"

    fixed = run_playbook(PLAYBOOKS / "troubleshoot_artifact_storage.yml")
    assert fixed.rc == 0, fixed.stdout[-4000:]
    assert "reset MLflow's SeaweedFS account to the inventory's secret" in fixed.stdout, fixed.stdout[-4000:]
    # The inventory's identities again, and MLflow's key (unchanged, from its own files) works.
    assert host.file(identities).sha256sum == before
    assert mlflow_listing(host) == "allowed"
    assert healthy_after(fixed), fixed.stat("birtha_health")


def test_rotated_s3_secrets_reach_seaweedfs_and_mlflow(run_playbook, host):
    def secret_of(identity: str) -> str:
        identities = json.loads(host.file("/etc/seaweedfs/s3.json").content_string)["identities"]
        return next(i for i in identities if i["name"] == identity)["credentials"][0]["secretKey"]

    before = {name: secret_of(name) for name in ("mlflow", "admin")}
    signing = host.file("/etc/seaweedfs/security.toml").sha256sum
    # The old identities stay on the host (root only): the probe reads the rotated-out keys there, so no secret
    # crosses a command line.
    assert host.run("install -m 0600 /etc/seaweedfs/s3.json /root/s3.json.before-rotation").rc == 0
    binary = host.file("/usr/local/bin/weed").sha256sum
    # As a colleague's laptop or an AWX job runs it: no weed build on the controller; the host keeps its binary.
    extravars = {
        "rotate_credentials_confirm": True,
        "rotate_credentials_which": ["minio_mlflow_secret_key", "minio_root_password"],
        "seaweedfs_server_binary_src": "",
    }
    rotated = run_playbook(PLAYBOOKS / "rotate_credentials.yml", extravars)
    assert rotated.rc == 0, rotated.stdout[-4000:]
    assert host.file("/usr/local/bin/weed").sha256sum == binary
    after = {name: secret_of(name) for name in ("mlflow", "admin")}
    assert [name for name in after if after[name] == before[name]] == [], "a rotated S3 secret kept its value"
    assert min(len(value) for value in after.values()) >= 40
    # The loopback servers' signing keys derive from the admin secret: they change with it.
    assert host.file("/etc/seaweedfs/security.toml").sha256sum != signing
    # Judged without printing the file (it holds live secrets) if it fails.
    in_env = f"AWS_SECRET_ACCESS_KEY={after['mlflow']}" in host.file("/etc/mlflow/mlflow.env").content_string
    assert in_env, "MLflow's environment file does not hold the rotated S3 key"
    # MLflow wrote a run and an artifact with the new key and read them back (the end-to-end probe that closes the
    # rotation's re-deploy, platform_up.yml), the admin's new key works, and the old keys are refused.
    [probed] = rotated.task_results("Log a run with a parameter, a metric and an artifact, and read them back")
    assert probed.get("run_id") and not probed.get("skipped") and not probed.get("failed"), probed
    assert probe(host, "mlflow", BUCKET)["list"] == "allowed"
    key, text = f"rotation/{uuid.uuid4().hex}.txt", uuid.uuid4().hex
    probe(host, "admin_put", BUCKET, key, text)
    assert probe(host, "admin_get", BUCKET, key) == {"body": text}
    for identity in ("mlflow", "admin"):
        old = probe(host, "old_key", identity, BUCKET, "/root/s3.json.before-rotation")
        assert old["list"] in ("SignatureDoesNotMatch", "AccessDenied"), (identity, old)
