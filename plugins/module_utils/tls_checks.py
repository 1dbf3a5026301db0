# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Checks of TLS material (certificate, private key, CA bundle) before a service is configured with it.

Pure functions over `cryptography` objects. Every problem is one sentence that names the file, says why
and says what to do. Written for the cryptography releases Debian 12 ships (38) as well as current ones:
the newer conveniences (`load_pem_x509_certificates`, `verify_directly_issued_by`, `not_valid_after_utc`)
are used only where present or not at all.
"""

from __future__ import annotations

import ipaddress
import os
import re
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

CRYPTOGRAPHY_IMPORT_ERROR: str | None
try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
except ImportError:
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
# A fullchain file of leaf and intermediates is short; the bound only stops a loop of cross-signed certificates.
MAX_CHAIN_DEPTH = 8

PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class TlsMaterialError(Exception):
    """A file that cannot be used at all; the message names it and says why."""


def read_pem(path: str, what: str) -> bytes:
    """The bytes of a PEM file, or a TlsMaterialError that names the file: missing, a directory, unreadable, not PEM."""
    if not os.path.lexists(path):
        raise TlsMaterialError(f"{what} {path} does not exist: give the path of the PEM file, or create it first")
    if os.path.isdir(path):
        raise TlsMaterialError(f"{what} {path} is a directory, not a PEM file: give the path of the file in it")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise TlsMaterialError(
            f"{what} {path} cannot be read ({error.strerror}): fix the link or its permissions, or run the check "
            "as a user who may read it (become)"
        ) from None
    if not PEM_LABEL.search(data):
        command = "pkey" if what == "private key" else "x509"
        raise TlsMaterialError(
            f"{what} {path} is not PEM (no '-----BEGIN ...-----' line; DER or PKCS#12?): convert it, for example "
            f"with 'openssl {command} -inform DER -in {path} -out <file>.pem'"
        )
    return data


def pem_labels(data: bytes) -> list[str]:
    return [label.decode("ascii") for label in PEM_LABEL.findall(data)]


def load_certificates(path: str, what: str = "certificate") -> list[x509.Certificate]:
    """Every certificate in a PEM file, in file order (a fullchain file: leaf first, then intermediates)."""
    data = read_pem(path, what)
    blocks = PEM_CERTIFICATE.findall(data)
    if not blocks:
        found = ", ".join(sorted(set(pem_labels(data))))
        # Said because the usual mistake is swapping certificate and key paths.
        raise TlsMaterialError(
            f"{what} {path} holds no certificate (it has: {found}): give the file with "
            "'-----BEGIN CERTIFICATE-----' blocks"
        )
    certificates = []
    for number, block in enumerate(blocks, start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as error:
            raise TlsMaterialError(
                f"{what} {path}: certificate {number} of {len(blocks)} is not a valid X.509 certificate ({error}): "
                "replace the file with the certificate as the CA issued it"
            ) from None
    return certificates


def load_certificate(path: str) -> x509.Certificate:
    """The first certificate of a PEM file: the one a service presents."""
    return load_certificates(path)[0]


def load_ca_bundle(path: str) -> list[x509.Certificate]:
    """The CA certificates of a bundle file (one or several PEM certificates)."""
    return load_certificates(path, "CA certificate")


def load_private_key(path: str) -> Any:
    """The private key of a PEM file. Messages never quote the file's content: it is a secret."""
    data = read_pem(path, "private key")
    labels = pem_labels(data)
    if not any(label.endswith("PRIVATE KEY") for label in labels):
        raise TlsMaterialError(
            f"private key {path} holds no private key (it has: {', '.join(sorted(set(labels)))}): give the file with "
            "the '-----BEGIN PRIVATE KEY-----' block"
        )
    # Services start unattended, so a key that needs a passphrase would stop them at their next restart.
    if "ENCRYPTED PRIVATE KEY" in labels or b"Proc-Type: 4,ENCRYPTED" in data:
        raise TlsMaterialError(
            f"private key {path} is encrypted: the services read it unattended and have no passphrase; store it "
            f"decrypted with mode 0600 ('openssl pkey -in {path} -out <file>'), protected by file permissions"
        )
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsMaterialError(
            f"private key {path} is encrypted: the services read it unattended and have no passphrase; store it "
            f"decrypted with mode 0600 ('openssl pkey -in {path} -out <file>')"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        # The library's own message is left out on purpose: nothing derived from the key goes into a result.
        raise TlsMaterialError(
            f"private key {path} is not a readable PEM private key (damaged, or a format such as an OpenSSH key): "
            "give the key the certificate was issued for, in PKCS#8 or traditional PEM"
        ) from None


def public_key_bytes(key: Any) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches_cert(cert: x509.Certificate, key: Any) -> bool:
    """Whether key is the private key of cert: their public keys are the same (RSA, EC, Ed25519/Ed448)."""
    return public_key_bytes(key) == public_key_bytes(cert.public_key())


def rsa_padding(cert: x509.Certificate) -> Any:
    # cryptography >= 41 tells a PSS signature's parameters; older releases only verify PKCS #1 v1.5 here.
    parameters = getattr(cert, "signature_algorithm_parameters", None)
    return parameters if isinstance(parameters, padding.AsymmetricPadding) else padding.PKCS1v15()


def signature_valid(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether issuer's public key verifies cert's signature (RSA PKCS #1 v1.5 or PSS, ECDSA, EdDSA)."""
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, rsa_padding(cert), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def find_issuer(cert: x509.Certificate, candidates: list[x509.Certificate]) -> x509.Certificate | None:
    """The candidate whose subject is cert's issuer and whose key verifies cert's signature; cert itself when it is
    one of the candidates (a self-signed certificate trusted as its own CA)."""
    for candidate in candidates:
        if candidate == cert:
            return candidate
    for candidate in candidates:
        if cert.issuer == candidate.subject and signature_valid(cert, candidate):
            return candidate
    return None


def issued_by(cert: x509.Certificate, ca_certs: list[x509.Certificate]) -> bool:
    """Whether one of ca_certs issued cert directly (or cert is one of them)."""
    return find_issuer(cert, ca_certs) is not None


def trust_path(
    cert: x509.Certificate, intermediates: list[x509.Certificate], ca_certs: list[x509.Certificate]
) -> list[x509.Certificate] | None:
    """cert, the intermediates it needs and the CA certificate that anchors them, or None when no path leads to
    one of ca_certs. Intermediates are those a fullchain file carries after its leaf."""
    path = [cert]
    current = cert
    for _depth in range(MAX_CHAIN_DEPTH):
        anchor = find_issuer(current, ca_certs)
        if anchor is not None:
            return path if anchor == current else [*path, anchor]
        parent = find_issuer(current, [c for c in intermediates if c not in path])
        if parent is None:
            return None
        path.append(parent)
        current = parent
    return None


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def san_entries(cert: x509.Certificate) -> list[Any]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """The SAN entries as OpenSSL prints them: DNS:name, IP Address:addr, URI:..., email:..."""
    shown = []
    for entry in san_entries(cert):
        if isinstance(entry, x509.DNSName):
            shown.append(f"DNS:{entry.value}")
        elif isinstance(entry, x509.IPAddress):
            shown.append(f"IP Address:{entry.value}")
        elif isinstance(entry, x509.UniformResourceIdentifier):
            shown.append(f"URI:{entry.value}")
        elif isinstance(entry, x509.RFC822Name):
            shown.append(f"email:{entry.value}")
        else:
            shown.append(str(entry.value))
    return shown


def dns_name_matches(pattern: str, name: str) -> bool:
    """RFC 6125: case-insensitive; a wildcard only as the whole leftmost label, standing for exactly one label."""
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if pattern.startswith("*."):
        label, _dot, rest = name.partition(".")
        return bool(label) and label != "*" and rest == pattern[2:]
    return pattern == name


def names_covered(cert: x509.Certificate, names: list[str]) -> list[str]:
    """The names (DNS names or IP addresses) that cert's subjectAltName does NOT cover. Clients check the SAN only;
    the subject's CN is not consulted, as no current TLS client does."""
    entries = san_entries(cert)
    dns = [e.value for e in entries if isinstance(e, x509.DNSName)]
    ips = [e.value for e in entries if isinstance(e, x509.IPAddress)]
    missing = []
    for name in names:
        try:
            # Compared as addresses, so 127.0.0.1 and ::1 match however they are written.
            address = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            if not any(dns_name_matches(pattern, name) for pattern in dns):
                missing.append(name)
        else:
            if address not in ips:
                missing.append(name)
    return missing


def not_before(cert: x509.Certificate) -> datetime:
    value = getattr(cert, "not_valid_before_utc", None)  # cryptography >= 42; the naive one warns there
    return value if value is not None else cert.not_valid_before.replace(tzinfo=UTC)


def not_after(cert: x509.Certificate) -> datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_left(cert: x509.Certificate, now: datetime) -> int:
    """Whole days until cert expires; once it has, minus the whole days since (both rounded toward zero)."""
    return int((not_after(cert) - now) / timedelta(days=1))


def needs_renewal(cert: x509.Certificate, now: datetime, renew_days: int) -> bool:
    return not_after(cert) - now < timedelta(days=renew_days)


def validity_problems(cert: x509.Certificate, now: datetime, min_days_left: int, path: str) -> list[str]:
    """Not yet valid, expired, or (only when neither) expiring within min_days_left days: each its own sentence, so
    a caller can tell "renew soon" from "broken now"."""
    problems = []
    start, end = not_before(cert), not_after(cert)
    if now < start:
        problems.append(
            f"{path} is not valid before {iso_utc(start)}: check the clocks of this host and of the CA, or issue it "
            "again without a future start date"
        )
    if now >= end:
        ago = -days_left(cert, now)
        since = f" ({ago} days ago)" if ago > 1 else " (a day ago)" if ago == 1 else ""
        problems.append(f"{path} expired on {iso_utc(end)}{since}: renew it")
    elif end - now < timedelta(days=min_days_left):
        problems.append(
            f"{path} expires on {iso_utc(end)}, in {days_left(cert, now)} days, within the required "
            f"{min_days_left} days: renew it now"
        )
    return problems


def key_strength_problems(key: Any, path: str) -> list[str]:
    """RSA under 2048 bits, an EC curve under 256 bits, DSA: refused by current TLS clients (OpenSSL's default
    security level 2 and TLS 1.3). Takes a private or a public key."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)) and key.key_size < MIN_RSA_BITS:
        return [
            f"{path} has a {key.key_size}-bit RSA key; TLS clients refuse RSA keys under {MIN_RSA_BITS} bits: "
            f"issue a new certificate for an RSA key of {MIN_RSA_BITS} bits or more, or an EC P-256 key"
        ]
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and key.curve.key_size < MIN_EC_BITS:
        return [
            f"{path} has an EC key on {key.curve.name} ({key.curve.key_size} bits); TLS clients refuse curves under "
            f"{MIN_EC_BITS} bits: issue a new certificate for a P-256 (secp256r1) key or larger"
        ]
    if isinstance(key, (dsa.DSAPrivateKey, dsa.DSAPublicKey)):
        return [f"{path} has a DSA key, which TLS 1.3 and current clients refuse: issue a new one for an RSA or EC key"]
    return []


def signature_hash_problems(cert: x509.Certificate, path: str) -> list[str]:
    """A certificate signed with MD5 or SHA-1 (collisions are practical): refused by current TLS clients."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return [
            f"{path} is signed with an algorithm this check does not know "
            f"({cert.signature_algorithm_oid.dotted_string}): have it issued again with SHA-256"
        ]
    if isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        name = algorithm.name.upper()
        return [f"{path} is signed with {name}, which TLS clients refuse: have it issued again with SHA-256"]
    return []


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Colon-separated lower-case hex, as community.crypto.x509_certificate_info returns it."""
    return cert.fingerprint(hashes.SHA256()).hex(":")
