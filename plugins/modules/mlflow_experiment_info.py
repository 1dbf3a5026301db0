#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Search MLflow experiments."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_experiment_info
short_description: Search MLflow experiments
version_added: 0.2.0
description:
  - Lists experiments on an MLflow tracking server, the runbook's C(mlflow.search_experiments()).
  - Follows MLflow's page tokens, so the result holds every match up to O(max_results).
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
  - birtha.mlflow.mlflow.info_module
options:
  name:
    description:
      - Return only the experiment with exactly this name (combined with O(filter_string) by AND).
    type: str
  filter_string:
    description:
      - MLflow search filter, for example V(tags.team = 'platform') or V(name LIKE 'WrkHrs%').
    type: str
  view_type:
    description: Which lifecycle stages to search.
    type: str
    choices: [active_only, deleted_only, all]
    default: active_only
  order_by:
    description: Sort keys, for example V(name ASC) or V(creation_time DESC).
    type: list
    elements: str
  max_results:
    description: Return at most this many experiments. V(0) means all.
    type: int
    default: 0
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: List every active experiment
  birtha.mlflow.mlflow_experiment_info:
    tracking_uri: http://mlflow.example.com:5000
  register: found

- name: Print them as the runbook does
  ansible.builtin.debug:
    msg: "Experiment: {{ item.name }}, ID: {{ item.experiment_id }}"
  loop: "{{ found.experiments }}"

- name: Deleted experiments of the platform team
  birtha.mlflow.mlflow_experiment_info:
    filter_string: "tags.team = 'platform'"
    view_type: deleted_only
"""

RETURN = r"""
experiments:
  description: The experiments found, in the server's order (or O(order_by)).
  returned: always
  type: list
  elements: dict
  contains:
    experiment_id: {description: ID, type: str, sample: "3"}
    name: {description: Name, type: str, sample: WrkHrs_Birtha_Integration}
    artifact_location: {description: Artifact root of its runs, type: str, sample: "mlflow-artifacts:/3"}
    lifecycle_stage: {description: V(active) or V(deleted), type: str, sample: active}
    tags: {description: Tags, type: dict, sample: {team: platform}}
    creation_time: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
    last_update_time: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    MlflowModule,
    collect_pages,
    experiment_to_dict,
    page_size,
    quote_filter_value,
    search_argument_spec,
    search_limit,
)


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "name": {"type": "str"},
        "filter_string": {"type": "str"},
        **search_argument_spec(max_results=0),
    }


def combined_filter(name: str | None, filter_string: str | None) -> str | None:
    clauses = [clause for clause in (filter_string,) if clause]
    if name:
        clauses.insert(0, f"name = {quote_filter_value(name)}")
    return " AND ".join(clauses) or None


def main() -> None:
    module = MlflowModule(argument_spec(), supports_check_mode=True)
    params = module.params
    limit = search_limit(module)
    try:
        filter_string = combined_filter(params["name"], params["filter_string"])
    except ValueError as exc:
        module.fail_json(msg=f"name: {exc}")
    client = module.client
    view_type = params["view_type"]

    def fetch(token: str | None) -> Any:
        return client.search_experiments(
            view_type=view_type,
            max_results=page_size(limit),
            filter_string=filter_string,
            order_by=params["order_by"],
            page_token=token,
        )

    try:
        experiments = collect_pages(fetch, limit)
    except Exception as exc:
        module.fail_mlflow(exc, "search experiments")
    module.exit_json(changed=False, experiments=[experiment_to_dict(exp) for exp in experiments])


if __name__ == "__main__":
    main()
