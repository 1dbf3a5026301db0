# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Point artifact entries at the copies a play staged on the executing host."""

from __future__ import annotations

import posixpath
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: staged_artifacts
short_description: Point mlflow_run artifact entries at their staged copies
version_added: 0.2.0
description:
  - Takes the O(_input) list of artifact entries (C(src) on the controller, optional C(artifact_path)) and returns
    the same entries with C(src) replaced by C(<staging_dir>/<basename of src>), where a play copied them on the
    host that runs M(birtha.mlflow.mlflow_run).
options:
  _input:
    description: Artifact entries, each a dict with C(src).
    type: list
    elements: dict
    required: true
  staging_dir:
    description: Directory on the executing host the entries were copied into.
    type: str
    required: true
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
artifacts: "{{ run.artifacts | birtha.mlflow.staged_artifacts('/var/tmp/birtha-mlflow-runs/test-run') }}"
"""

RETURN = r"""
_value:
  description: The entries with C(src) rewritten.
  type: list
  elements: dict
"""


def staged_artifacts(artifacts: list[dict[str, Any]], staging_dir: str) -> list[dict[str, Any]]:
    staged = []
    for entry in artifacts or []:
        if not isinstance(entry, dict) or "src" not in entry:
            raise AnsibleFilterError(f"staged_artifacts: each artifact needs a src, got {entry!r}")
        name = posixpath.basename(str(entry["src"]).rstrip("/"))
        staged.append({**entry, "src": posixpath.join(staging_dir, name)})
    return staged


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"staged_artifacts": staged_artifacts}
