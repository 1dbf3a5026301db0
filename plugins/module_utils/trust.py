# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Which certificates the platform's HTTPS clients (MLflow's client, boto3) verify against.

requests and boto3 ship their own CA bundle (certifi) and ignore the host's trust store, where the ssl_hardening
role installs the platform CA. Modules therefore verify against, in order: the ca_bundle option, the host's
trust store (what curl, psql and Ansible's uri module use), or the library's own bundle.
"""

from __future__ import annotations

import os

SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL family
)


def system_ca_bundle() -> str | None:
    """The host's trust store as one PEM file, when the host has one."""
    return next((path for path in SYSTEM_CA_BUNDLES if os.path.isfile(path)), None)


def tls_verify(ca_bundle: str | None, validate_certs: bool) -> str | bool:
    """The `verify` argument for boto3/requests: False, a CA bundle path, or True (the library's own bundle)."""
    if not validate_certs:
        return False
    return ca_bundle or system_ca_bundle() or True
