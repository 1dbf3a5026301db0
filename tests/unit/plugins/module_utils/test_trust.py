"""Which CA bundle the platform's HTTPS clients verify against (module_utils/trust.py)."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils import trust
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import client_environment


@pytest.fixture
def host_store(tmp_path, monkeypatch):
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(trust, "SYSTEM_CA_BUNDLES", (str(tmp_path / "absent.crt"), str(bundle)))
    return str(bundle)


def test_an_explicit_bundle_wins(host_store):
    assert trust.tls_verify("/etc/platform-ca.crt", True) == "/etc/platform-ca.crt"


def test_the_host_trust_store_is_the_default(host_store):
    # ssl_hardening installs the platform CA there; boto3 and requests would otherwise use certifi's bundle.
    assert trust.tls_verify(None, True) == host_store


def test_no_verification_only_when_asked(host_store):
    assert trust.tls_verify("/etc/platform-ca.crt", False) is False


def test_library_bundle_when_the_host_has_none(tmp_path, monkeypatch):
    monkeypatch.setattr(trust, "SYSTEM_CA_BUNDLES", (str(tmp_path / "absent.crt"),))
    assert trust.tls_verify(None, True) is True


def params(**overrides):
    base = {"tracking_uri": "https://mlflow:5000", "timeout": 30, "retries": 2, "validate_certs": True}
    return {**base, **overrides}


def test_mlflow_client_verifies_server_and_presigned_downloads_against_the_same_bundle(host_store):
    env = client_environment(params())
    assert env["MLFLOW_TRACKING_SERVER_CERT_PATH"] == env["REQUESTS_CA_BUNDLE"] == host_store
    env = client_environment(params(ca_bundle="/etc/platform-ca.crt"))
    assert env["MLFLOW_TRACKING_SERVER_CERT_PATH"] == env["REQUESTS_CA_BUNDLE"] == "/etc/platform-ca.crt"


def test_insecure_client_sets_no_bundle(host_store):
    # MLflow refuses MLFLOW_TRACKING_INSECURE_TLS together with a certificate path.
    env = client_environment(params(validate_certs=False))
    assert env["MLFLOW_TRACKING_INSECURE_TLS"] == "true"
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" not in env and "REQUESTS_CA_BUNDLE" not in env
