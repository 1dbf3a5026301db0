#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""A bulk purge: permanently delete runs deleted long enough ago, with their history and artifacts, as mlflow gc
would, in batches."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_purge
short_description: Permanently delete runs deleted N days ago, with artifacts (in MLflow's tables, not its API)
version_added: 0.5.0
description:
  - What C(mlflow gc --older-than Nd) does to runs, in batches - for every run in the C(deleted) lifecycle stage
    whose C(deleted_time) is at least O(older_than_days) days old, its artifacts are deleted from S3 (MinIO)
    and then its metrics (the whole history), latest metrics, params and tags, and the run itself are deleted
    from MLflow's tracking database. Rows that reference the run with C(ON DELETE CASCADE) or C(SET NULL) follow
    as they do under C(mlflow gc); dataset inputs are left, as C(mlflow gc) leaves them.
  - C(mlflow gc) fetches and deletes one run at a time, and deletes artifacts through the tracking server one
    request per file. This module locks a batch of O(batch_size) runs, lists their artifact directories
    concurrently (O(workers) requests in flight; where the batch holds a tenth or more of an experiment's runs, the
    experiment's directory is listed once instead), deletes the objects - on MinIO with an unversioned bucket each
    run's artifact directory in one request (C(x-minio-force-delete)), elsewhere 1000 keys a request (S3
    DeleteObjects) - then deletes the batch's rows with one statement per table and commits. A run restored (or
    restored and deleted again) meanwhile is left alone. A batch that fails keeps its rows - its runs stay deleted,
    not purged, though some of their artifacts may already be gone - and a re-run finishes them.
  - Artifact URIs C(mlflow-artifacts:/...) (the tracking server's proxy) are resolved under
    O(artifacts_destination); C(s3://) URIs are used as they are. Runs with artifacts anywhere else are left
    deleted, not purged (RV(not_purged)), unless O(purge_outside_s3). MLflow's workspaces (which add a prefix per
    workspace) are not supported.
  - Runs deleted before MLflow recorded C(deleted_time) (it is empty) are never chosen, as C(mlflow gc) never
    chooses them.
  - Deleted experiments and deleted logged models are left to C(mlflow gc).
  - Nothing is deleted unless O(confirm_purge=true). Check mode lists what would go, with object counts and bytes.
  - The database host must reach the S3 endpoint.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.attributes
options:
  database:
    description: MLflow's tracking database.
    required: true
  older_than_days:
    description: Runs deleted at least this many days ago (C(mlflow gc --older-than Nd)); V(0) means every deleted run.
    type: int
    required: true
  experiment_names:
    description: Only runs of these experiments. Every name must exist.
    type: list
    elements: str
  experiment_ids:
    description: Only runs of these experiments, by id. Every id must exist.
    type: list
    elements: str
  confirm_purge:
    description: Must be V(true) to delete anything; the runs cannot be restored afterwards (only from a backup).
    type: bool
    default: false
  artifacts_destination:
    description:
      - The tracking server's C(--artifacts-destination), under which C(mlflow-artifacts:/) URIs live.
      - Defaults to C(s3://<bucket>).
    type: str
  delete_artifacts:
    description: Delete the runs' artifacts. V(false) purges the database rows only (the objects become orphans).
    type: bool
    default: true
  purge_outside_s3:
    description:
      - Also purge runs whose artifact URI is not in S3 (C(file:), C(gs:), ...), leaving their artifacts where they
        are. By default such runs are left deleted but not purged and listed in RV(not_purged) - C(mlflow gc), run
        where it can reach them, deletes their artifacts.
    type: bool
    default: false
  directory_deletes:
    description:
      - On MinIO with an unversioned bucket, delete each run's artifact directory with one request
        (C(x-minio-force-delete)), after a probe on a throw-away directory showed the server honours it.
      - V(false), or any other S3 server, deletes the listed keys, 1000 a request.
    type: bool
    default: true
  batch_size:
    description: Runs purged per transaction.
    type: int
    default: 500
  workers:
    description: S3 listing requests in flight at once.
    type: int
    default: 8
  report_limit:
    description: How many purged runs to return in RV(runs) (all are counted).
    type: int
    default: 100
attributes:
  check_mode:
    support: full
    details: Lists the runs that would be purged and counts their objects and bytes; deletes no object and no row,
      and O(confirm_purge) is not needed.
  diff_mode:
    support: none
seealso:
  - module: birtha.mlflow.mlflow_retention
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Purge runs deleted more than 30 days ago
  birtha.mlflow.mlflow_purge:
    database: mlflow_db
    older_than_days: 30
    confirm_purge: true
    endpoint_url: http://minio.internal:9000
    access_key: "{{ mlflow_s3_access_key }}"
    secret_key: "{{ mlflow_s3_secret_key }}"
    bucket: mlflow-artifacts
  become: true
  become_user: postgres

- name: What would a purge of one experiment's deleted runs remove
  birtha.mlflow.mlflow_purge:
    database: mlflow_db
    older_than_days: 0
    experiment_names: [scratch]
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ mlflow_s3_access_key }}"
    secret_key: "{{ mlflow_s3_secret_key }}"
    bucket: mlflow-artifacts
  check_mode: true
  become: true
  become_user: postgres
"""

RETURN = r"""
count:
  description: Runs purged (in check mode, that would be).
  returned: always
  type: int
objects:
  description: Artifact objects deleted (would be).
  returned: always
  type: int
bytes:
  description: Bytes of those objects.
  returned: always
  type: int
rows:
  description: Database rows deleted per table (empty in check mode).
  returned: always
  type: dict
  sample: {metrics: 200000, latest_metrics: 4000, params: 6000, tags: 8000, runs: 2000}
runs:
  description:
    - The first O(report_limit) runs, oldest deletion first (run_id, experiment_id, name, deleted_time, artifact_uri).
  returned: always
  type: list
  elements: dict
not_purged:
  description: Runs left deleted but not purged because their artifacts are not in S3 (see O(purge_outside_s3)).
  returned: always
  type: list
  elements: dict
delete_mode:
  description:
    - How objects were deleted - C(directory) (MinIO, a request per run), C(keys) (1000 a request), both, or C(none).
  returned: always
  type: str
batches:
  description: Transactions committed.
  returned: always
  type: int
cutoff:
  description: Runs deleted before this time (ISO 8601 UTC) were chosen.
  returned: always
  type: str
seconds:
  description: Where the time went - choosing the runs, listing and deleting objects, deleting rows.
  returned: always
  type: dict
  sample: {select: 0.05, list: 0.4, delete_objects: 1.2, delete_rows: 0.9}
"""

import time
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.backends import PostgresS3Module
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_sql import (
    DELETED,
    RunSelection,
    experiment_ids_for,
    experiment_locations,
    hard_delete_runs,
    lock_deleted_runs,
    select_runs,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError
from ansible_collections.birtha.mlflow.plugins.module_utils.retention import (
    artifact_location,
    cutoff_ms,
    iso,
    now_ms,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    S3Location,
    chunks,
    delete_directories,
    delete_keys,
    list_many,
    list_within,
    minio_prefix_deleter,
)


def argument_spec() -> dict[str, Any]:
    return {
        "older_than_days": {"type": "int", "required": True},
        "experiment_names": {"type": "list", "elements": "str"},
        "experiment_ids": {"type": "list", "elements": "str"},
        "confirm_purge": {"type": "bool", "default": False},
        "artifacts_destination": {"type": "str"},
        "delete_artifacts": {"type": "bool", "default": True},
        "purge_outside_s3": {"type": "bool", "default": False},
        "directory_deletes": {"type": "bool", "default": True},
        "batch_size": {"type": "int", "default": 500},
        "workers": {"type": "int", "default": 8},
        "report_limit": {"type": "int", "default": 100},
    }


def group_by_experiment(runs: list[dict[str, Any]], by_run: dict[str, S3Location]) -> dict[int, list[S3Location]]:
    groups: dict[int, list[S3Location]] = {}
    for run in runs:
        if run["run_id"] in by_run:
            groups.setdefault(run["experiment_id"], []).append(by_run[run["run_id"]])
    return groups


class Purge:
    """One purge: choose the runs, then batch by batch lock them, list and delete their objects, delete their rows."""

    def __init__(self, module: AnsibleModule, client: Any, cutoff: int) -> None:
        self.module = module
        self.params = module.params
        self.client = client
        self.cutoff = cutoff
        self.destination = self.params["artifacts_destination"] or f"s3://{self.params['bucket']}"
        self.totals: dict[str, Any] = {"objects": 0, "bytes": 0, "rows": {}, "batches": 0, "modes": set()}
        self.experiments: dict[int, tuple[str, int]] = {}
        self.run_locations: dict[str, S3Location] = {}
        self.deleters: dict[str, Any] = {}
        self.seconds = {"select": 0.0, "list": 0.0, "delete_objects": 0.0, "delete_rows": 0.0}

    def choose(self, connection: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The runs to purge, and those left because their artifacts are not in S3 (unless purge_outside_s3)."""
        with connection.cursor() as cursor:
            experiment_ids = None
            names, ids = self.params["experiment_names"], self.params["experiment_ids"]
            if names is not None or ids is not None:
                found, missing = experiment_ids_for(cursor, names or [], ids or [])
                if missing:
                    self.module.fail_json(
                        msg=f"No such experiment: {', '.join(missing)} (experiment_names / experiment_ids); "
                        "nothing was purged."
                    )
                experiment_ids = tuple(sorted(set(found.values())))
            selection = RunSelection(DELETED, experiment_ids=experiment_ids, deleted_before_ms=self.cutoff)
            chosen = select_runs(cursor, selection, order="deleted_time")
            self.experiments = experiment_locations(cursor, sorted({run["experiment_id"] for run in chosen}))
        connection.commit()
        for run in chosen:
            location = artifact_location(run["artifact_uri"], self.destination)
            if location is not None:
                self.run_locations[run["run_id"]] = location
        if not self.params["delete_artifacts"] or self.params["purge_outside_s3"]:
            return chosen, []
        return (
            [run for run in chosen if run["run_id"] in self.run_locations],
            [run for run in chosen if run["run_id"] not in self.run_locations],
        )

    def objects_by_run(self, runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """The objects of each run's artifact directory. Where the runs are a tenth or more of their experiment's,
        the experiment's directory is listed once (a request per 1000 objects) instead of once per run."""
        if not self.params["delete_artifacts"]:
            return {}
        started = time.monotonic()
        by_run = {
            run["run_id"]: self.run_locations[run["run_id"]] for run in runs if run["run_id"] in self.run_locations
        }
        listed: dict[S3Location, list[dict[str, Any]]] = {}
        singles: list[S3Location] = []
        for experiment_id, group in group_by_experiment(runs, by_run).items():
            location, total = self.experiments.get(experiment_id, (None, 0))
            parent = artifact_location(location, self.destination)
            inside = parent is not None and all(
                loc.bucket == parent.bucket and loc.prefix.startswith(parent.prefix + "/") for loc in group
            )
            if inside and len(group) * 10 >= total:
                listed.update(list_within(self.client, parent, group))
            else:
                singles.extend(group)
        listed.update(list_many(self.client, singles, self.params["workers"]))
        self.seconds["list"] += time.monotonic() - started
        return {run_id: listed.get(location, []) for run_id, location in by_run.items()}

    def count(self, by_run: dict[str, list[dict[str, Any]]]) -> None:
        for items in by_run.values():
            self.totals["objects"] += len(items)
            self.totals["bytes"] += sum(item["Size"] for item in items)

    def deleter(self, bucket: str) -> Any:
        if not self.params["directory_deletes"]:
            return None
        if bucket not in self.deleters:
            self.deleters[bucket] = minio_prefix_deleter(self.params, bucket)
        return self.deleters[bucket]

    def delete_objects(self, by_run: dict[str, list[dict[str, Any]]]) -> None:
        """Delete the runs' objects: on MinIO each run's directory in one request, elsewhere 1000 keys a request;
        several requests in flight. Fails if S3 refused any."""
        started = time.monotonic()
        directories: dict[str, list[S3Location]] = {}
        keys: dict[str, list[str]] = {}
        for run_id, items in by_run.items():
            location = self.run_locations[run_id]
            if not items:
                continue
            if self.deleter(location.bucket) is not None:
                directories.setdefault(location.bucket, []).append(location)
            else:
                keys.setdefault(location.bucket, []).extend(item["Key"] for item in items)
        for bucket, locations in directories.items():
            delete_directories(self.deleter(bucket), locations, self.params["workers"])
            self.totals["modes"].add("directory")
        for bucket, bucket_keys in keys.items():
            errors = delete_keys(self.client, bucket, bucket_keys, self.params["workers"])
            self.totals["modes"].add("keys")
            if errors:
                raise RuntimeError(
                    f"S3 refused to delete {len(errors)} objects in bucket {bucket} (first: {errors[0]}); this "
                    "batch's rows were kept (its runs stay deleted, not purged) but some of their artifacts may "
                    "be gone - fix the access and run again to finish them"
                )
        self.seconds["delete_objects"] += time.monotonic() - started

    def batch(self, connection: Any, runs: list[dict[str, Any]]) -> None:
        """One transaction: lock the runs still deleted before the cutoff (a run restored meanwhile is left alone),
        list and delete their objects, then their rows, commit."""
        with connection.cursor() as cursor:
            run_ids = set(lock_deleted_runs(cursor, [run["run_id"] for run in runs], self.cutoff))
            locked = [run for run in runs if run["run_id"] in run_ids]
            by_run = self.objects_by_run(locked)
            self.count(by_run)
            self.delete_objects(by_run)
            started = time.monotonic()
            if locked:
                for table, count in hard_delete_runs(cursor, [run["run_id"] for run in locked]).items():
                    self.totals["rows"][table] = self.totals["rows"].get(table, 0) + count
            connection.commit()
            self.seconds["delete_rows"] += time.monotonic() - started
        self.totals["batches"] += 1

    def run(self, connection: Any) -> dict[str, Any]:
        started = time.monotonic()
        chosen, left = self.choose(connection)
        self.seconds["select"] = time.monotonic() - started
        if self.module.check_mode:
            self.count(self.objects_by_run(chosen))
        else:
            for runs in chunks(chosen, self.params["batch_size"]):
                self.batch(connection, runs)
        return {
            "changed": bool(chosen),
            "count": len(chosen) if self.module.check_mode else self.totals["rows"].get("runs", 0),
            "objects": self.totals["objects"],
            "bytes": self.totals["bytes"],
            "rows": self.totals["rows"],
            "runs": [shown_run(run) for run in chosen[: self.params["report_limit"]]],
            "not_purged": [shown_run(run) for run in left],
            "delete_mode": "+".join(sorted(self.totals["modes"])) or "none",
            "batches": self.totals["batches"],
            "cutoff": iso(self.cutoff),
            "seconds": {step: round(value, 3) for step, value in self.seconds.items()},
        }


def shown_run(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run["run_id"],
        "experiment_id": run["experiment_id"],
        "name": run["name"],
        "deleted_time": iso(run["deleted_time"]),
        "artifact_uri": run["artifact_uri"],
    }


def check_params(module: AnsibleModule) -> int:
    """The cutoff; fails on bad input before anything is read or deleted."""
    params = module.params
    if not module.check_mode and not params["confirm_purge"]:
        module.fail_json(
            msg="mlflow_purge deletes runs and their artifacts for good: set confirm_purge: true to go ahead, "
            "or run with --check to see what would go. Nothing was purged."
        )
    for option in ("batch_size", "workers"):
        if params[option] < 1:
            module.fail_json(msg=f"{option}={params[option]}: give 1 or more")
    try:
        return cutoff_ms(params["older_than_days"], None, now_ms(), "older_than_days", "older_than_days")
    except ValueError as exc:
        module.fail_json(msg=f"{exc}; nothing was purged.")


def main() -> None:
    module = PostgresS3Module(argument_spec(), supports_check_mode=True)
    cutoff = check_params(module)
    params = module.params
    try:
        with module.connection() as connection:
            result = Purge(module, module.s3, cutoff).run(connection)
    except PostgresError as exc:
        module.fail_postgres(
            exc,
            "An unfinished batch kept its rows (its runs stay deleted, not purged; some of their artifacts may be "
            "gone); a re-run finishes it.",
        )
    except Exception as exc:
        module.fail_json(
            msg=f"Purge failed: {exc}. Runs already committed are purged; the rest stay deleted and a re-run "
            f"finishes them (S3 endpoint {params['endpoint_url']}, bucket {params['bucket']}).",
            exception=traceback.format_exc(),
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
