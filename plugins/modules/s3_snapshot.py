#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Snapshot a bucket through the S3 API into one compressed, encrypted tar file with a sha256 per object."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_snapshot
short_description: Snapshot an S3 bucket into one compressed, encrypted tar file with a sha256 per object
version_added: 0.3.0
description:
  - Reads every object under O(prefix) of O(bucket) through the S3 API and streams it into a tar archive,
    compressed with zstd and encrypted with gpg AES256 when O(passphrase) is given; nothing is staged on disk.
  - Returns each object's key, size and sha256 (computed from the bytes read), for the backup set's manifest.
  - Taken after the database dump, the snapshot holds every artifact the dump refers to.
  - The file is written as C(<name>.partial) and renamed only when every object was read.
extends_documentation_fragment:
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.backup_encoding
  - birtha.mlflow.mlflow.attributes
options:
  prefix:
    description: Only objects whose key starts with this.
    type: str
    default: ""
  exclude_prefixes:
    description: Leave out objects whose key starts with one of these (the scratch prefix of a verification, say).
    type: list
    elements: str
    default: []
  dest:
    description: Path of the archive to write, without the C(.zst)/C(.gpg) suffixes (added as the encoding needs).
    type: path
    required: true
attributes:
  check_mode:
    support: full
    details: Lists the objects that would be archived, with their sizes (no sha256, no RV(file)); reads no object
      and writes nothing.
  diff_mode:
    support: none
requirements:
  - zstd (with O(compress)), gpg (with O(passphrase))
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Snapshot the artifact bucket into the backup set
  birtha.mlflow.s3_snapshot:
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ minio_server_root_user }}"
    secret_key: "{{ minio_server_root_password }}"
    bucket: mlflow-artifacts
    dest: /var/backups/mlflow/spool/20261128T101500Z/artifacts/mlflow-artifacts.tar
    passphrase: "{{ vault_backup_passphrase }}"
  register: snapshot
"""

RETURN = r"""
file:
  description: The archive written, with its size and sha256.
  returned: success and not in check mode
  type: dict
  sample: {name: mlflow-artifacts.tar.zst.gpg, path: /var/backups/mlflow/sets/x/artifacts/mlflow-artifacts.tar.zst.gpg,
           size: 52428800, sha256: 9f86d0...}
objects:
  description: Every object archived, in key order.
  returned: success
  type: list
  elements: dict
  sample: [{key: 1/0f1e.../artifacts/model/MLmodel, size: 312, sha256: 2c26b4...}]
count:
  description: Number of objects.
  returned: success
  type: int
bytes:
  description: Total size of the objects.
  returned: success
  type: int
"""

import hashlib
import io
import os
import tarfile
import traceback
from typing import IO, Any

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import (
    Encoding,
    StreamError,
    encoded_writer,
    encoding_argument_spec,
    sha256_file,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    S3Module,
    list_objects,
)


class HashingReader(io.RawIOBase):
    """Wraps a body so that what tarfile reads is hashed on the way."""

    def __init__(self, body: IO[bytes]) -> None:
        self.body = body
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.body.read(size)
        self.digest.update(data)
        return data


def argument_spec() -> dict[str, Any]:
    return {
        "prefix": {"type": "str", "default": ""},
        "exclude_prefixes": {"type": "list", "elements": "str", "default": []},
        "dest": {"type": "path", "required": True},
        **encoding_argument_spec(),
    }


def archive_objects(client: Any, params: dict[str, Any], path: str, encoding: Encoding) -> list[dict[str, Any]]:
    objects = []
    excluded = tuple(params["exclude_prefixes"] or ())
    with (
        encoded_writer(path, encoding) as writer,
        tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for item in list_objects(client, params["bucket"], params["prefix"]):
            if excluded and item["Key"].startswith(excluded):
                continue
            try:
                response = client.get_object(Bucket=params["bucket"], Key=item["Key"])
            except client.exceptions.NoSuchKey:
                continue  # deleted since the listing (mlflow gc, say): not part of the snapshot
            # The size of what is read, not of what was listed: an object rewritten in between must not be cut.
            info = tarfile.TarInfo(item["Key"])
            info.size = response["ContentLength"]
            info.mtime = int(response["LastModified"].timestamp())
            info.mode = 0o600
            reader = HashingReader(response["Body"])
            tar.addfile(info, reader)
            objects.append({"key": item["Key"], "size": info.size, "sha256": reader.digest.hexdigest()})
    return objects


def main() -> None:
    module = S3Module(argument_spec(), supports_check_mode=True)
    params = module.params
    encoding = Encoding.from_params(params)
    base = params["dest"] if params["dest"].endswith(".tar") else params["dest"] + ".tar"
    path = base + encoding.suffix()
    client = module.s3
    try:
        if module.check_mode:
            listed = [
                {"key": o["Key"], "size": o["Size"]} for o in list_objects(client, params["bucket"], params["prefix"])
            ]
            module.exit_json(changed=True, objects=listed, count=len(listed), bytes=sum(o["size"] for o in listed))
        os.umask(0o077)
        objects = archive_objects(client, params, path, encoding)
    except StreamError as exc:
        module.fail_json(msg=f"Snapshot of bucket {params['bucket']} failed: {exc}")
    except Exception as exc:
        module.fail_json(
            msg=f"Snapshot of bucket {params['bucket']} at {params['endpoint_url']} failed: {exc}",
            exception=traceback.format_exc(),
        )
    archive = {"name": os.path.basename(path), "path": path, "size": os.path.getsize(path), "sha256": sha256_file(path)}
    module.exit_json(
        changed=True, file=archive, objects=objects, count=len(objects), bytes=sum(o["size"] for o in objects)
    )


if __name__ == "__main__":
    main()
