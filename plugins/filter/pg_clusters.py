# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""pg_lsclusters' output as a list of clusters."""

from __future__ import annotations

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_clusters import parse_clusters

DOCUMENTATION = r"""
name: pg_clusters
short_description: Debian's PostgreSQL clusters from the output of pg_lsclusters
version_added: 0.7.0
description:
  - Parses the output of C(pg_lsclusters --no-header) (or C(-h)) into one dict per cluster with the keys
    C(version), C(name), C(port) (an integer), C(status) (V(online), V(down), ...), C(owner), C(data_dir) and
    C(log_file) (empty when the cluster logs elsewhere).
  - Lines that are not cluster rows (a header, a warning) are skipped; empty input gives an empty list.
options:
  _input:
    description: The command's standard output.
    type: str
    required: true
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The cluster on port 5432
  ansible.builtin.set_fact:
    cluster: "{{ lsclusters.stdout | birtha.mlflow.pg_clusters | selectattr('port', 'equalto', 5432) | first }}"
"""

RETURN = r"""
_value:
  description: One dict per cluster.
  type: list
  elements: dict
"""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"pg_clusters": parse_clusters}
