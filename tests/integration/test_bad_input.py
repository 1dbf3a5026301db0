"""Bad input stops playbooks/validate.yml (platform_up's first step) with a message naming the variable.

Runs the real preflight with ansible-playbook against this machine as a local host in every tier:
validation only reads (ports, files, checksums), so nothing is changed on the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def fact_cache() -> dict[str, str]:
    """This worker's own fact cache (conftest.py): each run would gather this machine's facts again, a CPU-second
    of each of some hundred runs. The listening ports the checks read are looked up afresh by every run."""
    directory = os.environ.get("BIRTHA_TEST_FACT_CACHE", "")
    if not directory:
        return {"ANSIBLE_CACHE_PLUGIN": "memory"}
    return {
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": directory,
        "ANSIBLE_GATHERING": "smart",
    }


def run_validate(
    inventory: Path, extra: dict[str, object], tmp_path: Path, playbook: str = "validate.yml"
) -> subprocess.CompletedProcess[str]:
    # Extra vars go through a 0600 file, as secrets would.
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    extra_file.chmod(0o600)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **fact_cache())
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory / "hosts.yml"),
            str(REPO_ROOT / "playbooks" / playbook),
            "-e",
            f"@{extra_file}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port some other program holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_valid_input_passes_and_changes_nothing(inventory, base_vars, tmp_path):
    result = run_validate(inventory, base_vars, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"minio_server_root_password": "minioadmin"}, "minio_server_root_password"),
        (
            {"minio_server_root_user": "minioadmin", "minio_server_root_password": "minioadmin"},
            "minio_server_root_user",
        ),
        ({"minio_server_mlflow_secret_key": "short"}, "minio_server_mlflow_secret_key"),
        ({"mlflow_server_admin_password": "elevenchars"}, "mlflow_server_admin_password"),
        ({"postgres_server_db_password": "tooshort"}, "postgres_server_db_password"),
        ({"minio_server_binary_src": "/nonexistent/minio"}, "minio_server_binary_src"),
        # No source at all is accepted only where the binary is already installed; this machine has none.
        ({"minio_server_binary_src": ""}, "does not have /usr/local/bin/minio yet"),
        ({"minio_server_binary_sha256": "0" * 64}, "minio_server_binary_sha256"),
        ({"minio_server_binary_url": "https://mirror.invalid/minio"}, "minio_server_binary_sha256"),
        (
            {"mlflow_server_flask_secret_key": 'has "quotes" and spaces in it, 40+ chars'},
            "mlflow_server_flask_secret_key",
        ),
        ({"mlflow_server_pip_constraints": "/nonexistent/constraints.txt"}, "mlflow_server_pip_constraints"),
        ({"mlflow_server_workers": "two"}, "mlflow_server_workers must be a whole number"),
        ({"mlflow_server_memory_max": "4 GB"}, "mlflow_server_memory_max a size"),
        ({"mlflow_server_memory_max": "4096"}, "mlflow_server_memory_max a size"),
        ({"mlflow_server_worker_memory_mb": 0}, "mlflow_server_worker_memory_mb must be a whole number"),
        (
            {"platform_health_minio_url": "http://127.0.0.1:9000"},
            "platform_health_minio_url is now platform_health_store_url",
        ),
    ],
    ids=[
        "minioadmin-password",
        "minioadmin-user",
        "short-s3-secret",
        "short-admin-password",
        "short-db-password",
        "absent-binary",
        "no-source-new-host",
        "checksum-mismatch",
        "url-without-checksum",
        "quote-in-secret",
        "missing-constraints",
        "workers-not-a-number",
        "memory-limit-systemd-refuses",
        "memory-limit-without-unit",
        "worker-memory-zero",
        "renamed-variable",
    ],
)
def test_bad_input_stops_with_the_variable_named(inventory, base_vars, tmp_path, overrides, named):
    result = run_validate(inventory, {**base_vars, **overrides}, tmp_path)
    assert result.returncode != 0
    assert named in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize("port_var", ["platform_db_port", "platform_minio_port", "platform_mlflow_port"])
def test_port_in_use_is_refused(inventory, base_vars, tmp_path, listening_port, port_var):
    result = run_validate(inventory, {**base_vars, port_var: listening_port}, tmp_path)
    assert result.returncode != 0
    assert f"Port {listening_port}" in result.stdout and "already in use" in result.stdout, result.stdout[-3000:]


def test_missing_inventory_group_is_named(inventory, base_vars, tmp_path):
    hosts = json.loads((inventory / "hosts.yml").read_text())
    del hosts["all"]["children"]["mlflow_artifacts"]
    partial = tmp_path / "partial"
    shutil.copytree(inventory, partial)
    (partial / "hosts.yml").write_text(json.dumps(hosts))
    result = run_validate(partial, base_vars, tmp_path)
    assert result.returncode != 0
    assert "no hosts in group 'mlflow_artifacts'" in result.stdout, result.stdout[-3000:]


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_proxy(inventory: Path, tmp_path: Path, tracking: bool = True) -> Path:
    """The inventory with this machine in mlflow_proxy too, and (tracking=False) no tracking host."""
    hosts = json.loads((inventory / "hosts.yml").read_text())
    hosts["all"]["children"]["mlflow_proxy"] = {"hosts": {"localhost": {}}}
    if not tracking:
        del hosts["all"]["children"]["mlflow_tracking"]
    proxied = tmp_path / "proxied"
    shutil.copytree(inventory, proxied)
    (proxied / "hosts.yml").write_text(json.dumps(hosts))
    return proxied


def test_a_proxy_without_tracking_hosts_is_refused(inventory, base_vars, tmp_path):
    result = run_validate(with_proxy(inventory, tmp_path, tracking=False), base_vars, tmp_path)
    assert result.returncode != 0
    assert "mlflow_proxy has hosts" in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_a_proxy_on_mlflows_port_is_refused(inventory, base_vars, tmp_path):
    port = base_vars["platform_mlflow_port"]
    result = run_validate(with_proxy(inventory, tmp_path), {**base_vars, "platform_proxy_port": port}, tmp_path)
    assert result.returncode != 0
    assert "would run the proxy" in result.stdout and "platform_proxy_port" in result.stdout, result.stdout[-3000:]


def test_a_proxy_with_tracking_hosts_passes(inventory, base_vars, tmp_path):
    result = run_validate(
        with_proxy(inventory, tmp_path), {**base_vars, "platform_proxy_port": unused_port()}, tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_two_artifact_stores_in_one_inventory_are_refused(inventory, base_vars, tmp_path):
    hosts = json.loads((inventory / "hosts.yml").read_text())
    # A second name for this machine, in the tracking tier only, whose host vars name another store.
    hosts["all"]["hosts"]["tracking-twin"] = {
        **hosts["all"]["hosts"]["localhost"],
        "platform_artifact_store": "seaweedfs",
    }
    hosts["all"]["children"]["mlflow_tracking"]["hosts"]["tracking-twin"] = {}
    twin = tmp_path / "twin"
    shutil.copytree(inventory, twin)
    (twin / "hosts.yml").write_text(json.dumps(hosts))
    result = run_validate(twin, base_vars, tmp_path)
    assert result.returncode != 0
    assert "more than one artifact store" in result.stdout and "tracking-twin" in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def without_store_hosts(inventory: Path, tmp_path: Path) -> Path:
    """The inventory with no mlflow_artifacts group: the shape of a platform on an external store."""
    hosts = json.loads((inventory / "hosts.yml").read_text())
    del hosts["all"]["children"]["mlflow_artifacts"]
    external = tmp_path / "external"
    shutil.copytree(inventory, external)
    (external / "hosts.yml").write_text(json.dumps(hosts))
    return external


EXTERNAL = {
    "platform_artifact_store": "external",
    "platform_s3_external_endpoint_url": "https://s3.example.com",
    # The store's owner made MLflow's key: supplied, never generated.
    "platform_s3_secret_key": "k" * 40,
}


def test_an_external_store_passes_without_store_hosts(inventory, base_vars, tmp_path):
    result = run_validate(without_store_hosts(inventory, tmp_path), {**base_vars, **EXTERNAL}, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_an_external_stores_ca_bundle_the_hosts_lack_is_refused(inventory, base_vars, tmp_path):
    extra = {**base_vars, **EXTERNAL, "platform_s3_external_ca_file": str(tmp_path / "no-such-ca.pem")}
    result = run_validate(without_store_hosts(inventory, tmp_path), extra, tmp_path)
    assert result.returncode != 0
    assert "platform_s3_external_ca_file is" in result.stdout and "does not" in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_an_external_stores_key_is_never_generated(inventory, base_vars, tmp_path):
    extra = {key: value for key, value in {**base_vars, **EXTERNAL}.items() if key != "platform_s3_secret_key"}
    result = run_validate(without_store_hosts(inventory, tmp_path), extra, tmp_path)
    assert result.returncode != 0
    assert "Missing: platform_s3_secret_key." in result.stdout and "never generated" in result.stdout, result.stdout[
        -3000:
    ]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_an_external_store_beside_store_hosts_is_refused(inventory, base_vars, tmp_path):
    result = run_validate(inventory, {**base_vars, **EXTERNAL}, tmp_path)
    assert result.returncode != 0
    assert "two artifact stores in one inventory" in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize("url", ["", "s3.example.com", "ftp://s3.example.com"])
def test_an_external_store_without_its_url_is_refused(inventory, base_vars, tmp_path, url):
    extra = {**base_vars, **EXTERNAL, "platform_s3_external_endpoint_url": url}
    result = run_validate(without_store_hosts(inventory, tmp_path), extra, tmp_path)
    assert result.returncode != 0
    assert f"platform_s3_external_endpoint_url is {json.dumps(url)}" in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_checksum_that_matches_is_accepted(inventory, base_vars, fake_binaries, tmp_path):
    digest = hashlib.sha256((fake_binaries / "minio").read_bytes()).hexdigest()
    result = run_validate(inventory, {**base_vars, "minio_server_binary_sha256": digest}, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]


def with_db_hosts(inventory: Path, tmp_path: Path, count: int) -> Path:
    """The inventory with `count` names for this machine in mlflow_db (the first is the real one)."""
    hosts = json.loads((inventory / "hosts.yml").read_text())
    for number in range(1, count):
        hosts["all"]["hosts"][f"db-twin{number}"] = hosts["all"]["hosts"]["localhost"]
        hosts["all"]["children"]["mlflow_db"]["hosts"][f"db-twin{number}"] = {}
    copy = tmp_path / f"db{count}"
    shutil.copytree(inventory, copy)
    (copy / "hosts.yml").write_text(json.dumps(hosts))
    return copy


@pytest.mark.parametrize("count", [2, 4])
def test_an_even_number_of_database_hosts_is_refused(inventory, base_vars, tmp_path, count):
    result = run_validate(with_db_hosts(inventory, tmp_path, count), base_vars, tmp_path)
    assert result.returncode != 0
    said = result.stdout
    assert f"mlflow_db has {count} hosts" in said and "needs a majority" in said, said[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_tuning_a_database_cluster_is_refused_before_any_host(inventory, base_vars, tmp_path):
    # The twins are this machine: a run that went on would tune it.
    result = run_validate(with_db_hosts(inventory, tmp_path, 3), base_vars, tmp_path, "db_optimize.yml")
    assert result.returncode != 0
    said = result.stdout
    assert "this inventory has 3 mlflow_db hosts" in said and "postgres_server_settings" in said, said[-3000:]
    recap = said.split("PLAY RECAP")[-1]
    assert "db-twin1" not in recap and "changed=0" in recap, recap


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"platform_db_ha": True}, "platform_db_ha is"),
        ({"platform_db_synchronous": True}, "platform_db_synchronous is true"),
    ],
    ids=["ha-by-hand", "synchronous-without-standbys"],
)
def test_a_database_mode_the_inventory_cannot_have_is_refused(inventory, base_vars, tmp_path, overrides, named):
    result = run_validate(inventory, {**base_vars, **overrides}, tmp_path)
    assert result.returncode != 0
    assert named in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_a_database_cluster_with_tls_and_no_ca_is_refused(inventory, base_vars, tmp_path):
    overrides = {"platform_tls": True, "postgres_server_tls_ca": ""}
    result = run_validate(with_db_hosts(inventory, tmp_path, 3), {**base_vars, **overrides}, tmp_path)
    assert result.returncode != 0
    assert "postgres_server_tls_ca is empty" in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_three_database_hosts_pass(inventory, base_vars, tmp_path, tls):
    result = run_validate(with_db_hosts(inventory, tmp_path, 3), {**base_vars, "platform_tls": tls}, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"platform_db_superuser_password": "tooshort"}, "postgres_server_superuser_password is missing, shorter"),
        ({"platform_db_patroni_api_password": "postgres"}, "postgres_server_patroni_api_password is missing, shorter"),
    ],
    ids=["short-superuser-password", "well-known-api-password"],
)
def test_high_availability_with_a_weak_patroni_password_is_refused(inventory, base_vars, tmp_path, overrides, named):
    result = run_validate(with_db_hosts(inventory, tmp_path, 3), {**base_vars, **overrides}, tmp_path)
    assert result.returncode != 0
    assert named in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def with_store_hosts(
    inventory: Path, tmp_path: Path, count: int, store: str, addresses: bool = True, racks: bool = False
) -> Path:
    """The inventory with `count` names for this machine in mlflow_artifacts and `store` as the platform's store;
    with `addresses`, each name has an address of its own for its peers (seaweedfs_server_address); with `racks`, a
    rack of its own (seaweedfs_server_rack)."""
    hosts = json.loads((inventory / "hosts.yml").read_text())
    artifacts = hosts["all"]["children"]["mlflow_artifacts"]["hosts"]
    for number in range(1, count):
        hosts["all"]["hosts"][f"store-twin{number}"] = hosts["all"]["hosts"]["localhost"]
        artifacts[f"store-twin{number}"] = {}
    if addresses:
        for number, name in enumerate(artifacts, start=11):
            artifacts[name] = {"seaweedfs_server_address": f"127.0.0.{number}"}
    if racks:
        for number, name in enumerate(artifacts):
            artifacts[name] = {**artifacts[name], "seaweedfs_server_rack": f"rack{number}"}
    copy = tmp_path / f"{store}{count}"
    shutil.copytree(inventory, copy)
    (copy / "hosts.yml").write_text(json.dumps(hosts))
    (copy / "group_vars" / "all" / "store.yml").write_text(f"platform_artifact_store: {store}\n")
    return copy


@pytest.fixture(scope="module")
def seaweedfs_vars(base_vars: dict[str, object], fake_binaries: Path) -> dict[str, object]:
    # The stand-in binary: validation only checks that the source exists.
    return {**base_vars, "seaweedfs_server_binary_src": str(fake_binaries / "minio")}


def test_several_minio_hosts_are_refused(inventory, base_vars, tmp_path):
    result = run_validate(with_store_hosts(inventory, tmp_path, 3, "minio"), base_vars, tmp_path)
    assert result.returncode != 0
    said = result.stdout
    assert "mlflow_artifacts has 3 hosts, and platform_artifact_store is minio" in said, said[-3000:]
    assert "changed=0" in said.split("PLAY RECAP")[-1]


@pytest.mark.parametrize(
    ("count", "overrides", "layout", "named"),
    [
        (2, {}, {}, "SeaweedFS runs on one host, or on an odd number of three or more"),
        (3, {"seaweedfs_server_replication": "011"}, {}, "has 3 host(s) in 1 data center(s) and 1 rack(s)"),
        (3, {"seaweedfs_server_replication": "003"}, {}, "keeps 4 copies of each object"),
        # Two copies on two servers of one rack, and each member in a rack of its own: SeaweedFS could grow no volume.
        (3, {}, {"racks": True}, "at most 1 in one rack"),
        (3, {}, {"addresses": False}, "The members of the SeaweedFS cluster need distinct addresses"),
        (3, {}, {}, "a SeaweedFS cluster, and platform_tls is off"),
        # SeaweedFS would silently run it every 17 minutes instead.
        (3, {"seaweedfs_server_maintenance_minutes": 0}, {}, "seaweedfs_server_maintenance_minutes=0: give the whole"),
        (
            3,
            {"seaweedfs_server_maintenance_scripts": "volume.fix.replication -apply"},
            {},
            "seaweedfs_server_maintenance_scripts must be a list",
        ),
        # No maintenance needs no pause: the run gets past that check, to the next one.
        (
            3,
            {"seaweedfs_server_maintenance_scripts": [], "seaweedfs_server_maintenance_minutes": 0},
            {},
            "a SeaweedFS cluster, and platform_tls is off",
        ),
    ],
    ids=[
        "even-count",
        "racks-it-does-not-have",
        "more-copies-than-hosts",
        "a-rack-each",
        "shared-address",
        "cluster-without-tls",
        "maintenance-without-pause",
        "maintenance-not-a-list",
        "no-maintenance-no-pause",
    ],
)
def test_a_seaweedfs_cluster_it_cannot_run_is_refused(
    inventory, seaweedfs_vars, tmp_path, count, overrides, layout, named
):
    cluster = with_store_hosts(inventory, tmp_path, count, "seaweedfs", **layout)
    result = run_validate(cluster, {**seaweedfs_vars, **overrides}, tmp_path)
    assert result.returncode != 0
    said = " ".join(result.stdout.split())
    assert named in said, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def test_one_seaweedfs_host_passes(inventory, seaweedfs_vars, tmp_path):
    result = run_validate(with_store_hosts(inventory, tmp_path, 1, "seaweedfs"), seaweedfs_vars, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


def fake_venv(tmp_path: Path, version: str) -> Path:
    """A virtualenv as the role leaves it, with only what says which MLflow is installed."""
    venv = tmp_path / "venv"
    (venv / "lib" / "python3.11" / "site-packages" / f"mlflow-{version}.dist-info").mkdir(parents=True)
    (venv / "lib" / "python3.11" / "site-packages" / "mlflow_skinny-0.0.1.dist-info").mkdir()
    return venv


@pytest.mark.parametrize(
    ("installed", "extra", "named"),
    [
        ("3.16.1", {}, "run playbooks/upgrade_mlflow.yml -e upgrade_confirm=true"),
        ("9.9.9", {"mlflow_server_upgrade": True}, "An older version is not installed over a newer one"),
    ],
    ids=["newer-outside-the-upgrade", "older-than-installed"],
)
def test_an_mlflow_version_change_is_refused_outside_the_upgrade(
    inventory, base_vars, tmp_path, installed, extra, named
):
    overrides = {"mlflow_server_venv": str(fake_venv(tmp_path, installed)), **extra}
    result = run_validate(inventory, {**base_vars, **overrides}, tmp_path)
    assert result.returncode != 0
    said = " ".join(result.stdout.split())
    assert f"MLflow {installed} is installed on localhost and the inventory asks for 3.17.2" in said, said[-3000:]
    assert named in said, said[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize(
    ("installed", "extra"),
    [("3.17.2", {}), ("3.16.1", {"mlflow_server_upgrade": True})],
    ids=["same-version", "upgrade"],
)
def test_the_installed_version_or_an_upgrade_passes(inventory, base_vars, tmp_path, installed, extra):
    overrides = {"mlflow_server_venv": str(fake_venv(tmp_path, installed)), **extra}
    result = run_validate(inventory, {**base_vars, **overrides}, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
