#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""What differs between MLflow's live database and a copy of it as it was at an earlier time."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_db_diff
short_description: Report what differs between MLflow's live database and a copy of it from an earlier time
version_added: 0.7.0
description:
  - The assessment of the runbook's Data Corruption procedure - compares the live MLflow database with a reference
    copy of it (a point-in-time recovery on another port, as C(playbooks/data_corruption.yml) makes one) and
    reports, per experiment, run and registered model, what was added, removed or changed since, with the times
    MLflow recorded on it - params, tags and metrics of runs, model versions, their stages, tags and aliases.
  - Cheap on a large metrics table - it first compares a checksum of each run's (experiment's, model's) rows on
    both sides and reads the rows of only the objects that differ.
  - Tables it does not know (a newer MLflow's) are compared whole and reported in RV(other_tables).
  - Reads only; changes nothing.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.mlflow.attributes
options:
  database:
    description: MLflow's tracking database, on both sides.
    default: mlflow
  reference_port:
    description: The port of the reference copy (the server holding the database as it was), on the same host.
    type: int
    required: true
  max_details:
    description: At most this many detail lines per object; the rest are counted.
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as otherwise.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Compare the live database with the copy recovered to the suspected time (on port 5499)
  birtha.mlflow.mlflow_db_diff:
    reference_port: 5499
  become: true
  become_user: postgres
  register: changes

- name: Say what changed
  ansible.builtin.debug:
    var: changes.summary
"""

RETURN = r"""
objects:
  description:
    - Each experiment, run and registered model that differs - C(object) (experiment, run, registered_model),
      C(id), C(name), C(change) (added, removed or changed since the copy), C(experiment_id) for a run, C(times)
      (the times MLflow recorded on it, ISO 8601 UTC) and C(details) (the rows that differ, one line each).
  returned: always
  type: list
  elements: dict
  sample:
    - object: run
      id: 3f2a9c...
      name: r-3f2a9c
      change: changed
      experiment_id: "2"
      times: {start_time: "2026-12-07T18:00:00.000Z"}
      details: ["run status: 'FINISHED' -> 'FAILED'", "param lr value: '0.01' -> 'corrupted'"]
counts:
  description: Per kind of object, how many were added, removed and changed.
  returned: always
  type: dict
  sample: {experiment: {added: 1, removed: 0, changed: 0}, run: {added: 1, removed: 0, changed: 4}}
tables:
  description: Per MLflow table that differs, its rows added, removed and changed.
  returned: always
  type: dict
schema:
  description: MLflow's schema revision (alembic) now and in the copy; when they differ only the columns both
    sides have are compared.
  returned: always
  type: dict
  sample: {now: 1b5f0d9ad7c1, then: 1b5f0d9ad7c1}
other_tables:
  description: Tables not compared object by object (a newer MLflow's, or one only one side has) whose content
    differs (table, rows_then, rows_now; None on the side that lacks it).
  returned: always
  type: list
  elements: dict
impact:
  description: The experiments touched (their own rows or their runs'), how many runs, and the registered models.
  returned: always
  type: dict
  sample: {experiments: ["1", "2"], runs: 5, registered_models: ["churn"]}
differs:
  description: Whether anything differs.
  returned: always
  type: bool
summary:
  description: The findings in plain words, a line each.
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_diff import diff_databases
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError, PostgresModule, connect


def argument_spec() -> dict[str, Any]:
    return {
        "reference_port": {"type": "int", "required": True},
        "max_details": {"type": "int", "default": 20},
    }


def main() -> None:
    module = PostgresModule(argument_spec(), database="mlflow", supports_check_mode=True)
    params = module.params
    if params["max_details"] < 1:
        module.fail_json(msg=f"max_details must be 1 or more, not {params['max_details']}.")
    try:
        with module.connection() as live, connect(params["database"], port=params["reference_port"]) as reference:
            # One snapshot per side for every query, and nothing written.
            for side in (live, reference):
                side.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with live.cursor() as live_cursor, reference.cursor() as reference_cursor:
                result = diff_databases(live_cursor, reference_cursor, params["max_details"])
    except PostgresError as error:
        module.fail_postgres(
            error,
            f"Both the live server (port) and the reference copy (reference_port {params['reference_port']}) "
            "must run. Nothing was changed.",
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
