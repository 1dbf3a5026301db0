#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Copy every object of one S3 bucket into another store's bucket, each checked by its sha256."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_copy
short_description: Copy every object of a bucket into another S3 store, each checked by its sha256
version_added: 0.7.0
description:
  - Copies each object of O(source_bucket) at O(source_endpoint_url) into O(bucket) at O(endpoint_url), under the
    same key, the way a platform's artifacts move from one store to another (C(playbooks/migrate_artifact_store.yml),
    MinIO to SeaweedFS). MLflow's artifact URIs name keys, not the store, so they stay valid.
  - Each object is read once from the source while its sha256 is computed, written to the target with that sha256
    and the source's ETag in its metadata, and read back from the target; a read-back whose sha256 differs fails the
    task, naming the key.
  - An object the target already holds with the same size, the sha256 recorded and the source's current ETag is not
    copied again, so a second run copies only what changed in between (and nothing at all on an unchanged source).
  - Objects only the target holds are counted and left alone.
  - With O(verify=true) every object is then read on both sides and compared by sha256, copied or not.
extends_documentation_fragment:
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.attributes
options:
  source_endpoint_url:
    description: S3 endpoint of the store the objects come from.
    type: str
    required: true
  source_access_key:
    description: Access key on the source store; it must list and read O(source_bucket).
    type: str
    required: true
  source_secret_key:
    description: Secret key for O(source_access_key).
    type: str
    required: true
  source_bucket:
    description: Bucket on the source store. Defaults to O(bucket).
    type: str
  exclude_prefixes:
    description: Key prefixes not copied (a health check's scratch objects, for example).
    type: list
    elements: str
    default: []
  verify:
    description: After copying, read every object on both sides and compare their sha256.
    type: bool
    default: false
  workers:
    description: Objects copied (or compared) at the same time.
    type: int
    default: 4
notes:
  - O(ca_bundle) and O(validate_certs) apply to both stores (one platform, one CA).
  - An object is held in memory up to 64 MiB, beyond that in a temporary file, between its read and its write.
attributes:
  check_mode:
    support: full
    details: Lists both buckets and compares as usual; RV(copied) counts what would be copied, and nothing is written.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Copy MinIO's artifacts into SeaweedFS, then compare every object
  birtha.mlflow.s3_copy:
    source_endpoint_url: https://minio1.example.com:9000
    source_access_key: birtha-root
    source_secret_key: "{{ vault_minio_root_password }}"
    endpoint_url: https://s3-1.example.com:9000
    access_key: birtha-root
    secret_key: "{{ vault_minio_root_password }}"
    bucket: mlflow-artifacts
    exclude_prefixes: [birtha-health/]
    verify: true
  register: copied
"""

RETURN = r"""
objects:
  description: Objects in the source bucket (after O(exclude_prefixes)).
  returned: always
  type: int
bytes:
  description: Their total size.
  returned: always
  type: int
copied:
  description: Objects copied (or that would be, in check mode).
  returned: always
  type: int
copied_bytes:
  description: Their total size.
  returned: always
  type: int
copied_keys:
  description: The first 100 keys copied.
  returned: always
  type: list
  elements: str
unchanged:
  description: Objects the target already held with the same bytes.
  returned: always
  type: int
target_only:
  description: Objects only the target holds (left alone).
  returned: always
  type: int
verified:
  description: Objects read on both sides and found equal (O(verify=true)).
  returned: always
  type: int
"""

import hashlib
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Module, list_objects, new_s3_client
from ansible_collections.birtha.mlflow.plugins.module_utils.trust import tls_verify

SHA_METADATA = "sha256"
ETAG_METADATA = "source-etag"
SPOOL_BYTES = 64 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
SAMPLE = 100


class CopyMismatch(Exception):
    """The target does not hold what was read from the source."""


@dataclass
class Tally:
    objects: int = 0
    bytes: int = 0
    copied: int = 0
    copied_bytes: int = 0
    copied_keys: list[str] = field(default_factory=list)
    unchanged: int = 0
    target_only: int = 0
    verified: int = 0


def argument_spec() -> dict[str, Any]:
    return {
        "source_endpoint_url": {"type": "str", "required": True},
        "source_access_key": {"type": "str", "required": True, "no_log": True},
        "source_secret_key": {"type": "str", "required": True, "no_log": True},
        "source_bucket": {"type": "str"},
        "exclude_prefixes": {"type": "list", "elements": "str", "default": []},
        "verify": {"type": "bool", "default": False},
        "workers": {"type": "int", "default": 4},
    }


def etag(value: str | None) -> str:
    return (value or "").strip('"')


def excluded(key: str, prefixes: list[str]) -> bool:
    return any(prefix and key.startswith(prefix) for prefix in prefixes)


def is_current(head: dict[str, Any] | None, size: int, source_etag: str) -> bool:
    """Whether the target's object (its HEAD) is a checked copy of the source object as it is now."""
    if head is None:
        return False
    metadata = head.get("Metadata") or {}
    return (
        int(head.get("ContentLength", -1)) == size
        and bool(metadata.get(SHA_METADATA))
        and metadata.get(ETAG_METADATA) == source_etag
    )


def head_or_none(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def spool(body: Any) -> tuple[IO[bytes], str, int]:
    """A streamed body into a spooled file, with its sha256 and size."""
    digest, size = hashlib.sha256(), 0
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open, closed by caller
    for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
        digest.update(chunk)
        spooled.write(chunk)
        size += len(chunk)
    spooled.seek(0)
    return spooled, digest.hexdigest(), size


def object_sha256(client: Any, bucket: str, key: str) -> str:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
        digest.update(chunk)
    return digest.hexdigest()


def copy_one(source: Any, target: Any, source_bucket: str, bucket: str, item: dict[str, Any]) -> bool:
    """Copy one object and read it back; False when it was deleted from the source since the listing."""
    key = item["Key"]
    try:
        answer = source.get_object(Bucket=source_bucket, Key=key)
    except source.exceptions.NoSuchKey:
        return False
    spooled, sha256, size = spool(answer["Body"])
    with spooled:
        if size != int(item["Size"]):
            raise CopyMismatch(f"{key}: the source listed {item['Size']} bytes but gave {size} (changed meanwhile?)")
        target.put_object(
            Bucket=bucket,
            Key=key,
            Body=spooled,
            ContentLength=size,
            ContentType=answer.get("ContentType") or "binary/octet-stream",
            Metadata={SHA_METADATA: sha256, ETAG_METADATA: etag(item.get("ETag"))},
        )
    written = object_sha256(target, bucket, key)
    if written != sha256:
        raise CopyMismatch(f"{key}: read back from the target with sha256 {written}, expected {sha256}")
    return True


def compare_one(source: Any, target: Any, source_bucket: str, bucket: str, key: str) -> None:
    theirs, ours = object_sha256(source, source_bucket, key), object_sha256(target, bucket, key)
    if theirs != ours:
        raise CopyMismatch(f"{key}: sha256 {ours} on the target, {theirs} on the source")


def plan(target: Any, bucket: str, items: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    """The source objects the target does not hold as checked, current copies."""

    def stale(item: dict[str, Any]) -> bool:
        head = head_or_none(target, bucket, item["Key"])
        return not is_current(head, int(item["Size"]), etag(item.get("ETag")))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        flags = list(pool.map(stale, items))
    return [item for item, copy in zip(items, flags, strict=True) if copy]


def run_copy(module: S3Module, source: Any, target: Any) -> Tally:
    params = module.params
    bucket, source_bucket = params["bucket"], params["source_bucket"] or params["bucket"]
    excludes = params["exclude_prefixes"]
    items = [item for item in list_objects(source, source_bucket) if not excluded(item["Key"], excludes)]
    source_keys = {item["Key"] for item in items}
    tally = Tally(objects=len(items), bytes=sum(int(item["Size"]) for item in items))
    tally.target_only = sum(
        1
        for item in list_objects(target, bucket)
        if item["Key"] not in source_keys and not excluded(item["Key"], excludes)
    )
    todo = plan(target, bucket, items, params["workers"])
    tally.unchanged = tally.objects - len(todo)
    if not module.check_mode:
        with ThreadPoolExecutor(max_workers=max(1, params["workers"])) as pool:
            done = list(pool.map(lambda item: copy_one(source, target, source_bucket, bucket, item), todo))
        # An object deleted from the source since the listing is neither copied nor compared.
        vanished = {item["Key"] for item, copied in zip(todo, done, strict=True) if not copied}
        todo = [item for item in todo if item["Key"] not in vanished]
        items = [item for item in items if item["Key"] not in vanished]
    tally.copied, tally.copied_bytes = len(todo), sum(int(item["Size"]) for item in todo)
    tally.copied_keys = [item["Key"] for item in todo[:SAMPLE]]
    if params["verify"] and not module.check_mode:
        with ThreadPoolExecutor(max_workers=max(1, params["workers"])) as pool:
            list(pool.map(lambda item: compare_one(source, target, source_bucket, bucket, item["Key"]), items))
        tally.verified = len(items)
    return tally


def main() -> None:
    module = S3Module(argument_spec(), supports_check_mode=True)
    params = module.params
    if params["workers"] < 1:
        module.fail_json(msg=f"workers is {params['workers']}; it must be 1 or more.")
    source = new_s3_client(
        params["source_endpoint_url"],
        params["source_access_key"],
        params["source_secret_key"],
        region=params["region"],
        verify=tls_verify(params["ca_bundle"], params["validate_certs"]),
    )
    where = f"{params['source_endpoint_url']} to {params['endpoint_url']}"
    try:
        tally = run_copy(module, source, module.s3)
    except CopyMismatch as error:
        module.fail_json(msg=f"Copying bucket {params['bucket']} from {where}: the copy does not match. {error}")
    except Exception as error:
        module.fail_json(
            msg=f"Copying bucket {params['bucket']} from {where} failed: {error}", exception=traceback.format_exc()
        )
    module.exit_json(changed=tally.copied > 0, **tally.__dict__)


if __name__ == "__main__":
    main()
