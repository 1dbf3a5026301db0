# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The one S3 layer: the options every S3 module shares, client construction, listing and deleting."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.birtha.mlflow.plugins.module_utils.trust import tls_verify

BOTO3_IMPORT_ERROR: str | None
try:
    import boto3
    from botocore.client import Config as BotoConfig
except ImportError:
    BOTO3_IMPORT_ERROR = traceback.format_exc()
    boto3 = None  # type: ignore[assignment]
else:
    BOTO3_IMPORT_ERROR = None


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


# S3 DeleteObjects takes at most this many keys a request.
DELETE_OBJECTS_LIMIT = 1000


def s3_argument_spec() -> dict[str, dict[str, Any]]:
    """Connection options of the S3 modules (documented in the birtha.mlflow.s3 doc fragment)."""
    return {
        "endpoint_url": {"type": "str", "required": True},
        # An access key ID names the account, it is no secret (as in amazon.aws). Marked no_log, Ansible would scrub
        # its value from every result: with MLflow's key "mlflow", the backup archive's path and name.
        "access_key": {"type": "str", "required": True, "no_log": False},
        "secret_key": {"type": "str", "required": True, "no_log": True},
        "bucket": {"type": "str", "required": True},
        "region": {"type": "str", "default": "us-east-1"},
        "ca_bundle": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
    }


def new_s3_client(
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    *,
    region: str = "us-east-1",
    verify: str | bool = True,
    timeout: int | None = None,
    attempts: int = 3,
    path_style: bool = True,
) -> Any:
    """The one way a boto3 S3 client is built: SigV4, path-style addressing (MinIO and SeaweedFS serve buckets under
    the endpoint's path, not as sub-domains), bounded retries and, when given, a connect/read timeout."""
    config: dict[str, Any] = {"signature_version": "s3v4", "retries": {"max_attempts": attempts}}
    if path_style:
        config["s3"] = {"addressing_style": "path"}
    if timeout:
        config.update(connect_timeout=timeout, read_timeout=timeout)
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        verify=verify,
        config=BotoConfig(**config),
    )


def s3_client(params: dict[str, Any]) -> Any:
    """A client from the shared S3 options (s3_argument_spec)."""
    return new_s3_client(
        params["endpoint_url"],
        params["access_key"],
        params["secret_key"],
        region=params["region"],
        verify=tls_verify(params["ca_bundle"], params["validate_certs"]),
    )


class S3Module(AnsibleModule):
    """AnsibleModule with the shared S3 options (doc fragment birtha.mlflow.s3), boto3 checked before anything runs,
    and a client built once from those options."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        spec = s3_argument_spec()
        spec.update(argument_spec)
        super().__init__(argument_spec=spec, **kwargs)
        if BOTO3_IMPORT_ERROR:
            self.fail_json(
                msg=missing_required_lib("boto3", reason="for the S3 requests")
                + " On Debian: the package python3-boto3 (the deployment installs it on the database hosts,"
                " minio_backup where it snapshots and restores).",
                exception=BOTO3_IMPORT_ERROR,
            )
        self._s3: Any = None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = s3_client(self.params)
        return self._s3


def list_objects(client: Any, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
    """Every object under prefix, in key order (S3 lists in UTF-8 binary order)."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def delete_prefix(client: Any, bucket: str, prefix: str) -> int:
    """Delete every object under prefix, DELETE_OBJECTS_LIMIT keys per request; return how many."""
    if not prefix:
        raise ValueError("refusing to delete a whole bucket through delete_prefix")
    keys = [item["Key"] for item in list_objects(client, bucket, prefix)]
    errors = delete_keys(client, bucket, keys)
    if errors:
        raise RuntimeError(f"S3 refused to delete {len(errors)} objects, first: {errors[0]}")
    return len(keys)


def list_under(client: Any, location: S3Location) -> list[dict[str, Any]]:
    """The objects of a run's artifact directory: the key itself or keys below it (prefix + '/'), as MLflow's
    S3ArtifactRepository.delete_artifacts selects them, never a sibling that merely shares the prefix."""
    return [
        {"Bucket": location.bucket, "Key": item["Key"], "Size": int(item.get("Size", 0))}
        for item in list_objects(client, location.bucket, location.prefix)
        if item["Key"] == location.prefix or item["Key"].startswith(location.prefix + "/")
    ]


def under_any(key: str, prefixes: set[str]) -> str | None:
    """The prefix in prefixes that key is, or lies below (a whole path segment), if any."""
    parts = key.split("/")
    for depth in range(len(parts), 0, -1):
        candidate = "/".join(parts[:depth])
        if candidate in prefixes:
            return candidate
    return None


def list_within(client: Any, parent: S3Location, locations: list[S3Location]) -> dict[S3Location, list[dict[str, Any]]]:
    """list_under for many directories below one parent, by listing the parent once: fewer requests than one
    listing per directory when the directories hold a good part of the parent's objects."""
    by_prefix = {location.prefix: location for location in locations}
    prefixes = set(by_prefix)
    found: dict[S3Location, list[dict[str, Any]]] = {location: [] for location in locations}
    for item in list_objects(client, parent.bucket, parent.prefix + "/" if parent.prefix else ""):
        prefix = under_any(item["Key"], prefixes)
        if prefix is not None:
            found[by_prefix[prefix]].append(
                {"Bucket": parent.bucket, "Key": item["Key"], "Size": int(item.get("Size", 0))}
            )
    return found


def list_many(client: Any, locations: Iterable[S3Location], workers: int) -> dict[S3Location, list[dict[str, Any]]]:
    """list_under for many directories, several requests in flight (each listing is one round trip or more)."""
    unique = list(dict.fromkeys(locations))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(zip(unique, pool.map(lambda loc: list_under(client, loc), unique), strict=True))


def delete_keys(client: Any, bucket: str, keys: list[str], workers: int = 1) -> list[str]:
    """Delete keys, DELETE_OBJECTS_LIMIT a request, up to workers requests in flight; the keys S3 refused to
    delete, with its reasons."""

    def delete(chunk: list[str]) -> list[str]:
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        return [
            f"{error.get('Key')}: {error.get('Code')} {error.get('Message', '')}".strip()
            for error in answer.get("Errors", ())
        ]

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [error for errors in pool.map(delete, chunks(keys, DELETE_OBJECTS_LIMIT)) for error in errors]


def minio_prefix_deleter(params: dict[str, Any], bucket: str) -> Any:
    """A client whose DeleteObject removes a whole directory in one request (MinIO's x-minio-force-delete), when
    the endpoint is MinIO, the bucket keeps no versions and a probe shows the server honours it; None otherwise
    (the caller deletes key by key). The directory goes as a unit: exactly the keys at or below it."""
    client = s3_client(params)
    try:
        answer = client.get_bucket_versioning(Bucket=bucket)
    except Exception:  # not allowed to ask: versions may be kept, so delete key by key
        return None
    server = answer["ResponseMetadata"]["HTTPHeaders"].get("server", "")
    if "minio" not in server.lower() or answer.get("Status") in ("Enabled", "Suspended"):
        return None

    def force(request: Any, **_: Any) -> None:
        request.headers["x-minio-force-delete"] = "true"

    client.meta.events.register("before-sign.s3.DeleteObject", force)
    return client if force_delete_works(client, bucket) else None


def force_delete_works(client: Any, bucket: str) -> bool:
    """MinIO answers a DeleteObject of a key that does not exist with success, so a proxy that drops the header or
    a server that ignores it would look like one that deleted the directory: try it once on a throw-away one."""
    prefix = f".birtha-delete-probe/{uuid.uuid4().hex}"
    try:
        client.put_object(Bucket=bucket, Key=f"{prefix}/probe", Body=b"")
        client.delete_object(Bucket=bucket, Key=prefix)
        left = [item["Key"] for item in list_objects(client, bucket, prefix + "/")]
    except Exception:
        return False
    if left:
        delete_keys(client, bucket, left)
    return not left


def delete_directories(deleter: Any, locations: list[S3Location], workers: int) -> None:
    """Remove each directory with one request (see minio_prefix_deleter), workers requests in flight."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(lambda loc: deleter.delete_object(Bucket=loc.bucket, Key=loc.prefix), locations))


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Archival and storage cleanup: reading objects back for their sha256, and telling "not there" from other errors.

DIGEST_CHUNK = 1024 * 1024
# What S3 (MinIO) answers for a bucket or key that does not exist, by error code or HTTP status.
MISSING_CODES = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


def is_missing(exc: Exception) -> bool:
    """Whether a botocore ClientError says the bucket or key does not exist."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) in MISSING_CODES


def object_digest(client: Any, bucket: str, key: str) -> tuple[str, int]:
    """The sha256 and size of an object's bytes as read back from S3 (not its ETag, which is no content hash for a
    multipart upload)."""
    import hashlib

    digest, size = hashlib.sha256(), 0
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        for chunk in iter(lambda: body.read(DIGEST_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    finally:
        body.close()
    return digest.hexdigest(), size


def object_digest_if_exists(client: Any, bucket: str, key: str) -> tuple[str, int] | None:
    """object_digest, or None when there is no such object."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    return object_digest(client, bucket, key)


def bucket_exists(client: Any, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:
        if is_missing(exc):
            return False
        raise
    return True


def bucket_location(region: str) -> dict[str, Any]:
    """create_bucket's location argument: AWS refuses us-east-1 as a LocationConstraint and wants every other region
    named; SeaweedFS and MinIO accept either."""
    if not region or region == "us-east-1":
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": region}}


def read_object(client: Any, bucket: str, key: str) -> bytes | None:
    """An object's bytes, or None when there is no such object."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as exc:
        if is_missing(exc):
            return None
        raise
    try:
        return body.read()
    finally:
        body.close()
