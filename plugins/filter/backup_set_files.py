# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The files of a backup set, from its manifest, in the order a copy of the set should write them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DOCUMENTATION = r"""
name: backup_set_files
short_description: The files of a backup set, relative to its directory
version_added: 0.7.0
description:
  - Takes a manifest made by the birtha.mlflow.backup_manifest filter and lists every file of the set as
    C(postgres/<name>) and C(artifacts/<name>), then C(manifest.json) and C(COMPLETE). The completion marker comes
    last, since its presence makes the set visible to restore.
options:
  _input:
    description: The set's manifest.
    type: dict
    required: true
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
files: "{{ manifest | birtha.mlflow.backup_set_files }}"
# ['postgres/mlflow_db.dump.zst', 'artifacts/artifacts.tar.zst', 'manifest.json', 'COMPLETE']
"""

RETURN = r"""
_value:
  description: Paths relative to the set's directory.
  type: list
  elements: str
"""

TIER_DIRECTORIES = {"postgres": "postgres", "artifacts": "artifacts"}
SEAL_FILES = ("manifest.json", "COMPLETE")


def backup_set_files(manifest: Mapping[str, Any]) -> list[str]:
    """Every file of the set relative to its directory, the seal (manifest, COMPLETE marker) last."""
    paths = []
    for entry in manifest.get("files", []):
        if entry.get("name"):  # check mode reports an artifact part without a file
            paths.append(f"{TIER_DIRECTORIES[entry['tier']]}/{entry['name']}")
    return paths + list(SEAL_FILES)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"backup_set_files": backup_set_files}
