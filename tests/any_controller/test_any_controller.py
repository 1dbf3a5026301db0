"""Any controller can run it safely (README "Several operators"): a checkout with no credentials directory - a
colleague's laptop, an AWX job - reads the platform's secrets, CA and certificates from the platform itself, changes
nothing on a converged platform, and stops before any change when what it supplies differs or is unknown.

Runs in the security scenario (TLS, three hosts: the state host is not the tracking host). The plain platform's
fresh-controller case is tests/awx_runs' platform_up job (default): a fresh execution-environment container,
changed=0."""

from __future__ import annotations

import datetime
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from runbook_harness import PLAYBOOKS, credentials_dir

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "security",
    reason="needs the converged Molecule platform of the security scenario",
)
STATE_DIR = "/etc/birtha-mlflow/state"
HARDENED = os.environ.get("BIRTHA_PLATFORM_TLS") == "true"


def state_host() -> str:
    """The first mlflow_db host keeps the state; Molecule names each container after its inventory host."""
    inventory = yaml.safe_load(Path(os.environ["MOLECULE_INVENTORY_FILE"]).read_text())
    return sorted(group_hosts(inventory, "mlflow_db"))[0]


def group_hosts(node: object, group: str) -> list[str]:
    """The hosts of a group anywhere in a YAML inventory (Molecule nests groups under all.children)."""
    if not isinstance(node, dict):
        return []
    if isinstance(node.get(group), dict) and node[group].get("hosts"):
        return list(node[group]["hosts"])
    return [host for child in node.values() for host in group_hosts(child, group)]


def fresh_controller(tmp_path: Path) -> dict:
    """What a new checkout has: an empty credentials directory of its own."""
    return {"platform_credentials_dir": str(tmp_path / "credentials")}


def podman_exec(host: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", "exec", host, *command], capture_output=True, text=True, check=False)


def test_a_fresh_controller_reads_the_platform_and_changes_nothing(run_playbook, tmp_path):
    result = run_playbook(PLAYBOOKS / "platform_up.yml", fresh_controller(tmp_path))
    assert result.rc == 0, result.stdout[-6000:]
    assert result.changed() == 0, result.stdout[-8000:]
    # Its copy now holds the values the deploying controller generated: read from the platform, none new.
    copy, original = tmp_path / "credentials", credentials_dir()
    for name in ("postgres_mlflow_password", "mlflow_admin_password", "backup_passphrase"):
        assert (copy / name).read_text() == (original / name).read_text(), name
    if HARDENED:
        # The CA and every certificate came from the platform: nothing was issued again.
        for name in sorted(path.name for path in (original / "tls").glob("*.crt")):
            assert (copy / "tls" / name).read_text() == (original / "tls" / name).read_text(), name
        assert (copy / "tls" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_a_secret_that_differs_stops_before_any_change_naming_it_never_its_value(run_playbook, tmp_path):
    typo = "Typo" * 8
    before = podman_exec(state_host(), "cat", f"{STATE_DIR}/postgres_mlflow_password").stdout
    result = run_playbook(PLAYBOOKS / "platform_up.yml", {**fresh_controller(tmp_path), "platform_db_password": typo})
    assert result.rc != 0
    assert "platform_db_password differs from the value the platform keeps on " + state_host() in result.stdout
    assert typo not in result.stdout
    assert result.changed() == 0, result.stdout[-6000:]
    assert podman_exec(state_host(), "cat", f"{STATE_DIR}/postgres_mlflow_password").stdout == before


def test_a_deployed_platform_without_state_gets_no_generated_secret(run_playbook, tmp_path):
    host, aside = state_host(), f"{STATE_DIR}.aside"
    assert podman_exec(host, "mv", STATE_DIR, aside).returncode == 0
    try:
        result = run_playbook(PLAYBOOKS / "platform_up.yml", fresh_controller(tmp_path))
        assert result.rc != 0
        assert f"The platform on {host} is deployed but keeps no state" in result.stdout, result.stdout[-4000:]
        assert "platform_db_password" in result.stdout and "platform_mlflow_admin_password" in result.stdout
        assert result.changed() == 0, result.stdout[-6000:]
        assert podman_exec(host, "test", "-e", STATE_DIR).returncode != 0, "state was generated for a live platform"
        assert not (tmp_path / "credentials" / "postgres_mlflow_password").exists()
    finally:
        podman_exec(host, "mv", aside, STATE_DIR)


@pytest.mark.skipif(not HARDENED, reason="a CA exists with platform_tls only")
def test_a_supplied_ca_that_is_not_the_platforms_stops_before_any_change(run_playbook, tmp_path):
    result = run_playbook(
        PLAYBOOKS / "platform_up.yml", {**fresh_controller(tmp_path), "platform_tls_ca_cert": other_ca_pem()}
    )
    assert result.rc != 0
    assert "platform_tls_ca_cert differs from the value the platform keeps on " + state_host() in result.stdout
    assert result.changed() == 0, result.stdout[-6000:]


def other_ca_pem() -> str:
    """A valid CA certificate that is not the platform's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone else's CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
