"""Pure logic of the platform probe: where the probe artifact must be found in the bucket."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.modules import mlflow_platform_probe as probe


@pytest.mark.parametrize(
    ("artifact_uri", "prefix", "key"),
    [
        ("mlflow-artifacts:/1/abc/artifacts", "", "1/abc/artifacts/probe.json"),
        ("mlflow-artifacts:/1/abc/artifacts", "tracking/", "tracking/1/abc/artifacts/probe.json"),
        ("s3://bucket/prefix/1/abc/artifacts", "", "prefix/1/abc/artifacts/probe.json"),
    ],
)
def test_artifact_key_follows_the_servers_destination(artifact_uri, prefix, key):
    assert probe.artifact_key(artifact_uri, prefix) == key


def test_probe_secrets_are_not_logged():
    spec = probe.argument_spec()
    assert spec["s3_secret_key"]["no_log"] is True
    assert spec["password"]["no_log"] is True
