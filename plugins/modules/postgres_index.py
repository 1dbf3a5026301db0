#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Create the indexes MLflow's queries need unless an existing index already serves them; ANALYZE stale tables."""

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_index
short_description: Create missing indexes without blocking writes, and ANALYZE tables with stale statistics
version_added: 0.5.0
description:
  - For each of O(indexes), in order - does a valid index already serve it? That is a btree index, not partial, whose
    leading key columns are exactly the requested ones, in the requested directions or all reversed (a btree is read
    backwards as well). An index on C(runs(experiment_id, start_time DESC, run_uuid)) serves C(runs(experiment_id));
    MLflow's own C(index_metrics_run_uuid) serves C(metrics(run_uuid)). Only when none does, the index is created
    with C(CREATE INDEX CONCURRENTLY) (reads and writes go on while it builds; it runs outside a transaction). An
    index created earlier in the same list counts, so list the widest index first.
  - An index of a requested name that is INVALID - what a failed C(CREATE INDEX CONCURRENTLY) leaves behind; it is
    not used by queries but still slows down writes - is dropped (C(DROP INDEX CONCURRENTLY)) and built again. Other
    invalid indexes on the tables are reported in RV(invalid), not touched.
  - Then runs C(ANALYZE) on O(analyze_tables) - by default only on tables whose statistics are stale by
    autovacuum's own rule (never analysed, or more rows changed since than O(analyze_threshold) +
    O(analyze_scale_factor) x rows), so a second run changes nothing.
  - Every table, column and name is checked before anything is created - a table that does not exist, a column it
    does not have, a name already used by another relation or by an index with other columns fail the module and
    nothing is changed.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.mlflow.attributes
options:
  database:
    description: The database (MLflow's tracking database).
    required: true
  schema:
    description: The schema of the tables (MLflow uses C(public)).
    type: str
    default: public
  indexes:
    description: The indexes wanted, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      table:
        description: The table.
        type: str
        required: true
      columns:
        description: Key columns in order, each optionally followed by C(ASC) or C(DESC), as in V(start_time DESC).
        type: list
        elements: str
        required: true
      name:
        description: Name of the index to create (at most 63 characters).
        type: str
        required: true
  analyze_tables:
    description: Tables to ANALYZE (each must exist).
    type: list
    elements: str
    default: []
  analyze:
    description:
      - V(stale) analyses a table of O(analyze_tables) only when its statistics are stale; V(always) every time
        (always reports a change); V(never) not at all.
    type: str
    choices: [stale, always, never]
    default: stale
  analyze_scale_factor:
    description: Share of a table's rows that must have changed since its last ANALYZE for it to be stale.
    type: float
    default: 0.05
  analyze_threshold:
    description: Rows that must have changed besides O(analyze_scale_factor) for a table to be stale.
    type: int
    default: 50
  lock_timeout:
    description:
      - Seconds a C(CREATE INDEX CONCURRENTLY) waits for a lock or for older transactions on the table to end before
        it gives up (the module then fails and leaves no index behind). V(0) waits as long as it takes.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    details: Reports which indexes would be created or rebuilt and which tables analysed; creates, drops and
      analyses nothing.
  diff_mode:
    support: none
seealso:
  - module: birtha.mlflow.postgres_settings
  - name: CREATE INDEX CONCURRENTLY
    description: Building indexes concurrently, and what a failed build leaves behind.
    link: https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Index MLflow's runs for search_runs, then refresh stale statistics
  birtha.mlflow.postgres_index:
    database: mlflow_db
    indexes:
      # search_runs: WHERE experiment_id IN (..) AND lifecycle_stage IN (..) ORDER BY start_time DESC, run_uuid
      - {table: runs, columns: [experiment_id, start_time DESC, run_uuid], name: idx_runs_experiment_id_start_time}
      # Served by the index above: not created.
      - {table: runs, columns: [experiment_id], name: idx_runs_experiment_id}
      # MLflow's index_metrics_run_uuid serves it: not created.
      - {table: metrics, columns: [run_uuid], name: idx_metrics_run_uuid}
    analyze_tables: [runs, metrics, latest_metrics, params, tags]
  become: true
  become_user: postgres
  register: indexed

- name: Say what was done
  ansible.builtin.debug:
    msg: "{{ indexed.summary }}"
"""

RETURN = r"""
created:
  description: Indexes created (in check mode, that would be), rebuilt ones included.
  returned: always
  type: list
  elements: str
  sample: [idx_runs_experiment_id_start_time, idx_runs_start_time]
covered_by:
  description:
    - Per requested index, the index that serves it - its own name when it exists, another index's name when that
      one covers it - or C(null) when it was (or would be) created.
  returned: always
  type: dict
  sample: {idx_runs_experiment_id: idx_runs_experiment_id_start_time, idx_metrics_run_uuid: index_metrics_run_uuid,
           idx_runs_start_time: null}
rebuilt:
  description: Requested indexes that existed as INVALID and were (or would be) dropped and created again.
  returned: always
  type: list
  elements: str
invalid:
  description: Other INVALID indexes on the tables of O(indexes) (name and definition), left alone.
  returned: always
  type: list
  elements: dict
indexes:
  description: Per requested index, in order - name, table, definition, state (V(created), V(would create),
    V(exists), V(covered)), covered_by, rebuilt.
  returned: always
  type: list
  elements: dict
analyzed:
  description: Tables analysed (in check mode, that would be).
  returned: always
  type: list
  elements: str
summary:
  description: What was found and done, a line each.
  returned: always
  type: list
  elements: str
"""

import contextlib
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_tuning import (
    ExistingIndex,
    IndexSpec,
    analyze,
    analyze_state,
    as_existing,
    covering_index,
    create_index,
    drop_index,
    is_stale,
    relation_kind,
    set_lock_timeout,
    table_columns,
    table_indexes,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError, PostgresModule


def argument_spec() -> dict[str, Any]:
    return {
        "schema": {"type": "str", "default": "public"},
        "indexes": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "table": {"type": "str", "required": True},
                "columns": {"type": "list", "elements": "str", "required": True},
                "name": {"type": "str", "required": True},
            },
        },
        "analyze_tables": {"type": "list", "elements": "str", "default": []},
        "analyze": {"type": "str", "choices": ["stale", "always", "never"], "default": "stale"},
        "analyze_scale_factor": {"type": "float", "default": 0.05},
        "analyze_threshold": {"type": "int", "default": 50},
        "lock_timeout": {"type": "int", "default": 300},
    }


def check_request(cursor: Any, params: dict[str, Any]) -> tuple[list[IndexSpec], list[str]]:
    """The parsed index requests and the problems with them and with analyze_tables (empty when all is well)."""
    schema, database = params["schema"], params["database"]
    specs, problems = [], []
    names = [item["name"] for item in params["indexes"]]
    for twice in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"index name {twice} is requested more than once")
    columns_of: dict[str, list[str] | None] = {}

    def columns(table: str) -> list[str] | None:
        if table not in columns_of:
            columns_of[table] = table_columns(cursor, schema, table)
        return columns_of[table]

    for item in params["indexes"]:
        try:
            spec = IndexSpec.parse(item["name"], item["table"], item["columns"])
        except ValueError as error:
            problems.append(str(error))
            continue
        have = columns(spec.table)
        if have is None:
            problems.append(
                f"index {spec.name}: table {schema}.{spec.table} does not exist in database {database} (is it MLflow's "
                "tracking database, and has MLflow created its schema?)"
            )
            continue
        missing = [column for column in spec.columns if column not in have]
        if missing:
            problems.append(f"index {spec.name}: table {spec.table} has no column {', '.join(missing)}")
            continue
        taken = relation_kind(cursor, schema, spec.name)
        if taken and taken[0] != "i":
            problems.append(
                f"index {spec.name}: the name is taken by another relation (relkind {taken[0]}) in {schema}"
            )
            continue
        if taken and taken[1] != spec.table:
            problems.append(f"index {spec.name}: an index of that name exists on table {taken[1]}, not {spec.table}")
            continue
        specs.append(spec)
    for table in params["analyze_tables"]:
        if columns(table) is None:
            problems.append(f"analyze: table {schema}.{table} does not exist in database {database}")
    # A valid index of a requested name that does not serve the request: renaming is for the user to decide.
    for spec in specs:
        own = next((index for index in table_indexes(cursor, schema, spec.table) if index.name == spec.name), None)
        if own and own.valid and covering_index([own], spec) is None:
            problems.append(
                f"index {spec.name} exists with other columns ({own.definition}); it does not serve "
                f"{spec.describe()}: choose another name"
            )
    return specs, problems


def new_outcome() -> dict[str, Any]:
    return {"created": [], "covered_by": {}, "rebuilt": [], "invalid": [], "indexes": []}


def plan_and_create(
    cursor: Any, params: dict[str, Any], specs: list[IndexSpec], check_mode: bool, outcome: dict[str, Any]
) -> None:
    """Fills outcome as it goes, so that a failure can still tell what was done before it."""
    schema = params["schema"]
    planned: dict[str, list[ExistingIndex]] = {}
    reported: set[str] = set()
    for spec in specs:
        indexes = table_indexes(cursor, schema, spec.table)
        for index in indexes:
            if not index.valid and index.name not in reported and index.name not in {s.name for s in specs}:
                reported.add(index.name)
                outcome["invalid"].append({"name": index.name, "definition": index.definition})
        own = next((index for index in indexes if index.name == spec.name), None)
        rebuild = own is not None and not own.valid
        if rebuild:
            if not check_mode:
                drop_index(cursor, schema, spec.name)
            indexes = [index for index in indexes if index.name != spec.name]
        found = covering_index(indexes + planned.get(spec.table, []), spec)
        entry = {"name": spec.name, "table": spec.table, "definition": spec.describe(), "rebuilt": rebuild}
        if found is not None:
            state = "exists" if found.name == spec.name else "covered"
            outcome["covered_by"][spec.name] = found.name
        else:
            state = "would create" if check_mode else "created"
            if not check_mode:
                try:
                    create_index(cursor, schema, spec)
                except PostgresError:
                    # A failed concurrent build leaves an INVALID index: remove it, then report the failure.
                    with contextlib.suppress(PostgresError):
                        drop_index(cursor, schema, spec.name)
                    raise
            planned.setdefault(spec.table, []).append(as_existing(spec))
            outcome["created"].append(spec.name)
            outcome["covered_by"][spec.name] = None
            if rebuild:
                outcome["rebuilt"].append(spec.name)
        outcome["indexes"].append({**entry, "state": state, "covered_by": outcome["covered_by"][spec.name]})


def stale_tables(cursor: Any, params: dict[str, Any]) -> list[str]:
    tables = params["analyze_tables"]
    if params["analyze"] == "never" or not tables:
        return []
    if params["analyze"] == "always":
        return list(tables)
    state = analyze_state(cursor, params["schema"], tables)
    return [t for t in tables if is_stale(state.get(t), params["analyze_scale_factor"], params["analyze_threshold"])]


def summary(outcome: dict[str, Any], analyzed: list[str], check_mode: bool) -> list[str]:
    lines = []
    for item in outcome["indexes"]:
        if item["state"] in ("created", "would create"):
            verb = (
                ("Would rebuild (was INVALID)" if check_mode else "Rebuilt (was INVALID)")
                if item["rebuilt"]
                else ("Would create" if check_mode else "Created")
            )
            lines.append(f"{verb} index {item['name']} on {item['definition']}")
        elif item["state"] == "exists":
            lines.append(f"Index {item['name']} on {item['definition']} exists")
        else:
            lines.append(f"Index {item['name']} on {item['definition']}: already covered by {item['covered_by']}")
    for index in outcome["invalid"]:
        lines.append(
            f"INVALID index {index['name']} (left alone; not used by queries, slows writes): {index['definition']}; "
            f"drop it with DROP INDEX CONCURRENTLY {index['name']}"
        )
    if analyzed:
        lines.append(f"{'Would analyze' if check_mode else 'Analyzed'}: {', '.join(analyzed)}")
    else:
        lines.append("No table needed ANALYZE")
    return lines


def main() -> None:
    module = PostgresModule(argument_spec(), supports_check_mode=True)
    params = module.params
    outcome = new_outcome()
    analyzed: list[str] = []
    try:
        # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction block.
        with module.connection(autocommit=True) as connection, connection.cursor() as cursor:
            specs, problems = check_request(cursor, params)
            if problems:
                module.fail_json(
                    msg="Bad index or table request: " + "; ".join(problems) + ". Nothing was changed.",
                    problems=problems,
                )
            set_lock_timeout(cursor, params["lock_timeout"])
            plan_and_create(cursor, params, specs, module.check_mode, outcome)
            analyzed = stale_tables(cursor, params)
            if not module.check_mode:
                for table in analyzed:
                    analyze(cursor, params["schema"], table)
    except PostgresError as error:
        done = f"Created before the failure: {', '.join(outcome['created'])}." if outcome["created"] else ""
        module.fail_postgres(error, done or "Nothing was created.", changed=bool(outcome["created"]), **outcome)
    module.exit_json(
        changed=bool(outcome["created"] or analyzed),
        analyzed=analyzed,
        summary=summary(outcome, analyzed, module.check_mode),
        **outcome,
    )


if __name__ == "__main__":
    main()
