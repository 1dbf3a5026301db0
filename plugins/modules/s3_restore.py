#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Restore an s3_snapshot archive into a bucket, checking every object against the backup's manifest."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_restore
short_description: Restore an s3_snapshot archive into a bucket, checked against the manifest
version_added: 0.3.0
description:
  - Reads an archive written by M(birtha.mlflow.s3_snapshot) (decrypting and decompressing as a stream) and uploads
    each object under O(prefix) of O(bucket).
  - Each object's sha256 is compared with the manifest's before upload, and sent with the upload
    (C(x-amz-checksum-sha256)) so the server stores it only if the bytes that arrived match.
  - Objects the manifest lists that are missing from the archive, and objects whose bytes differ, are reported and
    fail the task.
  - With O(delete_after), the restored objects are deleted again afterwards (the rehearsal of
    C(playbooks/backup_verify.yml), restoring into a scratch prefix).
extends_documentation_fragment:
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.backup_encoding
  - birtha.mlflow.mlflow.attributes
options:
  src:
    description: Path of the archive on the host that runs the module.
    type: path
    required: true
  src_sha256:
    description: The manifest's sha256 of O(src). A file that differs fails the task before anything is read.
    type: str
  prefix:
    description: Key prefix the objects are restored under (V("") restores them under their own keys).
    type: str
    default: ""
  expected:
    description: The manifest's objects (C(key), C(size), C(sha256)). Without it nothing is compared.
    type: list
    elements: dict
  delete_after:
    description: Delete the restored objects (everything under O(prefix)) when done. Needs a non-empty O(prefix).
    type: bool
    default: false
attributes:
  check_mode:
    support: partial
    details: Reads, decodes and checks the whole archive against O(src_sha256) and O(expected) as usual; uploads and
      deletes nothing, and reports C(changed=false) whatever a real run would do.
  diff_mode:
    support: none
requirements:
  - zstd (when compressed), gpg (when encrypted)
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Restore the bucket from a backup set
  birtha.mlflow.s3_restore:
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ minio_server_root_user }}"
    secret_key: "{{ minio_server_root_password }}"
    bucket: mlflow-artifacts
    src: /var/backups/mlflow/sets/20261128T101500Z/artifacts/mlflow-artifacts.tar.zst.gpg
    passphrase: "{{ vault_backup_passphrase }}"
    expected: "{{ (lookup('file', manifest) | from_json).artifacts.objects }}"
"""

RETURN = r"""
restored:
  description: Number of objects uploaded (or that would be, in check mode).
  returned: always
  type: int
bytes:
  description: Their total size.
  returned: always
  type: int
problems:
  description: Differences from O(expected), in words (missing objects, checksum mismatches).
  returned: always
  type: list
  elements: str
deleted:
  description: Objects deleted again with O(delete_after).
  returned: when O(delete_after)
  type: int
"""

import base64
import hashlib
import tarfile
import tempfile
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import (
    CHUNK,
    Encoding,
    StreamError,
    decoded_reader,
    encoding_argument_spec,
    sha256_file,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    S3Module,
    delete_prefix,
)

SINGLE_PUT_LIMIT = 5 * 1024**3  # S3's largest single PUT


def argument_spec() -> dict[str, Any]:
    return {
        "src": {"type": "path", "required": True},
        "src_sha256": {"type": "str"},
        "prefix": {"type": "str", "default": ""},
        "expected": {"type": "list", "elements": "dict"},
        "delete_after": {"type": "bool", "default": False},
        **encoding_argument_spec(),
    }


def spool(member_stream: Any, size: int) -> tuple[Any, str]:
    """The member in a temporary file (memory up to 64 MiB) and its sha256."""
    digest = hashlib.sha256()
    spooled = tempfile.SpooledTemporaryFile(max_size=64 * 1024**2)  # noqa: SIM115 - the caller closes it
    remaining = size
    while remaining:
        block = member_stream.read(min(CHUNK, remaining))
        if not block:
            break
        digest.update(block)
        spooled.write(block)
        remaining -= len(block)
    spooled.seek(0)
    return spooled, digest.hexdigest()


def upload(client: Any, bucket: str, key: str, body: Any, size: int, sha256: str) -> None:
    if size < SINGLE_PUT_LIMIT:
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentLength=size, ChecksumSHA256=checksum)
    else:
        client.upload_fileobj(body, bucket, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"})


def check_source(module: AnsibleModule) -> None:
    """The archive is the file the manifest describes (a damaged or swapped file fails here, before any upload)."""
    want = module.params["src_sha256"]
    if want and sha256_file(module.params["src"]) != want:
        raise StreamError(f"{module.params['src']} does not have the manifest's sha256 {want}: damaged or replaced")


def restore(module: AnsibleModule, client: Any, encoding: Encoding) -> dict[str, Any]:
    params = module.params
    expected = {item["key"]: item for item in params["expected"] or []}
    seen: set[str] = set()
    problems: list[str] = []
    restored = total = 0
    with decoded_reader(params["src"], encoding) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key = member.name
            seen.add(key)
            body, sha256 = spool(tar.extractfile(member), member.size)
            with body:
                want = expected.get(key)
                if want is not None and (want["sha256"] != sha256 or int(want["size"]) != member.size):
                    problems.append(f"object {key}: the archive's bytes do not match the manifest (sha256 {sha256})")
                    continue
                if expected and want is None:
                    problems.append(f"object {key} is in the archive but not in the manifest")
                if not module.check_mode:
                    upload(client, params["bucket"], params["prefix"] + key, body, member.size, sha256)
            restored += 1
            total += member.size
    problems += [
        f"object {key} is in the manifest but missing from the archive" for key in sorted(set(expected) - seen)
    ]
    return {"restored": restored, "bytes": total, "problems": problems}


def main() -> None:
    module = S3Module(argument_spec(), supports_check_mode=True)
    params = module.params
    if params["delete_after"] and not params["prefix"]:
        module.fail_json(msg="delete_after needs a prefix: it would otherwise delete the restored bucket's objects.")
    encoding = Encoding.from_params(params)
    client = module.s3
    try:
        check_source(module)
        try:
            result = restore(module, client, encoding)
        finally:
            if params["delete_after"] and not module.check_mode:  # a rehearsal leaves nothing behind, even failed
                deleted = delete_prefix(client, params["bucket"], params["prefix"])
        if params["delete_after"] and not module.check_mode:
            result["deleted"] = deleted
    except StreamError as exc:
        module.fail_json(msg=f"Could not read {params['src']}: {exc}")
    except Exception as exc:
        module.fail_json(
            msg=f"Restore into bucket {params['bucket']} at {params['endpoint_url']} failed: {exc}",
            exception=traceback.format_exc(),
        )
    if result["problems"]:
        module.fail_json(
            msg="The restored objects do not match the manifest: " + "; ".join(result["problems"][:20]), **result
        )
    module.exit_json(changed=not module.check_mode and result["restored"] > 0, **result)


if __name__ == "__main__":
    main()
