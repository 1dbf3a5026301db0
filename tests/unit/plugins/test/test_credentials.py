"""The one list of refused default credentials."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.test import credentials


@pytest.mark.parametrize("value", ["minioadmin", "MinioAdmin", " password ", "changeme", "admin"])
def test_well_known_defaults_are_refused(value):
    assert credentials.well_known_secret(value)


def test_generated_secrets_pass():
    assert not credentials.well_known_secret("q8Zt3VfK0pLw9sX2bYc7Rm4N")


def test_minio_default_user_is_only_minioadmin():
    assert credentials.minio_default_user("MINIOADMIN")
    assert not credentials.minio_default_user("mlflow")
    assert "well_known_secret" in credentials.TestModule().tests()
