"""Bad TLS material stops playbooks/validate.yml (platform_up's first step) with the file named and why.

Certificates are made here with `cryptography`, for this machine as the only host (local connection, every
tier): validation reads them on the controller and changes nothing.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_bad_input import run_validate

NOW = datetime.datetime.now(datetime.UTC)


def default_ipv4() -> str:
    """The address Ansible reports as default_ipv4 (the source of the default route), which the role requires."""
    route = subprocess.run(["ip", "-4", "route", "get", "192.0.2.1"], capture_output=True, text=True, check=True)
    words = route.stdout.split()
    return words[words.index("src") + 1]


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)
    return path


def write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def issue(
    subject: str, key, issuer_key, issuer_name: x509.Name | None, names: list[str], start, end, ca: bool = False
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        entries = [
            x509.IPAddress(ipaddress.ip_address(n)) if n.replace(".", "").isdigit() else x509.DNSName(n) for n in names
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, a good certificate for this host, an expired one, one for another host, and an unrelated key."""
    root = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = issue(
        "Test CA", ca_key, ca_key, None, [], NOW - datetime.timedelta(days=1), NOW + datetime.timedelta(days=30), True
    )
    host_key = ec.generate_private_key(ec.SECP256R1())
    names = ["localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn(), default_ipv4()]
    day = datetime.timedelta(days=1)
    files = {
        "ca": write_cert(root / "ca.crt", ca),
        "key": write_key(root / "host.key", host_key),
        "good": write_cert(
            root / "good.crt", issue("localhost", host_key, ca_key, ca.subject, names, NOW - day, NOW + 90 * day)
        ),
        "expired": write_cert(
            root / "expired.crt", issue("localhost", host_key, ca_key, ca.subject, names, NOW - 90 * day, NOW - day)
        ),
        "elsewhere": write_cert(
            root / "elsewhere.crt", issue("db", host_key, ca_key, ca.subject, ["birtha-db"], NOW - day, NOW + 90 * day)
        ),
        "other_key": write_key(root / "other.key", ec.generate_private_key(ec.SECP256R1())),
    }
    return {name: str(path) for name, path in files.items()}


def tls_vars(material: dict[str, str], tmp_path: Path, **overrides: str) -> dict[str, object]:
    values = {
        "platform_tls": True,
        "ssl_hardening_dir": str(tmp_path / "issued"),
        "ssl_hardening_ca_cert": material["ca"],
        "ssl_hardening_host_cert": material["good"],
        "ssl_hardening_host_key": material["key"],
    }
    values.update({name: material.get(value, value) for name, value in overrides.items()})
    return values


def test_good_supplied_certificate_passes(inventory, base_vars, material, tmp_path):
    result = run_validate(inventory, {**base_vars, **tls_vars(material, tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]


@pytest.mark.parametrize(
    ("overrides", "file_key", "why"),
    [
        ({"ssl_hardening_host_key": "other_key"}, "other_key", "is not the private key of"),
        ({"ssl_hardening_host_cert": "expired"}, "expired", "expired on"),
        ({"ssl_hardening_host_cert": "elsewhere"}, "elsewhere", "does not cover"),
        ({"ssl_hardening_ca_cert": "/nonexistent/ca.crt"}, None, "/nonexistent/ca.crt, which does not exist"),
    ],
    ids=["key-mismatch", "expired", "wrong-host", "missing-ca"],
)
def test_bad_certificate_is_refused_naming_the_file(
    inventory,
    base_vars,
    material,
    tmp_path,
    overrides,
    file_key,
    why,
):
    result = run_validate(inventory, {**base_vars, **tls_vars(material, tmp_path, **overrides)}, tmp_path)
    assert result.returncode != 0
    assert why in result.stdout, result.stdout[-3000:]
    if file_key:
        assert material[file_key] in result.stdout, result.stdout[-3000:]
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]
    assert not (tmp_path / "issued").exists(), "refused material was copied"
