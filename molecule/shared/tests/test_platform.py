"""What an operator would notice if the deployed platform broke, checked on the real hosts.

Runs against every host of a scenario; each check applies to the tiers (inventory groups) the host
holds, so the same file verifies the all-in-one and the multi-host layouts.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import pytest

ENV_FILE = "/etc/mlflow/mlflow.env"
AUTH_FILE = "/etc/mlflow/basic_auth.ini"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"
BUCKET = "mlflow-artifacts"
# molecule/security runs the shared tests on a hardened platform (TLS on every connection).
TLS = os.environ.get("BIRTHA_PLATFORM_TLS", "false").lower() == "true"
SCHEME = "https" if TLS else "http"
# The scenario's artifact store (molecule/default: SeaweedFS, the default; security: MinIO, which older platforms run).
STORE = os.environ.get("BIRTHA_ARTIFACT_STORE") or "seaweedfs"
STORE_SECRET_FILES = {
    "minio": [("/etc/default/minio", "root"), ("/root/.mc/config.json", "root")],
    "seaweedfs": [("/etc/seaweedfs/s3.json", "seaweedfs"), ("/etc/seaweedfs/security.toml", "seaweedfs")],
}[STORE]

CLIENT = Path(__file__).resolve().parent.parent / "files" / "platform_client.py"
CLIENT_ON_HOST = "/root/platform_client.py"


def groups_of(host) -> list[str]:
    return host.ansible.get_variables()["group_names"]


def inventory_groups(host) -> dict[str, list[str]]:
    return host.ansible.get_variables()["groups"]


def require_group(host, group: str) -> None:
    if group not in groups_of(host):
        pytest.skip(f"{host.backend.get_hostname()} is not in {group}")


def require_minio() -> None:
    if STORE != "minio":
        pytest.skip(f"MinIO's own checks; this platform runs {STORE} (tests/seaweedfs has its own)")


def read_env(host) -> dict[str, str]:
    content = host.file(ENV_FILE).content_string
    return dict(line.split("=", 1) for line in content.splitlines() if "=" in line and not line.startswith("#"))


def admin_credentials(host) -> tuple[str, str]:
    lines = host.file(AUTH_FILE).content_string.splitlines()
    values = dict(line.split(" = ", 1) for line in lines if " = " in line)
    return values["admin_username"], values["admin_password"]


def client(host, *args: str) -> dict:
    """Run the test client on a tracking host; it reads credentials from the host's own files."""
    host.ansible("ansible.builtin.copy", f"src={CLIENT} dest={CLIENT_ON_HOST} mode=0700", check=False)
    result = host.run(" ".join([MLFLOW_PYTHON, CLIENT_ON_HOST, *args]))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("group", "service"),
    [("mlflow_db", "postgresql"), ("mlflow_artifacts", STORE), ("mlflow_tracking", "mlflow")],
)
def test_service_runs_and_starts_at_boot(host, group, service):
    require_group(host, group)
    unit = host.service(service)
    assert unit.is_running, f"{service} is not running"
    assert unit.is_enabled, f"{service} is not enabled at boot"


def test_mlflow_runs_without_its_job_runner(host):
    """mlflow_server_job_execution defaults to false: no runner and Huey consumers (a start costs ~40 s of CPU more)."""
    require_group(host, "mlflow_tracking")
    commands = host.run("ps -eo args").stdout
    assert "mlflow server" in commands
    assert "mlflow.server.jobs" not in commands, "MLflow's job runner is running"


def test_postgres_listens_only_where_clients_are(host):
    require_group(host, "mlflow_db")
    remote_clients = set(inventory_groups(host)["mlflow_tracking"]) - {host.backend.get_hostname()}
    assert host.socket("tcp://127.0.0.1:5432").is_listening
    assert not host.socket("tcp://0.0.0.0:5432").is_listening, "PostgreSQL listens on every address"
    address = host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]
    assert host.socket(f"tcp://{address}:5432").is_listening == bool(remote_clients)


def test_pg_hba_admits_only_mlflow_hosts_with_scram(host):
    require_group(host, "mlflow_db")
    rules = host.run(
        'sudo -u postgres psql -Atc "select type, database, user_name, address, auth_method '
        "from pg_hba_file_rules where type like 'host%'\""
    )
    assert rules.rc == 0, rules.stderr
    for line in rules.stdout.splitlines():
        kind, databases, users, address, method = line.split("|")
        if "mlflow" in users:
            assert method == "scram-sha-256", line
            assert kind == ("hostssl" if TLS else "host"), line
            assert address not in ("0.0.0.0", "::", "all", ""), line
            assert set(databases.strip("{}").split(",")) <= {"mlflow_db", "mlflow_auth"}, line


def test_minio_console_is_loopback_only_and_api_is_live(host):
    require_minio()
    require_group(host, "mlflow_artifacts")
    assert host.socket("tcp://127.0.0.1:9001").is_listening
    assert not host.socket("tcp://0.0.0.0:9001").is_listening
    assert host.run(f"curl -sf -o /dev/null {SCHEME}://127.0.0.1:9000/minio/health/live").rc == 0


def test_mlflow_account_is_limited_to_its_bucket(host):
    require_minio()
    require_group(host, "mlflow_artifacts")
    created = host.run("mc mb birtha-mlflow/not-mlflows-bucket")
    assert created.rc != 0, "MLflow's MinIO account could create a bucket"
    assert host.run(f"mc ls birtha-mlflow/{BUCKET}").rc == 0


def test_health_answers_without_login(host):
    require_group(host, "mlflow_tracking")
    assert host.run(f"curl -sf {SCHEME}://127.0.0.1:5000/health").stdout.strip() == "OK"


def test_api_refuses_anonymous_and_wrong_password(host):
    require_group(host, "mlflow_tracking")
    url = f"{SCHEME}://127.0.0.1:5000/api/2.0/mlflow/experiments/search?max_results=1"
    assert client(host, "status", url, "none")["status"] == 401
    assert client(host, "status", url, "wrong")["status"] == 401
    assert client(host, "status", url, "admin")["status"] == 200


def test_run_round_trip_with_artifact_in_the_store(host):
    require_group(host, "mlflow_tracking")
    name = f"molecule-e2e-{uuid.uuid4().hex[:8]}"
    report = client(host, "roundtrip", name)
    assert report["params"] == {"alpha": "0.5"}
    assert report["metrics"] == {"rmse": 0.125}
    assert report["artifact"] == name
    # Read back from the bucket with MLflow's own key (the client's last step).
    assert report["bucket_object"] == name
    if STORE != "minio":
        return
    # On MinIO also as its own admin client on the store's host sees it.
    artifacts_host = inventory_groups(host)["mlflow_artifacts"][0]
    minio = host.get_host(f"ansible://{artifacts_host}", ansible_inventory=host.backend.ansible_inventory)
    assert minio.run(f"mc stat birtha/{BUCKET}/{report['key']}").rc == 0


@pytest.mark.parametrize(
    ("group", "path", "owner"),
    [
        ("mlflow_tracking", ENV_FILE, "root"),
        ("mlflow_tracking", AUTH_FILE, "mlflow"),
        *[("mlflow_artifacts", path, owner) for path, owner in STORE_SECRET_FILES],
    ],
)
def test_secret_files_are_private(host, group, path, owner):
    require_group(host, group)
    secret = host.file(path)
    assert secret.exists
    assert secret.mode == 0o600, f"{path} has mode {oct(secret.mode)}"
    assert secret.user == owner


def test_no_secret_on_a_command_line(host):
    env = read_env(host) if "mlflow_tracking" in groups_of(host) else {}
    commands = host.run("ps -eo args").stdout
    for key in ("AWS_SECRET_ACCESS_KEY", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        if env.get(key):
            assert env[key] not in commands, f"{key} is visible in ps"
    if "mlflow_tracking" in groups_of(host):
        assert admin_credentials(host)[1] not in commands


def test_generated_credentials_on_the_controller_are_private():
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / ".credentials" / "inventory"
    entries = sorted(inventory.rglob("*"))
    assert any(path.is_file() for path in entries), f"no generated credentials under {inventory}"
    assert stat.S_IMODE(inventory.stat().st_mode) == 0o700
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, path  # tls/ (platform_tls)
        elif path.suffix == ".crt":
            assert not mode & 0o022, path  # certificates are public, but nobody else may replace them
        else:
            assert mode == 0o600, path  # passwords, private keys, client.env
