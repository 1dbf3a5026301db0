#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""A retention policy: soft-delete the runs older than a cutoff, exactly as MLflow's delete_run does, in batches."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_retention
short_description: Soft-delete MLflow runs older than a cutoff (in MLflow's tables, not through its API)
version_added: 0.5.0
description:
  - The runbook's retention policy (search the runs, then C(mlflow.delete_run) for each one older than 90 days)
    as a few SQL statements in MLflow's tracking database, one transaction per O(batch_size) runs.
  - Each run is changed exactly as MLflow's C(delete_run) changes it (MLflow 3.17's SqlAlchemyStore) -
    C(lifecycle_stage) becomes C(deleted), C(deleted_time) the time of deletion in milliseconds, and the
    assessments logged from the run (whose metadata names it as C(mlflow.assessment.sourceRunId)) are removed.
    Nothing else changes; the run can be restored from MLflow's UI or API until it is purged
    (M(birtha.mlflow.mlflow_purge), or C(mlflow gc)).
  - Only active runs whose start time is before the cutoff are chosen; runs without a start time never are.
    The scope narrows by experiment (names or ids), run status and tags (all given tags must match).
  - MLflow's optional trace rollups (C(MLFLOW_SQL_TRACE_ROLLUPS_ENABLED)) are not rebuilt; the platform's server
    does not enable them.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.mlflow.attributes
options:
  database:
    description: MLflow's tracking database.
    required: true
  older_than_days:
    description:
      - Runs that started more than this many days ago. One of O(older_than_days) and O(started_before) is required.
    type: int
  started_before:
    description:
      - Runs that started before this date (V(2026-01-31), or V(2026-01-31T12:00:00), UTC unless an offset is given).
      - A date in the future is refused.
    type: str
  experiment_names:
    description: Only runs of these experiments. Every name must exist (deleted experiments count).
    type: list
    elements: str
  experiment_ids:
    description: Only runs of these experiments, by id. Every id must exist.
    type: list
    elements: str
  statuses:
    description: Only runs with one of these statuses.
    type: list
    elements: str
    choices: [RUNNING, SCHEDULED, FINISHED, FAILED, KILLED]
  tags:
    description:
      - Only runs that carry every one of these tags with exactly this value.
      - Values are strings, as MLflow stores them (quote V("true")).
    type: dict
  batch_size:
    description: Runs deleted per transaction.
    type: int
    default: 1000
  report_limit:
    description: How many of the chosen runs to return in RV(runs) (all are counted in RV(count)).
    type: int
    default: 100
attributes:
  check_mode:
    support: full
    details: Selects the runs as usual and returns them and their count; soft-deletes none.
  diff_mode:
    support: none
seealso:
  - module: birtha.mlflow.mlflow_purge
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Runbook retention policy - delete runs older than 90 days
  birtha.mlflow.mlflow_retention:
    database: mlflow_db
    older_than_days: 90
  become: true
  become_user: postgres

- name: Preview which failed runs of one experiment started before 2026 would go
  birtha.mlflow.mlflow_retention:
    database: mlflow_db
    started_before: "2026-01-01"
    experiment_names: [fraud-detection]
    statuses: [FAILED, KILLED]
  check_mode: true
  become: true
  become_user: postgres
  register: preview
"""

RETURN = r"""
count:
  description: How many runs were deleted (in check mode, would be).
  returned: always
  type: int
  sample: 10000
cutoff:
  description: The cutoff, ISO 8601 UTC; runs that started before it were chosen.
  returned: always
  type: str
  sample: "2026-08-30T10:00:00+00:00"
experiments:
  description: The experiment ids the scope was narrowed to, by the name or id given.
  returned: when O(experiment_names) or O(experiment_ids) is given
  type: dict
  sample: {fraud-detection: 4}
runs:
  description: The first O(report_limit) runs chosen, oldest first.
  returned: always
  type: list
  elements: dict
  sample:
    - {run_id: 0f3c9a, experiment_id: 4, name: bold-owl-12, status: FINISHED, start_time: "2026-05-01T09:12:00+00:00"}
batches:
  description: Transactions committed.
  returned: always
  type: int
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_sql import (
    ACTIVE,
    RUN_STATUSES,
    RunSelection,
    experiment_ids_for,
    select_runs,
    soft_delete_runs,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError, PostgresModule
from ansible_collections.birtha.mlflow.plugins.module_utils.retention import cutoff_ms, iso, now_ms


def argument_spec() -> dict[str, Any]:
    return {
        "older_than_days": {"type": "int"},
        "started_before": {"type": "str"},
        "experiment_names": {"type": "list", "elements": "str"},
        "experiment_ids": {"type": "list", "elements": "str"},
        "statuses": {"type": "list", "elements": "str", "choices": list(RUN_STATUSES)},
        "tags": {"type": "dict"},
        "batch_size": {"type": "int", "default": 1000},
        "report_limit": {"type": "int", "default": 100},
    }


def shown_run(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run["run_id"],
        "experiment_id": run["experiment_id"],
        "name": run["name"],
        "status": run["status"],
        "start_time": iso(run["start_time"]),
    }


def scope(module: AnsibleModule, cursor: Any) -> tuple[tuple[int, ...] | None, dict[str, int]]:
    """The experiment ids to narrow to (None: all); fails naming every experiment that does not exist."""
    names, ids = module.params["experiment_names"], module.params["experiment_ids"]
    if names is None and ids is None:
        return None, {}
    found, missing = experiment_ids_for(cursor, names or [], ids or [])
    if missing:
        module.fail_json(
            msg=f"No such experiment: {', '.join(missing)} (experiment_names / experiment_ids). "
            "Check the spelling with birtha.mlflow.mlflow_experiment_info; nothing was deleted."
        )
    return tuple(sorted(set(found.values()))), found


def apply(module: AnsibleModule, connection: Any, cutoff: int) -> dict[str, Any]:
    params = module.params
    with connection.cursor() as cursor:
        experiment_ids, experiments = scope(module, cursor)
        selection = RunSelection(
            lifecycle_stage=ACTIVE,
            experiment_ids=experiment_ids,
            started_before_ms=cutoff,
            statuses=tuple(params["statuses"]) if params["statuses"] else None,
            tags=tuple(sorted((str(k), v) for k, v in (params["tags"] or {}).items())),
        )
        chosen = select_runs(cursor, selection)
    connection.commit()
    deleted, batches = 0, 0
    if not module.check_mode:
        run_ids = [run["run_id"] for run in chosen]
        for start in range(0, len(run_ids), params["batch_size"]):
            with connection.cursor() as cursor:
                deleted += soft_delete_runs(cursor, run_ids[start : start + params["batch_size"]], now_ms())
            connection.commit()
            batches += 1
    result: dict[str, Any] = {
        "changed": bool(chosen),
        "count": len(chosen) if module.check_mode else deleted,
        "cutoff": iso(cutoff),
        "runs": [shown_run(run) for run in chosen[: params["report_limit"]]],
        "batches": batches,
    }
    if experiments:
        result["experiments"] = experiments
    return result


def main() -> None:
    module = PostgresModule(
        argument_spec(),
        mutually_exclusive=[("older_than_days", "started_before")],
        required_one_of=[("older_than_days", "started_before")],
        supports_check_mode=True,
    )
    params = module.params
    if params["batch_size"] < 1:
        module.fail_json(msg=f"batch_size={params['batch_size']}: give at least 1 run per transaction")
    for key, value in (params["tags"] or {}).items():
        if not isinstance(value, str):
            text = str(value).lower() if isinstance(value, bool) else str(value)
            module.fail_json(
                msg=f"tags: the value of {key!r} is {value!r}, not a string; MLflow stores tag values as text, so "
                f'quote it ({key}: "{text}"). Nothing was deleted.'
            )
    try:
        cutoff = cutoff_ms(
            params["older_than_days"], params["started_before"], now_ms(), "older_than_days", "started_before"
        )
    except ValueError as exc:
        module.fail_json(msg=f"{exc}; nothing was deleted.")
    try:
        with module.connection() as connection:
            result = apply(module, connection, cutoff)
    except PostgresError as exc:
        module.fail_postgres(exc, "Nothing was deleted in an unfinished batch.")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
