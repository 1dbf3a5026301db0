"""Runs last in the security scenario: every playbook the scenario ran - the converge, and those the tests ran
(access control, bad certificates, credential rotation, a fresh controller's run, a backup) - ran with -vvv into one
log (molecule/security/molecule.yml: ANSIBLE_LOG_PATH for the converge, BIRTHA_PLAYBOOK_LOG for the
tests' playbooks). None of the secrets the inventory generated may appear in it: passwords whole, private keys by
every line of their PEM text that holds private key bytes (the rest of an EC key's PEM is its public point, which
certificates and CSRs show by design)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from runbook_harness import credentials_dir

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "security",
    reason="needs the security scenario's -vvv log",
)


PEM_LINE_BYTES = 48  # 64 base64 characters


def private_key_lines(text: str) -> list[str]:
    """The PEM lines of a private key whose bytes include the private value itself."""
    body = [line for line in text.splitlines() if line and not line.startswith("-----")]
    der = base64.b64decode("".join(body))
    key = serialization.load_pem_private_key(text.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        scalar = key.private_numbers().private_value.to_bytes((key.curve.key_size + 7) // 8, "big")
        start = der.index(scalar)
        first, last = start // PEM_LINE_BYTES, (start + len(scalar) - 1) // PEM_LINE_BYTES
        return body[first : last + 1]
    return body[1:-1]  # RSA and others: the modulus opens, but the private parts fill the middle


def secrets_in(directory: Path) -> dict[str, str]:
    """Each generated secret (old ones kept by a rotation too), and the private lines of each private key."""
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name.endswith(".crt") or path.name == "client.env":
            continue
        text = path.read_text().strip()
        if "PRIVATE KEY-----" in text:
            lines = private_key_lines(text)
            found.update({f"{path.name} private line {n}": line for n, line in enumerate(lines, 1)})
        else:
            found[path.name] = text.split(" salt=")[0]
    return found


def test_vvv_output_of_every_playbook_holds_no_generated_secret():
    log = Path(os.environ["BIRTHA_PLAYBOOK_LOG"])
    output = log.read_text(errors="replace")
    # The log is the real thing: -vvv (connection details) over many playbook runs.
    assert output.count("PLAY RECAP") >= 8, f"{log} holds {output.count('PLAY RECAP')} playbook runs"
    assert "ESTABLISH" in output, f"{log} was not written at -vvv"
    secrets = secrets_in(credentials_dir())
    assert {"postgres_mlflow_password", "minio_root_password", "mlflow_admin_password"} <= set(secrets)
    assert any("private line" in name for name in secrets), "no private key found to search for"
    assert all(len(value) >= 16 for value in secrets.values()), "a secret too short to search for"
    leaked = sorted(name for name, value in secrets.items() if value in output)
    assert not leaked, f"{log} shows {leaked}"
