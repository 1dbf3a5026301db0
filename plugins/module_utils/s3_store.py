# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The one S3 layer (MinIO): client construction, listing, and the options every S3 module shares."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any

BOTO3_IMPORT_ERROR: str | None
try:
    import boto3
    from botocore.client import Config as BotoConfig
except ImportError:
    BOTO3_IMPORT_ERROR = traceback.format_exc()
    boto3 = None  # type: ignore[assignment]
else:
    BOTO3_IMPORT_ERROR = None


def s3_argument_spec() -> dict[str, dict[str, Any]]:
    """Connection options of the S3 modules (documented in the birtha.mlflow.s3 fragment)."""
    return {
        "endpoint_url": {"type": "str", "required": True},
        "access_key": {"type": "str", "required": True, "no_log": True},
        "secret_key": {"type": "str", "required": True, "no_log": True},
        "bucket": {"type": "str", "required": True},
        "region": {"type": "str", "default": "us-east-1"},
        "ca_bundle": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
    }


def s3_client(params: dict[str, Any]) -> Any:
    verify: Any = params["ca_bundle"] or params["validate_certs"]
    return boto3.client(
        "s3",
        endpoint_url=params["endpoint_url"],
        aws_access_key_id=params["access_key"],
        aws_secret_access_key=params["secret_key"],
        region_name=params["region"],
        verify=verify,
        config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def list_objects(client: Any, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
    """Every object under prefix, in key order (S3 lists in UTF-8 binary order)."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def delete_prefix(client: Any, bucket: str, prefix: str) -> int:
    """Delete every object under prefix, 1000 keys per request; return how many."""
    if not prefix:
        raise ValueError("refusing to delete a whole bucket through delete_prefix")
    deleted = 0
    batch: list[dict[str, str]] = []
    for item in list_objects(client, bucket, prefix):
        batch.append({"Key": item["Key"]})
        if len(batch) == 1000:
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
            batch = []
    if batch:
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        deleted += len(batch)
    return deleted
