#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""List the backup sets on the backup host, with their completion and verification state."""

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_sets
short_description: List the backup sets on the backup host, with their completion and verification state
version_added: 0.3.0
description:
  - Lists C(<root>/sets/*). A set is complete when its C(COMPLETE) marker exists (written last by
    C(playbooks/backup.yml)) and verified when its C(VERIFIED) marker exists (written by
    C(playbooks/backup_verify.yml) after a successful rehearsal).
  - Selects a set for verify or restore, a named one, or the newest that qualifies. Incomplete sets are never
    selected.
options:
  root:
    description: Directory holding C(sets/).
    type: path
    required: true
  select:
    description:
      - V(none) selects nothing; V(latest_complete) the newest complete set; V(latest_verified) the newest verified
        set; or the name of a set, which must be complete.
    type: str
    default: none
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Find the newest verified set
  birtha.mlflow.backup_sets:
    root: /var/backups/mlflow
    select: latest_verified
  register: catalog
"""

RETURN = r"""
sets:
  description: Every set, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{id: 20261128T101500Z, path: /var/backups/mlflow/sets/20261128T101500Z, time: "2026-11-28T10:15:00Z",
            complete: true, verified: true, bytes: 52830213}]
selected:
  description: The selected set (same keys as in RV(sets)), empty when nothing was asked for.
  returned: always
  type: dict
manifest:
  description: The selected set's manifest.
  returned: when a set was selected
  type: dict
"""

import datetime
import json
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule


def set_time(set_id: str, path: str) -> str:
    try:
        parsed = datetime.datetime.strptime(set_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        parsed = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, files in os.walk(path) for name in files)


def list_sets(root: str) -> list[dict[str, Any]]:
    base = os.path.join(root, "sets")
    if not os.path.isdir(base):
        return []
    found = []
    for set_id in os.listdir(base):
        path = os.path.join(base, set_id)
        if os.path.isdir(path):
            found.append(
                {
                    "id": set_id,
                    "path": path,
                    "time": set_time(set_id, path),
                    "complete": os.path.isfile(os.path.join(path, "COMPLETE")),
                    "verified": os.path.isfile(os.path.join(path, "VERIFIED")),
                    "bytes": directory_bytes(path),
                }
            )
    return sorted(found, key=lambda item: (item["time"], item["id"]))


def select(sets: list[dict[str, Any]], wanted: str) -> dict[str, Any] | str:
    """The selected set, or a message saying why there is none."""
    if wanted == "latest_complete":
        candidates = [item for item in sets if item["complete"]]
        return candidates[-1] if candidates else "no complete backup set exists yet; run playbooks/backup.yml"
    if wanted == "latest_verified":
        candidates = [item for item in sets if item["verified"]]
        return (
            candidates[-1]
            if candidates
            else ("no verified backup set exists; run playbooks/backup_verify.yml, or name a complete set explicitly")
        )
    match = next((item for item in sets if item["id"] == wanted), None)
    if match is None:
        names = ", ".join(item["id"] for item in sets) or "none"
        return f"there is no backup set {wanted!r} (sets: {names})"
    if not match["complete"]:
        return f"backup set {wanted!r} is incomplete (no COMPLETE marker): it cannot be verified or restored"
    return match


def main() -> None:
    module = AnsibleModule(
        argument_spec={"root": {"type": "path", "required": True}, "select": {"type": "str", "default": "none"}},
        supports_check_mode=True,
    )
    sets = list_sets(module.params["root"])
    result: dict[str, Any] = {"changed": False, "sets": sets, "selected": {}}
    if module.params["select"] != "none":
        chosen = select(sets, module.params["select"])
        if isinstance(chosen, str):
            module.fail_json(msg=f"select: {chosen}", **result)
        result["selected"] = chosen
        with open(os.path.join(chosen["path"], "manifest.json"), encoding="utf-8") as handle:
            result["manifest"] = json.load(handle)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
