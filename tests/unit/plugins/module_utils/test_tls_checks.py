"""TLS material checks (module_utils tls_checks, module tls_certificate_check) on real material made here.

A CA, a host certificate it signed (DNS:birtha-db, IP:127.0.0.1), and the ways material goes wrong: an unrelated
key, expired, not yet valid, a 1024-bit RSA key, signed by another CA, SHA-1, an EC chain, a fullchain file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.birtha.mlflow.plugins.module_utils import tls_checks as tls
from ansible_collections.birtha.mlflow.plugins.modules import tls_certificate_check as module

REPO_ROOT = Path(__file__).resolve().parents[4]
NOW = datetime.now(UTC)


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any


def rsa_key(bits: int = 2048) -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_cert(
    name: str,
    key: Any,
    issuer: Issued | None = None,
    sans: list[x509.GeneralName] | None = None,
    ca: bool = False,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> Issued:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def host_sans() -> list[x509.GeneralName]:
    return [x509.DNSName("birtha-db"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def write_cert(path: Path, *certs: x509.Certificate) -> str:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return str(path)


def write_key(path: Path, key: Any, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    path.chmod(0o600)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every piece of material, as objects and as files."""
    d = tmp_path_factory.mktemp("pki")
    ca = make_cert("Birtha CA", rsa_key(), ca=True)
    other_ca = make_cert("Other CA", rsa_key(), ca=True)
    # Same name as the Birtha CA, other key: a CA that was made again.
    remade_ca = make_cert("Birtha CA", rsa_key(), ca=True)
    host = make_cert("birtha-db", rsa_key(), ca, host_sans())
    ec_ca = make_cert("Birtha EC CA", ec.generate_private_key(ec.SECP384R1()), ca=True)
    ec_host = make_cert("birtha-db", ec.generate_private_key(ec.SECP256R1()), ec_ca, host_sans())
    intermediate = make_cert("Birtha Intermediate", rsa_key(), ca, ca=True)
    leaf_via_intermediate = make_cert("birtha-db", rsa_key(), intermediate, host_sans())
    not_a_ca = make_cert("Not a CA", rsa_key(), ca)
    leaf_via_not_a_ca = make_cert("birtha-db", rsa_key(), not_a_ca, host_sans())
    m: dict[str, Any] = {"ca": ca, "host": host, "ec_ca": ec_ca, "ec_host": ec_host, "other_ca": other_ca}
    m["expired"] = make_cert(
        "birtha-db",
        rsa_key(),
        ca,
        host_sans(),
        not_before=NOW - timedelta(days=400),
        not_after=NOW - timedelta(days=10),
    )
    m["future"] = make_cert("birtha-db", rsa_key(), ca, host_sans(), not_before=NOW + timedelta(days=5))
    m["soon"] = make_cert("birtha-db", rsa_key(), ca, host_sans(), not_after=NOW + timedelta(days=10, hours=1))
    m["weak_rsa"] = make_cert("birtha-db", rsa_key(1024), ca, host_sans())
    m["weak_ec"] = make_cert("birtha-db", ec.generate_private_key(ec.SECP192R1()), ca, host_sans())
    m["foreign"] = make_cert("birtha-db", rsa_key(), other_ca, host_sans())
    m["wildcard"] = make_cert(
        "wild", rsa_key(), ca, [x509.DNSName("*.Example.com"), x509.IPAddress(ipaddress.ip_address("2001:db8::1"))]
    )
    m["no_san"] = make_cert("birtha-db", rsa_key(), ca)
    m["self_signed"] = make_cert("birtha-db", rsa_key(), None, host_sans())
    m["unrelated_key"] = rsa_key()
    m["remade_ca"] = remade_ca
    m["intermediate"] = intermediate
    m["leaf_via_intermediate"] = leaf_via_intermediate
    files = {
        "ca": write_cert(d / "ca.crt", ca.cert),
        "bundle": write_cert(d / "bundle.crt", other_ca.cert, ec_ca.cert, ca.cert),
        "host": write_cert(d / "host.crt", host.cert),
        "host_key": write_key(d / "host.key", host.key),
        "unrelated_key": write_key(d / "unrelated.key", m["unrelated_key"]),
        "encrypted_key": write_key(d / "encrypted.key", host.key, b"secret-passphrase"),
        "ec_ca": write_cert(d / "ec-ca.crt", ec_ca.cert),
        "ec_host": write_cert(d / "ec-host.crt", ec_host.cert),
        "ec_host_key": write_key(d / "ec-host.key", ec_host.key),
        "remade_ca": write_cert(d / "remade-ca.crt", remade_ca.cert),
        "fullchain": write_cert(d / "fullchain.crt", leaf_via_intermediate.cert, intermediate.cert),
        "leaf_only": write_cert(d / "leaf-only.crt", leaf_via_intermediate.cert),
        "via_not_a_ca": write_cert(d / "via-not-a-ca.crt", leaf_via_not_a_ca.cert, not_a_ca.cert),
    }
    for name in ("expired", "future", "soon", "weak_rsa", "weak_ec", "foreign", "self_signed"):
        files[name] = write_cert(d / f"{name}.crt", m[name].cert)
    (d / "garbage.crt").write_text("this is not a certificate\n")
    files["garbage"] = str(d / "garbage.crt")
    (d / "host.der").write_bytes(host.cert.public_bytes(serialization.Encoding.DER))
    files["der"] = str(d / "host.der")
    files["missing"] = str(d / "missing.crt")
    m["files"] = files
    m["dir"] = d
    return m


# Loading: each error names the file and why.


def test_loads_certificate_key_and_bundle(pki):
    files = pki["files"]
    assert tls.load_certificate(files["host"]) == pki["host"].cert
    assert [c.subject for c in tls.load_ca_bundle(files["bundle"])] == [
        pki["other_ca"].cert.subject,
        pki["ec_ca"].cert.subject,
        pki["ca"].cert.subject,
    ]
    assert tls.key_matches_cert(pki["host"].cert, tls.load_private_key(files["host_key"]))


@pytest.mark.parametrize(
    ("loader", "name", "why"),
    [
        (tls.load_certificate, "missing", "does not exist"),
        (tls.load_certificate, "garbage", "is not PEM"),
        (tls.load_certificate, "der", "is not PEM"),
        (tls.load_certificate, "host_key", "holds no certificate"),
        (tls.load_ca_bundle, "missing", "CA certificate"),
        (tls.load_private_key, "encrypted_key", "is encrypted"),
        (tls.load_private_key, "host", "holds no private key"),
        (tls.load_private_key, "missing", "does not exist"),
    ],
)
def test_load_errors_name_the_file(pki, loader, name, why):
    path = pki["files"][name]
    with pytest.raises(tls.TlsMaterialError) as raised:
        loader(path)
    assert path in str(raised.value)
    assert why in str(raised.value)


def test_directory_and_unreadable_file_are_named(pki, tmp_path):
    with pytest.raises(tls.TlsMaterialError, match="is a directory"):
        tls.load_certificate(str(tmp_path))
    dangling = tmp_path / "dangling.crt"
    dangling.symlink_to(tmp_path / "gone.crt")
    with pytest.raises(tls.TlsMaterialError, match=f"certificate {dangling} cannot be read"):
        tls.load_certificate(str(dangling))
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    unreadable = Path(pki["files"]["host"]).with_name("unreadable.crt")
    unreadable.write_bytes(Path(pki["files"]["host"]).read_bytes())
    unreadable.chmod(0)
    with pytest.raises(tls.TlsMaterialError, match="cannot be read"):
        tls.load_certificate(str(unreadable))


def test_key_errors_never_quote_the_key(pki, tmp_path):
    # A damaged key: its text must not reach the message.
    lines = Path(pki["files"]["host_key"]).read_text().splitlines()
    damaged = tmp_path / "damaged.key"
    damaged.write_text("\n".join([lines[0], lines[1][:40] + "!!", lines[-1]]) + "\n")
    with pytest.raises(tls.TlsMaterialError) as raised:
        tls.load_private_key(str(damaged))
    assert str(damaged) in str(raised.value)
    assert lines[1][:20] not in str(raised.value)


# Verdicts of each check.


def test_key_matches_its_certificate_only(pki):
    assert tls.key_matches_cert(pki["host"].cert, pki["host"].key)
    assert tls.key_matches_cert(pki["ec_host"].cert, pki["ec_host"].key)
    assert not tls.key_matches_cert(pki["host"].cert, pki["unrelated_key"])
    assert not tls.key_matches_cert(pki["ec_host"].cert, pki["host"].key)


def test_issued_by(pki):
    ca, other_ca, ec_ca = pki["ca"].cert, pki["other_ca"].cert, pki["ec_ca"].cert
    assert tls.issued_by(pki["host"].cert, [ca])
    assert tls.issued_by(pki["host"].cert, [other_ca, ec_ca, ca])
    assert tls.issued_by(pki["ec_host"].cert, [ec_ca])  # ECDSA
    assert not tls.issued_by(pki["foreign"].cert, [ca])
    assert not tls.issued_by(pki["host"].cert, [ec_ca])
    # Same issuer name, other key: the signature decides.
    assert not tls.issued_by(pki["host"].cert, [pki["remade_ca"].cert])
    # A self-signed certificate trusted as its own CA; the CA itself.
    assert tls.issued_by(pki["self_signed"].cert, [pki["self_signed"].cert])
    assert not tls.issued_by(pki["self_signed"].cert, [ca])
    assert tls.issued_by(ca, [ca])


def test_trust_path_goes_through_intermediates(pki):
    leaf, intermediate, ca = pki["leaf_via_intermediate"].cert, pki["intermediate"].cert, pki["ca"].cert
    assert tls.trust_path(leaf, [intermediate], [ca]) == [leaf, intermediate, ca]
    assert tls.trust_path(leaf, [], [ca]) is None
    assert tls.trust_path(pki["host"].cert, [], [ca]) == [pki["host"].cert, ca]


@pytest.mark.parametrize(
    ("cert", "names", "missing"),
    [
        ("host", ["birtha-db", "BIRTHA-DB.", "127.0.0.1"], []),
        ("host", ["birtha-web", "127.0.0.2", "::1"], ["birtha-web", "127.0.0.2", "::1"]),
        ("wildcard", ["db.example.com", "DB.EXAMPLE.COM", "2001:db8:0::1", "[2001:db8::1]"], []),
        (
            "wildcard",
            ["example.com", "a.db.example.com", "db.example.org"],
            ["example.com", "a.db.example.com", "db.example.org"],
        ),
        # The CN is not consulted, as clients do not.
        ("no_san", ["birtha-db"], ["birtha-db"]),
    ],
)
def test_names_covered_lists_the_names_not_covered(pki, cert, names, missing):
    assert tls.names_covered(pki[cert].cert, names) == missing


def test_wildcard_stands_for_one_label():
    assert tls.dns_name_matches("*.example.com", "a.example.com")
    assert not tls.dns_name_matches("*.example.com", "a.b.example.com")
    assert not tls.dns_name_matches("*.example.com", ".example.com")
    assert not tls.dns_name_matches("*.example.com", "example.com")


def test_validity(pki):
    path = "/etc/ssl/x.crt"
    assert tls.validity_problems(pki["host"].cert, NOW, 30, path) == []
    (expired,) = tls.validity_problems(pki["expired"].cert, NOW, 0, path)
    assert expired.startswith(f"{path} expired on ") and "10 days ago" in expired and "renew" in expired
    (future,) = tls.validity_problems(pki["future"].cert, NOW, 0, path)
    assert future.startswith(f"{path} is not valid before ") and "clock" in future
    assert tls.validity_problems(pki["soon"].cert, NOW, 0, path) == []
    (soon,) = tls.validity_problems(pki["soon"].cert, NOW, 30, path)
    assert f"{path} expires on " in soon and "in 10 days" in soon and "30 days" in soon
    assert tls.days_left(pki["soon"].cert, NOW) == 10
    assert tls.days_left(pki["expired"].cert, NOW) == -10
    assert tls.needs_renewal(pki["soon"].cert, NOW, 30)
    assert not tls.needs_renewal(pki["soon"].cert, NOW, 7)
    assert tls.needs_renewal(pki["expired"].cert, NOW, 0)


def test_key_strength(pki):
    assert tls.key_strength_problems(pki["host"].key, "k") == []
    assert tls.key_strength_problems(pki["ec_host"].cert.public_key(), "k") == []
    (weak,) = tls.key_strength_problems(pki["weak_rsa"].cert.public_key(), "/x/weak.crt")
    assert weak.startswith("/x/weak.crt has a 1024-bit RSA key") and "2048" in weak
    (weak_ec,) = tls.key_strength_problems(pki["weak_ec"].key, "/x/weak-ec.key")
    assert weak_ec.startswith("/x/weak-ec.key has an EC key on secp192r1") and "P-256" in weak_ec


@pytest.fixture(scope="module")
def sha1_cert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A self-signed SHA-1 certificate. cryptography no longer signs with SHA-1, OpenSSL still does."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is needed to make a SHA-1 signed certificate")
    d = tmp_path_factory.mktemp("sha1")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha1",
            "-days",
            "30",
            "-subj",
            "/CN=birtha-db",
            "-addext",
            "subjectAltName=DNS:birtha-db",
            "-keyout",
            str(d / "sha1.key"),
            "-out",
            str(d / "sha1.crt"),
        ],
        check=True,
        capture_output=True,
    )
    return str(d / "sha1.crt")


def test_weak_signature_hash(pki, sha1_cert):
    assert tls.signature_hash_problems(pki["host"].cert, "h") == []
    (weak,) = tls.signature_hash_problems(tls.load_certificate(sha1_cert), sha1_cert)
    assert weak.startswith(f"{sha1_cert} is signed with SHA1") and "SHA-256" in weak
    # Its validity starts when openssl made it, after NOW.
    (problem,) = module.inspect(params(certificate=sha1_cert, names=["birtha-db"]), datetime.now(UTC))["problems"]
    assert problem == weak


def test_facts(pki):
    cert = pki["host"].cert
    assert tls.subject_alt_names(cert) == ["DNS:birtha-db", "IP Address:127.0.0.1"]
    assert tls.fingerprint_sha256(cert) == cert.fingerprint(hashes.SHA256()).hex(":")
    assert tls.iso_utc(tls.not_after(cert)).endswith("Z")


# The module's verdict over all files (inspect), then the module as Ansible runs it.


def params(**given: Any) -> dict[str, Any]:
    spec = module.argument_spec()
    return {name: given.get(name, option.get("default")) for name, option in spec.items()}


def test_good_material_has_no_problems(pki):
    f = pki["files"]
    result = module.inspect(
        params(
            certificate=f["host"],
            private_key=f["host_key"],
            ca_certificate=f["bundle"],
            names=["birtha-db", "127.0.0.1"],
            min_days_left=7,
        ),
        NOW,
    )
    assert result["problems"] == []
    assert result["renew"] is False
    assert result["subject"] == "CN=birtha-db" and result["issuer"] == "CN=Birtha CA"
    assert 363 <= result["days_left"] <= 365


def test_ec_material_and_fullchain_pass(pki):
    f = pki["files"]
    ec_result = module.inspect(
        params(certificate=f["ec_host"], private_key=f["ec_host_key"], ca_certificate=f["ec_ca"], names=["birtha-db"]),
        NOW,
    )
    assert ec_result["problems"] == []
    assert module.inspect(params(certificate=f["fullchain"], ca_certificate=f["ca"]), NOW)["problems"] == []
    (no_chain,) = module.inspect(params(certificate=f["leaf_only"], ca_certificate=f["ca"]), NOW)["problems"]
    assert no_chain.startswith(f"{f['leaf_only']} was not issued by the CA in {f['ca']}")


@pytest.mark.parametrize(
    ("given", "named", "why"),
    [
        ({"private_key": "unrelated_key"}, "unrelated_key", "is not the private key of"),
        ({"private_key": "encrypted_key"}, "encrypted_key", "is encrypted"),
        ({"ca_certificate": "missing"}, "missing", "does not exist"),
        ({"ca_certificate": "other_ca"}, "other_ca", "was not issued by the CA in"),
        ({"ca_certificate": "remade_ca"}, "remade_ca", "its key did not sign"),
        ({"certificate": "foreign", "ca_certificate": "ca"}, "foreign", "was not issued by the CA in"),
        ({"certificate": "expired"}, "expired", "expired on"),
        ({"certificate": "future"}, "future", "is not valid before"),
        ({"certificate": "soon", "min_days_left": 14}, "soon", "within the required 14 days"),
        ({"certificate": "weak_rsa"}, "weak_rsa", "1024-bit RSA key"),
        ({"certificate": "weak_ec"}, "weak_ec", "secp192r1"),
        ({"names": ["birtha-web"]}, "host", "does not cover birtha-web"),
        ({"certificate": "via_not_a_ca", "ca_certificate": "ca"}, "via_not_a_ca", "is not a CA certificate"),
    ],
)
def test_each_problem_names_the_file(pki, given, named, why):
    f = pki["files"]
    if "other_ca" in given.values():
        f = {**f, "other_ca": write_cert(pki["dir"] / "other-ca.crt", pki["other_ca"].cert)}
    # The host's key only goes with the host's certificate.
    options = {"certificate": f["host"], "ca_certificate": f["ca"]}
    if "certificate" not in given:
        options["private_key"] = f["host_key"]
    options.update({k: f[v] if isinstance(v, str) and v in f else v for k, v in given.items()})
    problems = module.inspect(params(**options), NOW)["problems"]
    assert len(problems) == 1, problems
    assert f[named] in problems[0] and why in problems[0]


def test_every_unreadable_file_is_named_at_once(pki):
    f = pki["files"]
    result = module.inspect(
        params(certificate=f["missing"], private_key=f["encrypted_key"], ca_certificate=f["garbage"]), NOW
    )
    assert [p.split(" ")[0:2] for p in result["problems"]] == [
        ["certificate", f["missing"]],
        ["private", "key"],
        ["CA", "certificate"],
    ]
    assert f["encrypted_key"] in result["problems"][1] and f["garbage"] in result["problems"][2]
    assert result["renew"] is False and "not_after" not in result


def test_renew_is_reported_not_refused(pki):
    result = module.inspect(params(certificate=pki["files"]["soon"], renew_days=30), NOW)
    assert result["problems"] == [] and result["renew"] is True and result["days_left"] == 10


def run_module(args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """ansible localhost -m birtha.mlflow.tls_certificate_check, the collection found through ansible.cfg."""
    # ansible-test units puts an ansible package holding only module_utils on PYTHONPATH for these tests; the ansible
    # command needs all of it. (ansible-test's ANSIBLE_COLLECTIONS_PATH, when set, finds the collection.)
    env = dict(
        {name: value for name, value in os.environ.items() if name != "PYTHONPATH"},
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_CACHE_PLUGIN="memory",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_NOCOLOR="1",
    )
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-m",
            "birtha.mlflow.tls_certificate_check",
            "-a",
            json.dumps(args),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.stdout, completed.stderr
    output = json.loads(completed.stdout)
    return completed.returncode, output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_module_accepts_good_material(pki):
    f = pki["files"]
    rc, result = run_module(
        {
            "certificate": f["host"],
            "private_key": f["host_key"],
            "ca_certificate": f["ca"],
            "names": ["birtha-db", "127.0.0.1"],
        }
    )
    assert rc == 0, result
    assert result["changed"] is False and result["problems"] == [] and result["renew"] is False
    assert result["subject_alt_names"] == ["DNS:birtha-db", "IP Address:127.0.0.1"]
    assert "PRIVATE KEY" not in json.dumps(result)


def test_module_refuses_a_key_of_another_certificate(pki):
    f = pki["files"]
    rc, result = run_module({"certificate": f["host"], "private_key": f["unrelated_key"], "ca_certificate": f["ca"]})
    assert rc != 0
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("TLS material refused: ")
    assert f"{f['unrelated_key']} is not the private key of {f['host']}" in result["msg"]
    assert result["problems"] and result["fingerprint_sha256"]
    assert "PRIVATE KEY" not in json.dumps(result)


def test_module_reports_without_failing_when_asked(pki):
    rc, result = run_module({"certificate": pki["files"]["expired"], "fail_on_problems": False})
    assert rc == 0, result
    assert result["renew"] is True and result["days_left"] == -10
    assert pki["files"]["expired"] in result["problems"][0]
