#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Search MLflow runs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_run_info
short_description: Search MLflow runs and return their params, metrics and tags
version_added: 0.2.0
description:
  - Searches the runs of one or more experiments, the runbook's C(mlflow.search_runs()).
  - Each run comes back with its params, latest metric values and tags as plain dictionaries, ready for
    C(when), C(assert) or a report.
  - Follows MLflow's page tokens, so the result holds every match up to O(max_results).
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
  - birtha.mlflow.mlflow.info_module
options:
  experiment_ids:
    description: IDs of the experiments to search.
    type: list
    elements: str
  experiment_names:
    description:
      - Names of the experiments to search. A name that no experiment has fails the task.
    type: list
    elements: str
  filter_string:
    description:
      - MLflow search filter, for example V(metrics.accuracy > 0.9 and params.model_type = 'gpt-3.5-turbo')
        or V(attributes.run_name = 'test-run').
    type: str
  order_by:
    description: Sort keys, for example V(metrics.accuracy DESC) or V(attributes.start_time DESC).
    type: list
    elements: str
  max_results:
    description: Return at most this many runs. V(0) means all.
    type: int
    default: 1000
  view_type:
    description: Which lifecycle stages to search.
    type: str
    choices: [active_only, deleted_only, all]
    default: active_only
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The runbook's search_runs, by experiment name
  birtha.mlflow.mlflow_run_info:
    tracking_uri: http://mlflow.example.com:5000
    experiment_names: [WrkHrs_Birtha_Integration]
  register: found

- name: Best run by accuracy among the finished ones
  birtha.mlflow.mlflow_run_info:
    experiment_ids: ["1"]
    filter_string: "attributes.status = 'FINISHED'"
    order_by: ["metrics.accuracy DESC"]
    max_results: 1
  register: best

- name: Use its metrics
  ansible.builtin.debug:
    msg: "{{ best.runs[0].run_id }} reached {{ best.runs[0].metrics.accuracy }}"
"""

RETURN = r"""
experiment_ids:
  description: The experiment IDs searched (O(experiment_names) resolved).
  returned: always
  type: list
  elements: str
  sample: ["1"]
runs:
  description: The runs found.
  returned: always
  type: list
  elements: dict
  contains:
    run_id: {description: Run ID, type: str, sample: 0f1e2d3c4b5a69788796a5b4c3d2e1f0}
    run_name: {description: Run name, type: str, sample: test-run}
    experiment_id: {description: Experiment ID, type: str, sample: "1"}
    status: {description: "V(RUNNING), V(SCHEDULED), V(FINISHED), V(FAILED) or V(KILLED)", type: str, sample: FINISHED}
    lifecycle_stage: {description: V(active) or V(deleted), type: str, sample: active}
    start_time: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
    end_time: {description: Milliseconds since the epoch, type: int, sample: 1764000001000}
    artifact_uri: {description: Artifact root of the run, type: str, sample: "mlflow-artifacts:/1/0f1e.../artifacts"}
    user_id:
      description: User who created the run (the username of the task that created it).
      type: str
      sample: admin
    params: {description: Parameters, type: dict, sample: {temperature: "0.7"}}
    metrics: {description: Latest value of each metric, type: dict, sample: {accuracy: 0.95}}
    tags: {description: "Tags, the C(mlflow.) system tags included", type: dict, sample: {mlflow.runName: test-run}}
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    MlflowModule,
    collect_pages,
    page_size,
    run_to_dict,
    search_argument_spec,
    search_limit,
    uniq,
)


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "experiment_ids": {"type": "list", "elements": "str"},
        "experiment_names": {"type": "list", "elements": "str"},
        "filter_string": {"type": "str"},
        **search_argument_spec(max_results=1000),
    }


def resolve_experiment_ids(module: MlflowModule) -> list[str]:
    """Experiment IDs from O(experiment_ids) and O(experiment_names); an unknown name is an error, not no runs."""
    ids = list(module.params["experiment_ids"] or [])
    for name in module.params["experiment_names"] or []:
        try:
            experiment = module.client.get_experiment_by_name(name)
        except Exception as exc:
            module.fail_mlflow(exc, f"look up the experiment {name!r}")
        if experiment is None:
            module.fail_json(
                msg=f"experiment_names: no experiment is named {name!r} on {module.params['tracking_uri']}."
            )
        ids.append(experiment.experiment_id)
    return uniq(ids)


def main() -> None:
    module = MlflowModule(
        argument_spec(),
        supports_check_mode=True,
        required_one_of=[("experiment_ids", "experiment_names")],
    )
    params = module.params
    limit = search_limit(module)  # before any request: bad input fails without reaching the server
    experiment_ids = resolve_experiment_ids(module)
    client = module.client
    view_type = params["view_type"]

    def fetch(token: str | None) -> Any:
        return client.search_runs(
            experiment_ids=experiment_ids,
            filter_string=params["filter_string"] or "",
            run_view_type=view_type,
            max_results=page_size(limit),
            order_by=params["order_by"],
            page_token=token,
        )

    try:
        runs = collect_pages(fetch, limit)
    except Exception as exc:
        module.fail_mlflow(exc, f"search the runs of experiments {', '.join(experiment_ids)}")
    module.exit_json(changed=False, experiment_ids=experiment_ids, runs=[run_to_dict(run) for run in runs])


if __name__ == "__main__":
    main()
