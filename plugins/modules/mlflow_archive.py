#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Archive MLflow experiments to cold storage: metadata as JSON and artifacts copied server-side, a manifest with a
sha256 per object, verified against the database and the source bucket; then, only if asked, MLflow's
delete_experiment."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_archive
short_description: Archive MLflow experiments to cold storage, verified (in MLflow's tables, not through its API)
version_added: 0.5.0
description:
  - The runbook's Archival Procedures (archive old experiments, move them to cold storage) for the experiments
    named in O(experiment_names).
  - For each experiment, its metadata goes to C(<archive_prefix>experiments/<experiment id>/metadata.json) as JSON -
    the experiments row with its tags; every run with its info (the runs row), params, tags, full metric history
    and latest metrics, and dataset inputs; the experiment's datasets and logged models. Every column is exported
    as MLflow stores it, read in one consistent (repeatable read) snapshot.
  - Its artifacts - everything under the experiment's artifact location (runs, logged models, traces) and any run
    artifact directory elsewhere in S3 - are copied server-side (S3 copy, within MinIO) to
    C(<archive_prefix>objects/<source bucket>/<source key>). Each copy is read back and its sha256 compared with the
    source's; an object already there with the same bytes is not copied again, so an interrupted archive resumes.
  - Then the archive is verified - the metadata read back has the recorded sha256 and counts, the database has the
    same counts of runs, params, tags, metrics (history and latest) and experiment tags, and the source bucket
    holds exactly the archived objects with the same sizes - and only then C(<archive_prefix>manifest.json) is
    written. It lists per object the source key, archived key, size and sha256, and per experiment the counts and
    the metadata's sha256. A manifest present means the archive is complete.
  - Run again with the same O(archive_prefix), an experiment the manifest already lists is verified (every archived
    object and its source read back and compared) and nothing is written. An experiment that changed since it was
    archived (other counts, other objects) fails the task - archive its current state under a new prefix.
  - With O(delete_after=true) and O(confirm_delete=true), each verified experiment that is still active is then
    deleted exactly as MLflow's C(delete_experiment) deletes it (MLflow 3.17's SqlAlchemyStore) - the experiment's
    C(lifecycle_stage) becomes C(deleted) and C(last_update_time) now; every run of it is marked as
    C(delete_run) marks it (C(lifecycle_stage) C(deleted), C(deleted_time) now, the assessments logged from it
    removed). The experiment and its runs are locked meanwhile, and compared with the archive once more under the
    lock. Nothing else changes - MLflow's C(restore_experiment) (UI, API, M(birtha.mlflow.mlflow_experiment)
    C(state=restored)) brings it back with its runs until a purge removes them for good - C(playbooks/purge.yml)
    (M(birtha.mlflow.mlflow_purge)) its runs with their artifacts, C(mlflow gc) the experiment itself; from then on
    the archive is the way back.
  - The database host must reach the S3 endpoint. The S3 account must read the MLflow bucket and write
    (and, with O(create_bucket), create) O(archive_bucket) - MinIO's root account, or one with such a policy.
  - The metadata of one experiment is built in memory; an experiment with tens of millions of metric values needs
    memory to match.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.attributes
options:
  bucket:
    description: MLflow's artifact bucket (the source); an experiment's artifacts in other buckets are read there.
  database:
    description: MLflow's tracking database.
    required: true
  experiment_names:
    description: The experiments to archive, by name. Every one must exist (deleted experiments count).
    type: list
    elements: str
    required: true
  archive_bucket:
    description: The cold-storage bucket.
    type: str
    default: mlflow-archive
  archive_prefix:
    description:
      - Where in O(archive_bucket) this archive goes. Give the same prefix again to verify (and then delete) an
        archive made earlier.
      - Defaults to C(archive/<UTC time>/), for example V(archive/20261128T150000Z/).
    type: str
  create_bucket:
    description: Create O(archive_bucket) when it does not exist (otherwise fail).
    type: bool
    default: true
  artifacts_destination:
    description:
      - The tracking server's C(--artifacts-destination), under which C(mlflow-artifacts:/) URIs live.
      - Defaults to C(s3://<bucket>).
    type: str
  delete_after:
    description:
      - After the archive is verified, delete the experiments from MLflow (soft, as MLflow's C(delete_experiment)).
      - Needs O(confirm_delete=true).
    type: bool
    default: false
  confirm_delete:
    description: Must be V(true) with O(delete_after=true); a second switch so no single typo deletes anything.
    type: bool
    default: false
  workers:
    description: Objects copied and read back at once.
    type: int
    default: 8
attributes:
  check_mode:
    support: full
    details: Reads the experiments and any existing manifest and reports what would be archived (runs, objects,
      bytes), whether O(archive_bucket) is missing and which experiments would be deleted; copies, writes and
      deletes nothing, and O(confirm_delete) is not needed.
  diff_mode:
    support: none
notes:
  - Artifacts that are not in S3 (a C(file:) artifact location, for example) cannot be archived; they are listed in
    RV(artifacts_skipped) and the experiment is then not deleted.
seealso:
  - module: birtha.mlflow.mlflow_purge
  - module: birtha.mlflow.mlflow_storage_cleanup
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Archive two experiments to cold storage
  birtha.mlflow.mlflow_archive:
    database: mlflow_db
    experiment_names: [fraud-detection-2025, churn-baseline]
    archive_bucket: mlflow-archive
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ minio_server_root_user }}"
    secret_key: "{{ minio_server_root_password }}"
    bucket: mlflow-artifacts
  become: true
  become_user: postgres
  no_log: true
  register: archived

- name: Verify that archive again, then delete the experiments from MLflow (restorable until purged)
  birtha.mlflow.mlflow_archive:
    database: mlflow_db
    experiment_names: [fraud-detection-2025, churn-baseline]
    archive_prefix: "{{ archived.archive_prefix }}"
    delete_after: true
    confirm_delete: true
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ minio_server_root_user }}"
    secret_key: "{{ minio_server_root_password }}"
    bucket: mlflow-artifacts
  become: true
  become_user: postgres
  no_log: true
"""

RETURN = r"""
archive_bucket:
  description: The cold-storage bucket.
  returned: always
  type: str
  sample: mlflow-archive
archive_prefix:
  description: The archive's prefix in it.
  returned: always
  type: str
  sample: archive/20261128T150000Z/
manifest_key:
  description: The manifest's key.
  returned: always
  type: str
  sample: archive/20261128T150000Z/manifest.json
manifest:
  description: The manifest as written to (or found in) the archive.
  returned: when not in check mode
  type: dict
  sample:
    format: birtha.mlflow.archive/1
    experiments:
      - {experiment_id: 4, name: churn-baseline, metadata_sha256: 5e88..., objects: 12, bytes: 40960,
         counts: {runs: 3, params: 6, tags: 21, metrics: 300, latest_metrics: 6, experiment_tags: 1}}
    objects:
      - {experiment_id: 4, source_bucket: mlflow-artifacts, source_key: 4/0f3c.../artifacts/model.pkl,
         archived_key: archive/20261128T150000Z/objects/mlflow-artifacts/4/0f3c.../artifacts/model.pkl,
         size: 4096, sha256: 9f86...}
experiments:
  description:
    - Per experiment - name, experiment_id, lifecycle_stage (before this run), archive (V(archived) now,
      V(already archived), or V(would archive) in check mode), the counts, objects and bytes, and deleted
      (V(true), V(false), or V(would delete) in check mode).
  returned: always
  type: list
  elements: dict
totals:
  description: Experiments, runs, objects and bytes archived (or that would be), and objects and bytes copied now.
  returned: always
  type: dict
  sample: {experiments: 2, runs: 5, objects: 20, bytes: 81920, copied_objects: 20, copied_bytes: 81920}
verified:
  description: Whether the archive was verified against the database and the source bucket (false in check mode).
  returned: always
  type: bool
bucket_created:
  description: Whether O(archive_bucket) was created (or would be, in check mode).
  returned: always
  type: bool
deleted:
  description: Names of the experiments deleted from MLflow now (or that would be, in check mode).
  returned: always
  type: list
  elements: str
artifacts_skipped:
  description: Artifact URIs of the experiments that are not in S3 and so are not in the archive.
  returned: always
  type: list
  elements: str
"""

import json
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.archive_manifest import (
    archived_key,
    build_manifest,
    count_differences,
    default_prefix,
    document_counts,
    experiment_document,
    experiment_entry,
    json_bytes,
    manifest_key,
    manifest_problems,
    metadata_key,
    normalise_prefix,
    object_differences,
    sha256_hex,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.backends import PostgresS3Module
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_sql import (
    ACTIVE,
    archive_counts,
    delete_experiment,
    experiment_rows,
    experiments_named,
    lock_experiment,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError
from ansible_collections.birtha.mlflow.plugins.module_utils.retention import artifact_location, iso, now_ms
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    S3Location,
    bucket_exists,
    bucket_location,
    list_under,
    object_digest,
    object_digest_if_exists,
    read_object,
)


class ArchiveError(Exception):
    """A reason to stop, in words that say what to do."""


def argument_spec() -> dict[str, Any]:
    return {
        "experiment_names": {"type": "list", "elements": "str", "required": True},
        "archive_bucket": {"type": "str", "default": "mlflow-archive"},
        "archive_prefix": {"type": "str"},
        "create_bucket": {"type": "bool", "default": True},
        "artifacts_destination": {"type": "str"},
        "delete_after": {"type": "bool", "default": False},
        "confirm_delete": {"type": "bool", "default": False},
        "workers": {"type": "int", "default": 8},
    }


@dataclass
class Plan:
    """One experiment as the database and the source bucket have it now."""

    experiment: dict[str, Any]
    metadata: bytes
    counts: dict[str, int]
    locations: list[S3Location]
    objects: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def experiment_id(self) -> int:
        return int(self.experiment["experiment_id"])

    @property
    def name(self) -> str:
        return str(self.experiment["name"])


class Archive:
    """One archive run: read, (copy, verify, write the manifest), (delete)."""

    def __init__(self, module: AnsibleModule, client: Any, prefix: str) -> None:
        self.module = module
        self.params = module.params
        self.client = client
        self.prefix = prefix
        self.bucket = self.params["archive_bucket"]
        self.destination = self.params["artifacts_destination"] or f"s3://{self.params['bucket']}"
        self.copied = {"objects": 0, "bytes": 0}
        self.wrote = False
        self.deleted: list[str] = []

    # Reading what there is.

    def resolve(self, connection: Any) -> list[dict[str, Any]]:
        names = list(dict.fromkeys(self.params["experiment_names"]))
        with connection.cursor() as cursor:
            found, missing, ambiguous = experiments_named(cursor, names)
        connection.commit()
        if missing:
            raise ArchiveError(
                "No such experiment: "
                + ", ".join(repr(name) for name in missing)
                + " (experiment_names / archive_experiments). Check the spelling with "
                "birtha.mlflow.mlflow_experiment_info (view_type: all); nothing was archived or deleted."
            )
        if ambiguous:
            raise ArchiveError(
                f"Several experiments (one per MLflow workspace) are named {', '.join(map(repr, ambiguous))}; "
                "this module archives by unique name only. Nothing was archived or deleted."
            )
        return [found[name] for name in names]

    def snapshot(self, connection: Any, experiment: dict[str, Any]) -> Plan:
        """The experiment's metadata and counts from one consistent snapshot, then its objects in S3."""
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            rows = experiment_rows(cursor, int(experiment["experiment_id"]))
            counted = archive_counts(cursor, int(experiment["experiment_id"]))
        connection.commit()
        document = experiment_document(experiment, rows)
        counts = document_counts(document)
        if counts != counted:
            raise ArchiveError(
                f"experiment {experiment['name']!r}: the export does not match the database's own counts "
                f"({'; '.join(count_differences('export', counts, 'database', counted))}); nothing was archived"
            )
        plan = Plan(experiment, json_bytes(document), counts, [])
        uris = [experiment.get("artifact_location")] + [run["artifact_uri"] for run in rows.get("runs", [])]
        for uri in uris:
            location = artifact_location(uri, self.destination)
            if location is None:
                if uri:
                    plan.skipped.append(uri)
            elif not any(covers(home, location) for home in plan.locations):
                plan.locations.append(location)
        plan.objects = self.list_source(plan)
        return plan

    def list_source(self, plan: Plan) -> list[dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for location in plan.locations:
            for item in list_under(self.client, location):
                found[(location.bucket, item["Key"])] = {
                    "experiment_id": plan.experiment_id,
                    "source_bucket": location.bucket,
                    "source_key": item["Key"],
                    "size": int(item["Size"]),
                }
        return [found[key] for key in sorted(found)]

    def read_manifest(self) -> dict[str, Any] | None:
        if not bucket_exists(self.client, self.bucket):
            return None
        data = read_object(self.client, self.bucket, manifest_key(self.prefix))
        if data is None:
            return None
        try:
            manifest = json.loads(data)
        except ValueError:
            manifest = {}
        problems = manifest_problems(manifest, self.prefix) if isinstance(manifest, dict) else ["not a JSON object"]
        if problems:
            raise ArchiveError(
                f"s3://{self.bucket}/{manifest_key(self.prefix)} is not a usable archive manifest "
                f"({'; '.join(problems[:5])}); give another archive_prefix. Nothing was archived or deleted."
            )
        return manifest

    # Writing the archive.

    def copy_one(self, item: dict[str, Any]) -> dict[str, Any]:
        """Copy one object server-side unless the archive has the same bytes already; both read back."""
        source_sha, source_size = object_digest(self.client, item["source_bucket"], item["source_key"])
        key = archived_key(self.prefix, item["source_bucket"], item["source_key"])
        found = object_digest_if_exists(self.client, self.bucket, key)
        copied = False
        if found != (source_sha, source_size):
            # Managed copy: CopyObject, or UploadPartCopy above the multipart threshold - the bytes stay in MinIO.
            self.client.copy({"Bucket": item["source_bucket"], "Key": item["source_key"]}, self.bucket, key)
            found = object_digest(self.client, self.bucket, key)
            copied = True
        if found != (source_sha, source_size):
            raise ArchiveError(
                f"the copy of s3://{item['source_bucket']}/{item['source_key']} reads back as {found}, the source "
                f"as ({source_sha}, {source_size}): it changed meanwhile or the copy is damaged; run again"
            )
        return {**item, "archived_key": key, "sha256": source_sha, "size": source_size, "copied": copied}

    def put_checked(self, key: str, data: bytes) -> None:
        """Write data unless it is there already, then read it back."""
        if read_object(self.client, self.bucket, key) == data:
            return
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")
        self.wrote = True
        if read_object(self.client, self.bucket, key) != data:
            raise ArchiveError(f"s3://{self.bucket}/{key} does not read back as written; run again")

    def archive(self, plan: Plan) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with ThreadPoolExecutor(max_workers=max(1, self.params["workers"])) as pool:
            done = list(pool.map(self.copy_one, plan.objects))
        for item in done:
            if item.pop("copied"):
                self.copied["objects"] += 1
                self.copied["bytes"] += item["size"]
        self.put_checked(metadata_key(self.prefix, plan.experiment_id), plan.metadata)
        return experiment_entry(plan.experiment, plan.metadata, plan.counts, self.prefix, plan.objects), done

    # Verifying it.

    def verify_object(self, item: dict[str, Any]) -> list[str]:
        """An archived object and its source, both read back: present, the recorded size and sha256."""
        want = (item["sha256"], int(item["size"]))
        problems = []
        archived = object_digest_if_exists(self.client, self.bucket, item["archived_key"])
        if archived != want:
            problems.append(f"s3://{self.bucket}/{item['archived_key']} is {archived or 'missing'}, not {want}")
        source = object_digest_if_exists(self.client, item["source_bucket"], item["source_key"])
        if source != want:
            problems.append(f"s3://{item['source_bucket']}/{item['source_key']} is {source or 'missing'}, not {want}")
        return problems

    def verify(
        self, connection: Any, plan: Plan, entry: dict[str, Any], objects: list[dict[str, Any]], fresh: bool
    ) -> list[str]:
        """The archive of one experiment against itself, the database and the source bucket. Objects copied in this
        run were read back already (fresh); the others are read again."""
        label = f"experiment {plan.name!r}"
        data = read_object(self.client, self.bucket, entry["metadata_key"])
        if data is None or sha256_hex(data) != entry["metadata_sha256"]:
            return [f"{label}: the archived metadata is missing or not the recorded sha256"]
        problems = count_differences(
            "manifest", entry["counts"], "archived metadata", document_counts(json.loads(data))
        )
        with connection.cursor() as cursor:
            counted = archive_counts(cursor, plan.experiment_id)
        connection.commit()
        problems += count_differences("archive", entry["counts"], "database", counted)
        problems += object_differences(objects, self.list_source(plan))
        if len(objects) != entry["objects"] or sum(int(item["size"]) for item in objects) != entry["bytes"]:
            problems.append("the manifest's object list does not add up to its totals")
        if not fresh:
            with ThreadPoolExecutor(max_workers=max(1, self.params["workers"])) as pool:
                for found in pool.map(self.verify_object, objects):
                    problems += found
        return [f"{label}: {problem}" for problem in problems]

    # Deleting from MLflow.

    def delete(self, connection: Any, plan: Plan, entry: dict[str, Any], objects: list[dict[str, Any]]) -> int | None:
        """MLflow's delete_experiment under a lock, once the experiment still matches its archive; the runs marked,
        None when it is not active (deleted before)."""
        with connection.cursor() as cursor:
            if lock_experiment(cursor, plan.experiment_id) != ACTIVE:
                connection.rollback()
                return None
            problems = count_differences(
                "archive", entry["counts"], "database", archive_counts(cursor, plan.experiment_id)
            )
            problems += object_differences(objects, self.list_source(plan))
            if problems:
                connection.rollback()
                raise ArchiveError(
                    f"experiment {plan.name!r} changed after it was verified ({'; '.join(problems[:5])}); it was not "
                    "deleted. Archive its current state under a new archive_prefix."
                )
            runs = delete_experiment(cursor, plan.experiment_id, now_ms())
        connection.commit()
        return runs

    # The whole run.

    def run(self, connection: Any) -> dict[str, Any]:
        plans = [self.snapshot(connection, experiment) for experiment in self.resolve(connection)]
        manifest = self.read_manifest()
        listed = {entry["experiment_id"]: entry for entry in (manifest or {}).get("experiments", [])}
        listed_objects = list((manifest or {}).get("objects", []))
        for plan in plans:
            if plan.experiment_id in listed:
                self.check_unchanged(plan, listed[plan.experiment_id], listed_objects)
        delete = self.params["delete_after"]
        if delete:
            self.refuse_incomplete(plans)
        if self.module.check_mode:
            return self.preview(plans, listed)
        bucket_created = self.ensure_bucket()
        entries, objects, fresh = dict(listed), list(listed_objects), set()
        for plan in plans:
            if plan.experiment_id not in listed:
                entries[plan.experiment_id], done = self.archive(plan)
                objects = [item for item in objects if item["experiment_id"] != plan.experiment_id] + done
                fresh.add(plan.experiment_id)
        problems = []
        for plan in plans:
            own = [item for item in objects if item["experiment_id"] == plan.experiment_id]
            problems += self.verify(connection, plan, entries[plan.experiment_id], own, plan.experiment_id in fresh)
        if problems:
            raise ArchiveError(
                f"The archive under s3://{self.bucket}/{self.prefix} does not verify: {'; '.join(problems[:10])}"
                f"{' ...' if len(problems) > 10 else ''}. No manifest was written and nothing was deleted; run again."
            )
        if fresh:
            manifest = self.write_manifest(manifest, list(entries.values()), objects)
        for plan in plans if delete else []:
            own = [item for item in objects if item["experiment_id"] == plan.experiment_id]
            if self.delete(connection, plan, entries[plan.experiment_id], own) is not None:
                self.deleted.append(plan.name)
        return self.result(plans, listed, manifest, bucket_created, self.deleted)

    def check_unchanged(self, plan: Plan, entry: dict[str, Any], listed_objects: list[dict[str, Any]]) -> None:
        own = [item for item in listed_objects if item["experiment_id"] == plan.experiment_id]
        problems = count_differences("archived", entry["counts"], "now", plan.counts)
        problems += object_differences(own, plan.objects)
        if problems:
            raise ArchiveError(
                f"experiment {plan.name!r} no longer matches its archive under s3://{self.bucket}/{self.prefix} "
                f"({'; '.join(problems[:5])}): it changed (or was purged) after it was archived. Archive its current "
                "state under a new archive_prefix. Nothing was archived or deleted."
            )

    def refuse_incomplete(self, plans: list[Plan]) -> None:
        incomplete = [f"{plan.name!r} ({', '.join(plan.skipped)})" for plan in plans if plan.skipped]
        if incomplete:
            raise ArchiveError(
                "Artifacts outside S3 cannot be archived, so these experiments would not be complete in the archive: "
                f"{'; '.join(incomplete)}. Archive them without delete_after. Nothing was archived or deleted."
            )

    def ensure_bucket(self) -> bool:
        if bucket_exists(self.client, self.bucket):
            return False
        if not self.params["create_bucket"]:
            raise ArchiveError(
                f"The archive bucket {self.bucket} does not exist: create it, or set create_bucket: true. "
                "Nothing was archived."
            )
        self.client.create_bucket(Bucket=self.bucket, **bucket_location(self.params["region"]))
        self.wrote = True
        return True

    def write_manifest(
        self, previous: dict[str, Any] | None, entries: list[dict[str, Any]], objects: list[dict[str, Any]]
    ) -> dict[str, Any]:
        now = iso(now_ms())
        source = {
            "database": self.params["database"],
            "bucket": self.params["bucket"],
            "artifacts_destination": self.destination,
            "endpoint_url": self.params["endpoint_url"],
        }
        manifest = build_manifest(
            self.prefix, self.bucket, source, (previous or {}).get("created", now), entries, objects
        )
        manifest["verified"] = now
        self.put_checked(manifest_key(self.prefix), json_bytes(manifest))
        return manifest

    def preview(self, plans: list[Plan], listed: dict[int, dict[str, Any]]) -> dict[str, Any]:
        bucket_missing = not bucket_exists(self.client, self.bucket)
        would = [plan for plan in plans if plan.experiment_id not in listed]
        deleting = [
            p.name for p in plans if self.params["delete_after"] and p.experiment.get("lifecycle_stage") == ACTIVE
        ]
        result = self.result(plans, listed, None, bucket_missing, deleting)
        result["changed"] = bool(would or deleting or bucket_missing)
        return result

    def result(
        self,
        plans: list[Plan],
        listed: dict[int, dict[str, Any]],
        manifest: dict[str, Any] | None,
        bucket_created: bool,
        deleted: list[str],
    ) -> dict[str, Any]:
        check = self.module.check_mode
        shown = []
        for plan in plans:
            state = "already archived" if plan.experiment_id in listed else ("would archive" if check else "archived")
            shown.append(
                {
                    "name": plan.name,
                    "experiment_id": plan.experiment_id,
                    "lifecycle_stage": plan.experiment.get("lifecycle_stage"),
                    "archive": state,
                    **plan.counts,
                    "objects": len(plan.objects),
                    "bytes": sum(item["size"] for item in plan.objects),
                    "deleted": ("would delete" if check else True) if plan.name in deleted else False,
                }
            )
        result: dict[str, Any] = {
            "changed": bool(self.wrote or self.copied["objects"] or deleted),
            "archive_bucket": self.bucket,
            "archive_prefix": self.prefix,
            "manifest_key": manifest_key(self.prefix),
            "experiments": shown,
            "totals": {
                "experiments": len(plans),
                "runs": sum(plan.counts["runs"] for plan in plans),
                "objects": sum(len(plan.objects) for plan in plans),
                "bytes": sum(item["size"] for plan in plans for item in plan.objects),
                "copied_objects": self.copied["objects"],
                "copied_bytes": self.copied["bytes"],
            },
            "verified": not check,
            "bucket_created": bucket_created,
            "deleted": deleted,
            "artifacts_skipped": sorted({uri for plan in plans for uri in plan.skipped}),
        }
        if manifest is not None:
            result["manifest"] = manifest
        return result


def covers(home: S3Location, location: S3Location) -> bool:
    """Whether location lies in home (the same directory or below it), so listing home lists it too."""
    return home.bucket == location.bucket and (
        location.prefix == home.prefix or location.prefix.startswith(home.prefix.rstrip("/") + "/")
    )


def check_params(module: AnsibleModule) -> str:
    """The archive prefix; fails on bad input before anything is read or written."""
    params = module.params
    if params["delete_after"] and not params["confirm_delete"] and not module.check_mode:
        module.fail_json(
            msg="delete_after: true deletes the experiments from MLflow after archiving them: set confirm_delete: "
            "true as well to go ahead (they stay restorable until purged), or leave delete_after off to archive "
            "only. Nothing was archived or deleted."
        )
    if not params["experiment_names"]:
        module.fail_json(msg="experiment_names is empty: name the experiments to archive. Nothing was archived.")
    if params["workers"] < 1:
        module.fail_json(msg=f"workers={params['workers']}: give 1 or more")
    if params["archive_bucket"] == params["bucket"]:
        module.fail_json(
            msg=f"archive_bucket={params['archive_bucket']} is MLflow's own bucket: give a separate cold-storage "
            "bucket (default mlflow-archive). Nothing was archived."
        )
    if params["archive_prefix"] is None:
        return default_prefix(datetime.now(UTC))
    try:
        return normalise_prefix(params["archive_prefix"])
    except ValueError as exc:
        module.fail_json(msg=f"{exc}. Nothing was archived.")


def main() -> None:
    module = PostgresS3Module(argument_spec(), supports_check_mode=True)
    prefix = check_params(module)
    params = module.params
    archive = Archive(module, module.s3, prefix)
    try:
        with module.connection() as connection:
            result = archive.run(connection)
    except ArchiveError as exc:
        module.fail_json(msg=str(exc) + already_deleted(archive), archive_prefix=prefix, deleted=archive.deleted)
    except PostgresError as exc:
        module.fail_postgres(
            exc,
            "An unfinished deletion was rolled back." + already_deleted(archive),
            archive_prefix=prefix,
            deleted=archive.deleted,
        )
    except Exception as exc:
        module.fail_json(
            msg=f"Archive failed: {exc} (S3 endpoint {params['endpoint_url']}, source bucket {params['bucket']}, "
            f"archive s3://{params['archive_bucket']}/{prefix}). No manifest is written before everything verifies; "
            "run again with the same archive_prefix to resume." + already_deleted(archive),
            archive_prefix=prefix,
            deleted=archive.deleted,
            exception=traceback.format_exc(),
        )
    module.exit_json(**result)


def already_deleted(archive: Archive) -> str:
    if not archive.deleted:
        return ""
    return (
        f" Archived, verified and deleted from MLflow before this (restorable until purged): "
        f"{', '.join(archive.deleted)}."
    )


if __name__ == "__main__":
    main()
