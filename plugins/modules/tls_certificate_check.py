#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Check a TLS certificate, its private key and its CA before any service is configured with them."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_certificate_check
short_description: Refuse a TLS certificate, key or CA that a service would fail on, before it is configured
version_added: 0.6.0
description:
  - Reads the PEM files of a certificate, optionally its private key and its CA, and refuses them - before any
    service is reconfigured - when a TLS client or the service itself would. Each problem names the file, says why
    and what to do.
  - The checks - each file exists, is readable and is PEM; the private key is not encrypted (services read it
    unattended) and is the key of the certificate (same public key, RSA, EC or EdDSA); the certificate was issued by
    a certificate of O(ca_certificate), directly or through the intermediates that follow it in O(certificate), and
    the issuing certificates are CAs and valid; every one of O(names) is in the certificate's subjectAltName (DNS
    names, C(*.example.com) standing for one label, and IP addresses compared as addresses; the subject's CN is not
    consulted, as no current client does); the certificate is valid now and for at least O(min_days_left) more days;
    the key is strong enough (RSA of 2048 bits or more, an EC curve of 256 bits or more, no DSA); the signature does
    not use MD5 or SHA-1.
  - Runs wherever the files are - on the controller with C(delegate_to=localhost) before they are copied, or on the
    target host. Never changes anything; RV(ignore:changed) is always V(false).
  - The key's content never appears in a result or a message.
options:
  certificate:
    description:
      - PEM file of the certificate the service will present. The first certificate in it is checked; those after
        it (a C(fullchain) file) are taken as intermediates on the way to O(ca_certificate).
    type: path
    required: true
  private_key:
    description: PEM file of the certificate's private key (PKCS#8 or traditional, unencrypted).
    type: path
  ca_certificate:
    description:
      - PEM file of the CA certificate the clients trust; it may hold several certificates (a bundle). Without it,
        the issuer is not checked.
    type: path
  names:
    description:
      - Host names and IP addresses the clients connect to; each must be in the certificate's subjectAltName.
    type: list
    elements: str
    default: []
  min_days_left:
    description:
      - Refuse the certificate when it expires within this many days. V(0) refuses only an expired one.
    type: int
    default: 0
  renew_days:
    description:
      - RV(renew) is V(true) when the certificate expires within this many days. Not a problem by itself.
    type: int
    default: 30
  fail_on_problems:
    description:
      - Fail the task when there is any problem. With V(false), the task succeeds and returns RV(problems) for the
        playbook to decide.
    type: bool
    default: true
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: none
requirements:
  - cryptography (Python library) where the module runs
seealso:
  - module: community.crypto.x509_certificate_info
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Refuse the database's TLS material before PostgreSQL is reconfigured
  birtha.mlflow.tls_certificate_check:
    certificate: files/tls/birtha-db.crt
    private_key: files/tls/birtha-db.key
    ca_certificate: files/tls/birtha-ca.crt
    names:
      - birtha-db
      - 127.0.0.1
    min_days_left: 7
  delegate_to: localhost
  run_once: true

- name: Report instead of failing, and renew within 30 days of expiry
  birtha.mlflow.tls_certificate_check:
    certificate: /etc/ssl/birtha/mlflow.crt
    ca_certificate: /etc/ssl/birtha/ca-bundle.crt
    names: ["{{ inventory_hostname }}"]
    fail_on_problems: false
  register: tls

- name: Say what is wrong
  ansible.builtin.debug:
    msg: "{{ tls.problems }}"
  when: tls.problems | length > 0

- name: Renew the certificate
  ansible.builtin.include_tasks: renew_certificate.yml
  when: tls.renew
"""

RETURN = r"""
problems:
  description:
    - Each reason to refuse the material, one sentence each, naming the file and saying what to do. Empty when the
      material is fine.
  returned: always
  type: list
  elements: str
  sample:
    - "/etc/ssl/birtha/db.key is not the private key of /etc/ssl/birtha/db.crt: their public keys differ: give the key
      the certificate was issued for, or issue a certificate for this key"
renew:
  description: Whether the certificate expires within O(renew_days) days (or has expired).
  returned: always
  type: bool
not_before:
  description: Start of the certificate's validity, ISO 8601 in UTC.
  returned: when the certificate could be read
  type: str
  sample: "2026-01-01T00:00:00Z"
not_after:
  description: End of the certificate's validity, ISO 8601 in UTC.
  returned: when the certificate could be read
  type: str
  sample: "2027-01-01T00:00:00Z"
days_left:
  description: Whole days until the certificate expires; negative once it has.
  returned: when the certificate could be read
  type: int
  sample: 212
subject:
  description: The certificate's subject, as RFC 4514 writes it.
  returned: when the certificate could be read
  type: str
  sample: CN=birtha-db
issuer:
  description: The certificate's issuer, as RFC 4514 writes it.
  returned: when the certificate could be read
  type: str
  sample: CN=Birtha CA
subject_alt_names:
  description: The certificate's subjectAltName entries, as OpenSSL prints them.
  returned: when the certificate could be read
  type: list
  elements: str
  sample: ["DNS:birtha-db", "IP Address:127.0.0.1"]
fingerprint_sha256:
  description: SHA-256 fingerprint of the certificate, colon-separated lower-case hex.
  returned: when the certificate could be read
  type: str
  sample: "3f:0a:...:9c"
"""

from datetime import UTC, datetime
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.birtha.mlflow.plugins.module_utils.tls_checks import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    TlsMaterialError,
    days_left,
    fingerprint_sha256,
    is_ca,
    iso_utc,
    key_matches_cert,
    key_strength_problems,
    load_ca_bundle,
    load_certificates,
    load_private_key,
    names_covered,
    needs_renewal,
    not_after,
    not_before,
    signature_hash_problems,
    subject_alt_names,
    trust_path,
    validity_problems,
)


def argument_spec() -> dict[str, Any]:
    return {
        "certificate": {"type": "path", "required": True},
        "private_key": {"type": "path"},
        "ca_certificate": {"type": "path"},
        "names": {"type": "list", "elements": "str", "default": []},
        "min_days_left": {"type": "int", "default": 0},
        "renew_days": {"type": "int", "default": 30},
        "fail_on_problems": {"type": "bool", "default": True},
    }


def issuer_problems(chain: list[Any], ca_certs: list[Any], cert_path: str, ca_path: str, now: datetime) -> list[str]:
    """The leaf of chain must lead to a CA of ca_certs; the certificates on the way must be valid CAs."""
    leaf = chain[0]
    path = trust_path(leaf, chain[1:], ca_certs)
    if path is None:
        issuer = leaf.issuer.rfc4514_string()
        if any(ca.subject == leaf.issuer for ca in ca_certs):
            why = f"{ca_path} has a CA named '{issuer}', but its key did not sign the certificate (a CA made again?)"
        elif len(ca_certs) <= 3:
            names = ", ".join(f"'{ca.subject.rfc4514_string()}'" for ca in ca_certs)
            why = f"its issuer is '{issuer}', and {ca_path} holds {names}"
        else:
            # A system bundle holds over a hundred roots: listing them would bury the message.
            why = f"its issuer is '{issuer}', and none of the {len(ca_certs)} certificates in {ca_path} is named so"
        return [
            f"{cert_path} was not issued by the CA in {ca_path}: {why}: give the CA certificate that issued it "
            f"(with any intermediates after the certificate in {cert_path}), or use a certificate that this CA issued"
        ]
    problems = []
    for issuer in path[1:]:
        where = f"CA certificate '{issuer.subject.rfc4514_string()}' in {ca_path if issuer in ca_certs else cert_path}"
        if not is_ca(issuer):
            problems.append(
                f"{where} is not a CA certificate (no basicConstraints CA:TRUE), so clients will not accept what it "
                "signed: use the CA's own certificate"
            )
        problems.extend(validity_problems(issuer, now, 0, where))
    return problems


def inspect(params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Every problem of the material, and what the certificate says about itself."""
    cert_path, key_path, ca_path = params["certificate"], params["private_key"], params["ca_certificate"]
    problems: list[str] = []
    chain = key = ca_certs = None
    # Each file is read even when another fails, so one run names every problem.
    try:
        chain = load_certificates(cert_path)
    except TlsMaterialError as error:
        problems.append(str(error))
    if key_path:
        try:
            key = load_private_key(key_path)
        except TlsMaterialError as error:
            problems.append(str(error))
    if ca_path:
        try:
            ca_certs = load_ca_bundle(ca_path)
        except TlsMaterialError as error:
            problems.append(str(error))
    if chain is None:
        return {"problems": problems, "renew": False}

    leaf = chain[0]
    if key is not None and not key_matches_cert(leaf, key):
        problems.append(
            f"{key_path} is not the private key of {cert_path}: their public keys differ: give the key the certificate "
            "was issued for, or issue a certificate for this key"
        )
    if ca_certs is not None:
        problems.extend(issuer_problems(chain, ca_certs, cert_path, ca_path, now))
    missing = names_covered(leaf, params["names"])
    if missing:
        sans = ", ".join(subject_alt_names(leaf)) or "no entries"
        problems.append(
            f"{cert_path} does not cover {', '.join(missing)}: its subjectAltName has {sans} (clients check the "
            "subjectAltName, not the subject's CN): issue it again with these names in its subjectAltName"
        )
    problems.extend(validity_problems(leaf, now, params["min_days_left"], cert_path))
    problems.extend(key_strength_problems(leaf.public_key(), cert_path))
    for number, cert in enumerate(chain, start=1):
        where = cert_path if number == 1 else f"{cert_path} (certificate {number})"
        problems.extend(signature_hash_problems(cert, where))
    return {
        "problems": problems,
        "renew": needs_renewal(leaf, now, params["renew_days"]),
        "not_before": iso_utc(not_before(leaf)),
        "not_after": iso_utc(not_after(leaf)),
        "days_left": days_left(leaf, now),
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "subject_alt_names": subject_alt_names(leaf),
        "fingerprint_sha256": fingerprint_sha256(leaf),
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if CRYPTOGRAPHY_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    for option in ("min_days_left", "renew_days"):
        if params[option] < 0:
            module.fail_json(msg=f"{option} is {params[option]}: give a number of days, 0 or more")
    result = inspect(params, datetime.now(UTC))
    if result["problems"] and params["fail_on_problems"]:
        module.fail_json(msg="TLS material refused: " + "; ".join(result["problems"]), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
