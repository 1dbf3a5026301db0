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
  - Objects only the target holds are counted and left alone. An object deleted from the source after the listing
    is counted in RV(vanished), neither copied nor compared.
  - With O(verify=true) every object is then read on both sides and compared by sha256, copied or not; a difference
    fails the task.
  - With O(compare_only=true) nothing is written at all; every object is compared and the differences are returned.
    That is the only safe call once an application writes to the target, since a copy would overwrite its newer
    objects with the source's older ones.
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
    description: After copying, read every object on both sides and compare their sha256; a difference fails.
    type: bool
    default: false
  compare_only:
    description:
      - Copy nothing. Read every source object on both sides, compare their sha256 and return RV(missing),
        RV(different) and RV(mismatched_keys) without failing. Never reports a change.
    type: bool
    default: false
  workers:
    description: Objects copied (or compared) at the same time, 1 to 10 (each S3 client keeps 10 connections).
    type: int
    default: 4
notes:
  - O(ca_bundle) and O(validate_certs) apply to both stores (one platform, one CA).
  - An object is held in memory up to 64 MiB, beyond that in a temporary file, between its read and its write.
  - Objects of 4 GiB and more are written in 64 MiB parts (S3 takes at most 5 GiB in one request).
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

- name: Once MLflow writes to SeaweedFS, only compare (never copy over its newer artifacts)
  birtha.mlflow.s3_copy:
    source_endpoint_url: https://minio1.example.com:9000
    source_access_key: birtha-root
    source_secret_key: "{{ vault_minio_root_password }}"
    endpoint_url: https://s3-1.example.com:9000
    access_key: birtha-root
    secret_key: "{{ vault_minio_root_password }}"
    bucket: mlflow-artifacts
    compare_only: true
  register: compared
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
  description: Objects copied (or that would be, in check mode). Always 0 with O(compare_only=true).
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
  description: Objects not copied because the target already held a checked copy of the source's current version.
  returned: always
  type: int
target_only:
  description: Objects only the target holds (left alone).
  returned: always
  type: int
vanished:
  description: Objects deleted from the source between its listing and their copy or compare.
  returned: always
  type: int
verified:
  description: Objects read on both sides and found equal (O(verify=true) or O(compare_only=true)).
  returned: always
  type: int
missing:
  description:
    - Source objects the target does not hold, once compared (O(compare_only=true); with O(verify=true) any fails).
  returned: always
  type: int
different:
  description: Source objects the target holds with other bytes, once compared.
  returned: always
  type: int
mismatched_keys:
  description: The first 100 keys that are missing or different.
  returned: always
  type: list
  elements: str
"""

import hashlib
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    S3Module,
    is_missing,
    list_objects,
    new_s3_client,
    object_digest,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.trust import tls_verify

SHA_METADATA = "sha256"
ETAG_METADATA = "source-etag"
SPOOL_BYTES = 64 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
SAMPLE = 100
MAX_WORKERS = 10  # botocore's default connection pool per client
MULTIPART_BYTES = 4 * 1024**3  # below S3's 5 GiB single-request limit
PART_BYTES = 64 * 1024 * 1024

# A compared object's state.
EQUAL = "equal"
MISSING = "missing"  # not on the target
DIFFERENT = "different"
VANISHED = "vanished"  # deleted from the source since the listing


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
    vanished: int = 0
    verified: int = 0
    missing: int = 0
    different: int = 0
    mismatched_keys: list[str] = field(default_factory=list)


def argument_spec() -> dict[str, Any]:
    return {
        "source_endpoint_url": {"type": "str", "required": True},
        "source_access_key": {"type": "str", "required": True, "no_log": True},
        "source_secret_key": {"type": "str", "required": True, "no_log": True},
        "source_bucket": {"type": "str"},
        "exclude_prefixes": {"type": "list", "elements": "str", "default": []},
        "verify": {"type": "bool", "default": False},
        "compare_only": {"type": "bool", "default": False},
        "workers": {"type": "int", "default": 4},
    }


def transfer_config() -> Any:
    """Parts written one after another: objects already run in parallel, within the client's connections."""
    # Imported here: S3Module reports a missing boto3 with the way to install it, before any call.
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=PART_BYTES, use_threads=False)


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


def no_such_key(error: Exception) -> bool:
    """A missing object, not a missing bucket: a bucket gone mid-copy must fail the task, not vanish each object."""
    return is_missing(error) and str(error.response["Error"].get("Code")) != "NoSuchBucket"  # type: ignore[attr-defined]


def head_or_none(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except Exception as error:
        if no_such_key(error):
            return None
        raise


def sha256_or_none(client: Any, bucket: str, key: str) -> str | None:
    """An object's sha256 as read, or None when there is no such object (deleted since a listing, too)."""
    try:
        return object_digest(client, bucket, key)[0]
    except Exception as error:
        if no_such_key(error):
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


def copy_one(source: Any, target: Any, source_bucket: str, bucket: str, key: str) -> bool:
    """Copy one object as it is now and read it back; False when it was deleted from the source since the listing."""
    try:
        answer = source.get_object(Bucket=source_bucket, Key=key)
    except Exception as error:
        if no_such_key(error):
            return False
        raise
    spooled, sha256, size = spool(answer["Body"])
    with spooled:
        if size != int(answer.get("ContentLength", size)):
            raise CopyMismatch(f"{key}: the source announced {answer['ContentLength']} bytes but gave {size}")
        # The ETag of the version read (not the listing's): the next run recopies only if the source changes again.
        target.upload_fileobj(
            spooled,
            bucket,
            key,
            ExtraArgs={
                "ContentType": answer.get("ContentType") or "binary/octet-stream",
                "Metadata": {SHA_METADATA: sha256, ETAG_METADATA: etag(answer.get("ETag"))},
            },
            Config=transfer_config(),
        )
    written = sha256_or_none(target, bucket, key)
    if written != sha256:
        raise CopyMismatch(f"{key}: read back from the target with sha256 {written}, expected {sha256}")
    return True


def compare_one(source: Any, target: Any, source_bucket: str, bucket: str, key: str) -> str:
    """EQUAL, MISSING (on the target), DIFFERENT, or VANISHED (deleted from the source since the listing)."""
    theirs = sha256_or_none(source, source_bucket, key)
    if theirs is None:
        return VANISHED
    ours = sha256_or_none(target, bucket, key)
    if ours is None:
        return MISSING
    return EQUAL if ours == theirs else DIFFERENT


def parallel(workers: int, work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, items))


def plan(target: Any, bucket: str, items: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    """The source objects the target does not hold as checked, current copies."""

    def stale(item: dict[str, Any]) -> bool:
        head = head_or_none(target, bucket, item["Key"])
        return not is_current(head, int(item["Size"]), etag(item.get("ETag")))

    flags = parallel(workers, stale, items)
    return [item for item, copy in zip(items, flags, strict=True) if copy]


def copy_all(module: S3Module, source: Any, target: Any, items: list[dict[str, Any]], tally: Tally) -> list[str]:
    """Copy what the target lacks (or count it, in check mode); the keys still on the source afterwards."""
    params = module.params
    bucket, source_bucket = params["bucket"], params["source_bucket"] or params["bucket"]
    todo = plan(target, bucket, items, params["workers"])
    tally.unchanged = tally.objects - len(todo)
    gone: set[str] = set()
    if not module.check_mode:
        done = parallel(
            params["workers"], lambda item: copy_one(source, target, source_bucket, bucket, item["Key"]), todo
        )
        gone = {item["Key"] for item, copied in zip(todo, done, strict=True) if not copied}
        todo = [item for item in todo if item["Key"] not in gone]
    tally.vanished = len(gone)
    tally.copied, tally.copied_bytes = len(todo), sum(int(item["Size"]) for item in todo)
    tally.copied_keys = [item["Key"] for item in todo[:SAMPLE]]
    return [item["Key"] for item in items if item["Key"] not in gone]


def compare_all(module: S3Module, source: Any, target: Any, keys: list[str], tally: Tally) -> None:
    params = module.params
    bucket, source_bucket = params["bucket"], params["source_bucket"] or params["bucket"]
    states = parallel(params["workers"], lambda key: compare_one(source, target, source_bucket, bucket, key), keys)
    tally.vanished += states.count(VANISHED)
    tally.verified = states.count(EQUAL)
    tally.missing, tally.different = states.count(MISSING), states.count(DIFFERENT)
    tally.mismatched_keys = [key for key, state in zip(keys, states, strict=True) if state in (MISSING, DIFFERENT)][
        :SAMPLE
    ]


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
    if params["compare_only"]:
        compare_all(module, source, target, [item["Key"] for item in items], tally)
        return tally
    keys = copy_all(module, source, target, items, tally)
    if params["verify"] and not module.check_mode:
        compare_all(module, source, target, keys, tally)
        if tally.mismatched_keys:
            raise CopyMismatch(
                f"{tally.missing} objects missing and {tally.different} different on the target after the copy: "
                + ", ".join(tally.mismatched_keys[:10])
            )
    return tally


def main() -> None:
    module = S3Module(argument_spec(), supports_check_mode=True)
    params = module.params
    if not 1 <= params["workers"] <= MAX_WORKERS:
        module.fail_json(
            msg=f"workers is {params['workers']}; it must be 1 to {MAX_WORKERS} (each S3 client keeps "
            f"{MAX_WORKERS} connections)."
        )
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
