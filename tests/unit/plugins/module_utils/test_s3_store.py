"""create_bucket's location argument: AWS refuses a bucket in any region but us-east-1 without its LocationConstraint,
and refuses us-east-1 as one (an archive bucket on an external store)."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import bucket_location


@pytest.mark.parametrize("region", ["us-east-1", ""])
def test_the_default_region_names_no_location(region: str) -> None:
    assert bucket_location(region) == {}


def test_another_region_is_named_as_the_location_constraint() -> None:
    assert bucket_location("eu-west-1") == {"CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}
