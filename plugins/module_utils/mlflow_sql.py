# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""MLflow's own tables, written directly rather than through its API: retention, purge, archive, storage cleanup.

The queries that only read PostgreSQL's state are in pg_state.py (backup verification) and pg_stats.py (monitoring,
health, activity). Connections come from postgres.py (the Unix socket, as the postgres OS user).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_state import table_exists
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import sql

# delete_run marks a run deleted and stamps deleted_time, and removes the assessments that name the run as their
# source; mlflow gc's _hard_delete_run removes the run's metrics, latest metrics, params and tags, then the run (the
# foreign keys declared ON DELETE CASCADE or SET NULL take care of the rest; dataset inputs are left, as gc leaves
# them). Here each works on a batch of runs in one statement per table instead of one transaction per run.

ACTIVE = "active"
DELETED = "deleted"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
# The tables _hard_delete_run empties for a run before deleting the run itself, in its order.
RUN_CHILD_TABLES = ("metrics", "latest_metrics", "params", "tags")
# How delete_run finds the assessments logged from a run (AssessmentMetadataKey.SOURCE_RUN_ID).
ASSESSMENT_SOURCE_RUN = '"mlflow.assessment.sourceRunId": "{run_id}"'


@dataclass(frozen=True)
class RunSelection:
    """Which runs a retention policy or a purge means. None leaves a criterion out."""

    lifecycle_stage: str = ACTIVE
    experiment_ids: tuple[int, ...] | None = None
    started_before_ms: int | None = None
    deleted_before_ms: int | None = None
    statuses: tuple[str, ...] | None = None
    tags: tuple[tuple[str, str], ...] = ()

    def where(self) -> tuple[Any, list[Any]]:
        """The WHERE clause over runs (aliased r) and its parameters."""
        clauses = [sql.SQL("r.lifecycle_stage = %s")]
        values: list[Any] = [self.lifecycle_stage]
        if self.experiment_ids is not None:
            clauses.append(sql.SQL("r.experiment_id = ANY(%s)"))
            values.append(list(self.experiment_ids))
        if self.started_before_ms is not None:
            clauses.append(sql.SQL("r.start_time < %s"))
            values.append(self.started_before_ms)
        if self.deleted_before_ms is not None:
            # gc: deleted_time <= now - older_than; a run deleted before MLflow recorded deleted_time never matches.
            clauses.append(sql.SQL("r.deleted_time <= %s"))
            values.append(self.deleted_before_ms)
        if self.statuses is not None:
            clauses.append(sql.SQL("r.status = ANY(%s)"))
            values.append(list(self.statuses))
        for key, value in self.tags:
            clauses.append(
                sql.SQL("EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = %s AND t.value = %s)")
            )
            values.extend([key, value])
        return sql.SQL(" AND ").join(clauses), values


def experiment_ids_for(cursor: Any, names: list[str], ids: list[str]) -> tuple[dict[str, int], list[str]]:
    """Experiment ids by name or id as given, and what was given that names no single experiment (deleted ones
    count; a name several workspaces use is ambiguous)."""
    found: dict[str, int] = {}
    missing: list[str] = []
    for name in names:
        cursor.execute("SELECT experiment_id FROM experiments WHERE name = %s", (name,))
        rows = cursor.fetchall()
        if len(rows) == 1:
            found[name] = int(rows[0][0])
        else:
            missing.append(f"name {name!r}" + (" (several workspaces use it: give its id)" if rows else ""))
    for given in ids:
        cursor.execute("SELECT experiment_id FROM experiments WHERE experiment_id::text = %s", (str(given).strip(),))
        row = cursor.fetchone()
        if row:
            found[str(given)] = int(row[0])
        else:
            missing.append(f"id {given!r}")
    return found, missing


def select_runs(cursor: Any, selection: RunSelection, order: str = "start_time") -> list[dict[str, Any]]:
    """The runs a selection means, oldest first (by start_time, or by deleted_time for a purge)."""
    order_by = sql.SQL("r.deleted_time, r.run_uuid" if order == "deleted_time" else "r.start_time, r.run_uuid")
    where, values = selection.where()
    cursor.execute(
        sql.SQL(
            "SELECT r.run_uuid, r.experiment_id, r.name, r.status, r.start_time, r.deleted_time, r.artifact_uri "
            "FROM runs r WHERE {} ORDER BY {}"
        ).format(where, order_by),
        values,
    )
    keys = ("run_id", "experiment_id", "name", "status", "start_time", "deleted_time", "artifact_uri")
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def soft_delete_runs(cursor: Any, run_ids: list[str], now_ms: int) -> int:
    """MLflow's delete_run for each of run_ids still active: lifecycle_stage 'deleted', deleted_time now, and the
    run's assessments gone. How many runs were marked."""
    if table_exists(cursor, "assessments") and run_ids:
        patterns = ["%" + ASSESSMENT_SOURCE_RUN.format(run_id=run_id) + "%" for run_id in run_ids]
        cursor.execute("DELETE FROM assessments WHERE assessment_metadata LIKE ANY(%s)", (patterns,))
    cursor.execute(
        "UPDATE runs SET lifecycle_stage = %s, deleted_time = %s WHERE run_uuid = ANY(%s) AND lifecycle_stage = %s",
        (DELETED, now_ms, run_ids, ACTIVE),
    )
    return cursor.rowcount


def lock_deleted_runs(cursor: Any, run_ids: list[str], deleted_before_ms: int) -> list[str]:
    """Lock, for the purge's transaction, the runs of run_ids still deleted before the cutoff (not restored, nor
    restored and deleted again, meanwhile)."""
    cursor.execute(
        "SELECT run_uuid FROM runs WHERE run_uuid = ANY(%s) AND lifecycle_stage = %s AND deleted_time <= %s "
        "ORDER BY run_uuid FOR UPDATE",
        (run_ids, DELETED, deleted_before_ms),
    )
    return [row[0] for row in cursor.fetchall()]


def hard_delete_runs(cursor: Any, run_ids: list[str]) -> dict[str, int]:
    """mlflow gc's _hard_delete_run for a batch: rows removed per table (the runs table last)."""
    removed: dict[str, int] = {}
    for table in (*RUN_CHILD_TABLES, "runs"):
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE run_uuid = ANY(%s)").format(sql.Identifier(table)),
            (run_ids,),
        )
        removed[table] = cursor.rowcount
    return removed


# Archival (mlflow_archive) and storage cleanup (mlflow_storage_cleanup): an experiment's rows as they are stored,
# independent counts to verify an export against, MLflow's delete_experiment, and which runs and experiments exist.

# An experiment's rows, table by table: (table, how its rows are chosen, order). Tables MLflow's schema may lack
# (older revisions) are left out; inputs are the dataset inputs of the experiment's runs.
EXPERIMENT_TABLES = (
    ("experiment_tags", "experiment_id = %(experiment_id)s", "key"),
    ("runs", "experiment_id = %(experiment_id)s", "start_time, run_uuid"),
    ("params", "run_uuid = ANY(%(run_ids)s)", "run_uuid, key"),
    ("tags", "run_uuid = ANY(%(run_ids)s)", "run_uuid, key"),
    ("metrics", "run_uuid = ANY(%(run_ids)s)", "run_uuid, key, step, timestamp, value"),
    ("latest_metrics", "run_uuid = ANY(%(run_ids)s)", "run_uuid, key"),
    ("inputs", "destination_type = 'RUN' AND destination_id = ANY(%(run_ids)s)", "destination_id, input_uuid"),
    ("input_tags", "input_uuid = ANY(%(input_ids)s)", "input_uuid, name"),
    ("datasets", "experiment_id = %(experiment_id)s", "name, digest"),
    ("logged_models", "experiment_id = %(experiment_id)s", "creation_timestamp_ms, model_id"),
    ("logged_model_params", "experiment_id = %(experiment_id)s", "model_id, param_key"),
    ("logged_model_tags", "experiment_id = %(experiment_id)s", "model_id, tag_key"),
)
# What an archive's counts cover, each counted straight from the tables (not from an export) to verify one.
ARCHIVE_COUNT_QUERIES = {
    "runs": "SELECT count(*) FROM runs WHERE experiment_id = %(experiment_id)s",
    "params": "SELECT count(*) FROM params p JOIN runs r USING (run_uuid) WHERE r.experiment_id = %(experiment_id)s",
    "tags": "SELECT count(*) FROM tags t JOIN runs r USING (run_uuid) WHERE r.experiment_id = %(experiment_id)s",
    "metrics": "SELECT count(*) FROM metrics m JOIN runs r USING (run_uuid) WHERE r.experiment_id = %(experiment_id)s",
    "latest_metrics": "SELECT count(*) FROM latest_metrics m JOIN runs r USING (run_uuid) "
    "WHERE r.experiment_id = %(experiment_id)s",
    "experiment_tags": "SELECT count(*) FROM experiment_tags WHERE experiment_id = %(experiment_id)s",
}


def rows_as_dicts(cursor: Any) -> list[dict[str, Any]]:
    """The fetched rows as {column: value}, every column as stored (whatever MLflow's schema revision has)."""
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def experiments_named(cursor: Any, names: list[str]) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
    """The experiments rows by name (deleted ones count), the names no experiment has, and the names several
    experiments have (one per MLflow workspace)."""
    found: dict[str, dict[str, Any]] = {}
    missing, ambiguous = [], []
    for name in names:
        cursor.execute("SELECT * FROM experiments WHERE name = %s ORDER BY experiment_id", (name,))
        rows = rows_as_dicts(cursor)
        if not rows:
            missing.append(name)
        elif len(rows) > 1:
            ambiguous.append(name)
        else:
            found[name] = rows[0]
    return found, missing, ambiguous


def experiment_rows(cursor: Any, experiment_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of EXPERIMENT_TABLES that belongs to the experiment, by table."""
    rows: dict[str, list[dict[str, Any]]] = {}
    values: dict[str, Any] = {"experiment_id": experiment_id, "run_ids": [], "input_ids": []}
    for table, where, order in EXPERIMENT_TABLES:
        if not table_exists(cursor, table):
            continue
        cursor.execute(
            sql.SQL("SELECT * FROM {} WHERE {} ORDER BY {}").format(
                sql.Identifier(table), sql.SQL(where), sql.SQL(order)
            ),
            values,
        )
        rows[table] = rows_as_dicts(cursor)
        if table == "runs":
            values["run_ids"] = [row["run_uuid"] for row in rows[table]]
        elif table == "inputs":
            values["input_ids"] = [row["input_uuid"] for row in rows[table]]
    return rows


def archive_counts(cursor: Any, experiment_id: int) -> dict[str, int]:
    """The experiment's runs, their params, tags, metric history and latest metrics, and its tags, counted."""
    counts = {}
    for name, query in ARCHIVE_COUNT_QUERIES.items():
        cursor.execute(query, {"experiment_id": experiment_id})
        counts[name] = int(cursor.fetchone()[0])
    return counts


def lock_experiment(cursor: Any, experiment_id: int) -> str | None:
    """Lock the experiment and its runs until commit: no run can be created in it, and nothing logged to its runs
    (their foreign-key checks wait), while it is compared with its archive and deleted. Its lifecycle stage, None
    when it no longer exists."""
    cursor.execute("SELECT lifecycle_stage FROM experiments WHERE experiment_id = %s FOR UPDATE", (experiment_id,))
    row = cursor.fetchone()
    if row is None:
        return None
    cursor.execute("SELECT run_uuid FROM runs WHERE experiment_id = %s ORDER BY run_uuid FOR UPDATE", (experiment_id,))
    return row[0]


def delete_experiment(cursor: Any, experiment_id: int, now_ms: int) -> int:
    """MLflow's delete_experiment: the experiment 'deleted' with last_update_time now, and every one of its runs
    (already deleted ones too, as MLflow lists them all) marked as delete_run marks it - lifecycle_stage 'deleted',
    deleted_time now, the assessments logged from it removed. How many runs were marked; 0 and nothing changed
    when the experiment is not active (MLflow refuses to delete it again)."""
    cursor.execute(
        "UPDATE experiments SET lifecycle_stage = %s, last_update_time = %s "
        "WHERE experiment_id = %s AND lifecycle_stage = %s",
        (DELETED, now_ms, experiment_id, ACTIVE),
    )
    if cursor.rowcount == 0:
        return 0
    cursor.execute("SELECT run_uuid FROM runs WHERE experiment_id = %s", (experiment_id,))
    run_ids = [row[0] for row in cursor.fetchall()]
    if run_ids and table_exists(cursor, "assessments"):
        patterns = ["%" + ASSESSMENT_SOURCE_RUN.format(run_id=run_id) + "%" for run_id in run_ids]
        cursor.execute("DELETE FROM assessments WHERE assessment_metadata LIKE ANY(%s)", (patterns,))
    cursor.execute(
        "UPDATE runs SET lifecycle_stage = %s, deleted_time = %s WHERE experiment_id = %s",
        (DELETED, now_ms, experiment_id),
    )
    return cursor.rowcount


def artifact_owners(cursor: Any) -> tuple[list[tuple[int, str | None]], Iterator[tuple[str, int, str | None]]]:
    """What may own objects in the artifact store: every experiment (id, artifact_location), and every run of any
    lifecycle stage (run_uuid, experiment_id, artifact_uri), the runs streamed from a server-side cursor so a
    large runs table is never held twice. Read the runs before the cursor's transaction ends."""
    cursor.execute("SELECT experiment_id, artifact_location FROM experiments ORDER BY experiment_id")
    experiments = [(int(row[0]), row[1]) for row in cursor.fetchall()]
    runs = cursor.connection.cursor(name="birtha_artifact_owners")
    runs.itersize = 10_000
    runs.execute("SELECT run_uuid, experiment_id, artifact_uri FROM runs")
    return experiments, ((row[0], row[1], row[2]) for row in runs)


def existing_runs(cursor: Any, run_ids: list[str]) -> set[str]:
    """The run ids of run_ids that are in the runs table (any lifecycle stage)."""
    cursor.execute("SELECT run_uuid FROM runs WHERE run_uuid = ANY(%s)", (run_ids,))
    return {row[0] for row in cursor.fetchall()}


def existing_experiments(cursor: Any, experiment_ids: list[int]) -> set[int]:
    """The experiment ids of experiment_ids that are in the experiments table (any lifecycle stage)."""
    cursor.execute("SELECT experiment_id FROM experiments WHERE experiment_id = ANY(%s)", (experiment_ids,))
    return {int(row[0]) for row in cursor.fetchall()}


def experiment_locations(cursor: Any, experiment_ids: list[int]) -> dict[int, tuple[str, int]]:
    """Each experiment's artifact location and how many runs it holds (any stage)."""
    cursor.execute(
        "SELECT e.experiment_id, e.artifact_location, count(r.run_uuid) FROM experiments e "
        "LEFT JOIN runs r ON r.experiment_id = e.experiment_id WHERE e.experiment_id = ANY(%s) GROUP BY 1, 2",
        (experiment_ids,),
    )
    return {int(exp): (location, int(runs)) for exp, location, runs in cursor.fetchall()}
