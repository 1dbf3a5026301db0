#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Upload files to an S3 bucket, each checked by the server against its sha256."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_upload
short_description: Upload files to an S3 bucket, each checked by the server against its sha256
version_added: 0.3.0
description:
  - Uploads each file under O(prefix), sending its sha256 (C(x-amz-checksum-sha256)) so the server stores it only if
    the bytes that arrived match, and recording the sha256 in the object's metadata.
  - A file whose object already exists with the same size and sha256 is not uploaded again.
  - Used by C(playbooks/backup.yml) for the backup set's second copy (3-2-1).
extends_documentation_fragment:
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.attributes
options:
  src:
    description: Directory the O(files) are relative to.
    type: path
    required: true
  files:
    description: Files to upload, relative to O(src); the object key is O(prefix) plus this path.
    type: list
    elements: str
    required: true
  prefix:
    description: Key prefix of the uploaded objects.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    details: Hashes the files and compares them with the bucket's objects as usual; RV(uploaded) lists what would be
      uploaded, and nothing is.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Copy a backup set to another endpoint
  birtha.mlflow.s3_upload:
    endpoint_url: https://s3.offsite.example.com
    access_key: "{{ vault_offsite_access_key }}"
    secret_key: "{{ vault_offsite_secret_key }}"
    bucket: mlflow-backups
    prefix: platform-a/20261128T101500Z/
    src: /var/backups/mlflow/sets/20261128T101500Z
    files: [manifest.json, postgres/mlflow_db.dump.zst.gpg, artifacts/mlflow-artifacts.tar.zst.gpg, COMPLETE]
"""

RETURN = r"""
uploaded:
  description: Keys uploaded (or that would be, in check mode).
  returned: always
  type: list
  elements: str
skipped:
  description: Keys that already held the same bytes.
  returned: always
  type: list
  elements: str
"""

import base64
import os
import traceback
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import sha256_file
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    S3Module,
)

SHA_METADATA = "sha256"


def argument_spec() -> dict[str, Any]:
    return {
        "src": {"type": "path", "required": True},
        "files": {"type": "list", "elements": "str", "required": True},
        "prefix": {"type": "str", "default": ""},
    }


def already_there(client: Any, bucket: str, key: str, size: int, sha256: str) -> bool:
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError:
        return False
    return head.get("ContentLength") == size and head.get("Metadata", {}).get(SHA_METADATA) == sha256


def main() -> None:
    module = S3Module(argument_spec(), supports_check_mode=True)
    params = module.params
    client = module.s3
    uploaded, skipped = [], []
    try:
        for name in params["files"]:
            path = os.path.join(params["src"], name)
            if not os.path.isfile(path):
                module.fail_json(msg=f"files: {path} does not exist.")
            key = params["prefix"] + name
            size, sha256 = os.path.getsize(path), sha256_file(path)
            if already_there(client, params["bucket"], key, size, sha256):
                skipped.append(key)
                continue
            uploaded.append(key)
            if module.check_mode:
                continue
            with open(path, "rb") as body:
                client.put_object(
                    Bucket=params["bucket"],
                    Key=key,
                    Body=body,
                    ContentLength=size,
                    ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                    Metadata={SHA_METADATA: sha256},
                )
    except Exception as exc:
        module.fail_json(
            msg=f"Upload to bucket {params['bucket']} at {params['endpoint_url']} failed: {exc}",
            exception=traceback.format_exc(),
            uploaded=uploaded,
        )
    module.exit_json(changed=bool(uploaded), uploaded=uploaded, skipped=skipped)


if __name__ == "__main__":
    main()
