#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Find the artifacts in MLflow's bucket that belong to no run in the tracking database, report them, and delete
them only when asked - conservatively."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_storage_cleanup
short_description: Report (or delete) artifacts that belong to no run (reads MLflow's tables, not its API)
version_added: 0.5.0
description:
  - The runbook's Storage Optimization (clean up old artifacts) for the artifacts nothing in MLflow refers to any
    more - left by runs removed from the database without their artifacts, or by experiments that are gone.
  - Lists the bucket (or the O(prefixes) given) first and reads the tracking database afterwards, so a run created
    while the bucket is listed is in what is read. Each key is then classified by MLflow 3's layout under an
    experiment's artifact location C(<location>/<run id>/artifacts/...), C(<location>/models/<model id>/...)
    (logged models), C(<location>/traces/<trace id>/...) (traces).
  - Only a directory C(<experiment location>/<32 hex digits>/) whose run id is in no row of the C(runs) table (any
    lifecycle stage) is an orphan - under the location of an existing experiment, or under
    C(<artifact root>/<experiment id>/) of an experiment that no longer exists in the C(experiments) table.
    Anything under a run's C(artifact_uri) belongs to that run.
  - Never an orphan - logged models' and traces' folders (whatever their rows say; MLflow's own C(gc) manages
    them), and any key of another shape, which is reported in RV(unrecognised) and left alone.
  - An orphan with any object modified less than O(min_age_hours) ago (or at or after O(modified_before)) is left
    alone and reported in RV(young) - an upload may be in flight before its run row commits.
  - Deletes only with O(delete=true) and O(confirm_delete=true), and then only the keys it listed - after asking the
    database once more whether their runs or experiments exist now. There is no way back but a backup
    (C(playbooks/backup.yml)); report first.
  - After the database was restored from a backup older than the bucket, runs logged since then have artifacts but no
    rows - they show as orphans. Restore the bucket from the same backup set, or do not delete then.
  - The database host must reach the S3 endpoint. MLflow's own S3 account suffices.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.s3
  - birtha.mlflow.mlflow.attributes
options:
  bucket:
    description: MLflow's artifact bucket (the tracking server's C(--artifacts-destination)).
  database:
    description: MLflow's tracking database.
    required: true
  artifacts_destination:
    description:
      - The tracking server's C(--artifacts-destination), under which C(mlflow-artifacts:/) URIs and the default
        experiment locations (C(<root>/<experiment id>)) live.
      - Defaults to C(s3://<bucket>).
    type: str
  prefixes:
    description:
      - Look only at keys under these prefixes (for example one experiment's V(7/)). Empty looks at the whole bucket.
    type: list
    elements: str
    default: []
  min_age_hours:
    description: Leave alone an orphan with any object modified less than this many hours ago.
    type: float
    default: 24
  modified_before:
    description:
      - Also leave alone an orphan with any object modified at or after this time (V(2026-11-28T12:00:00), UTC unless
        an offset is given) - for example the time of the last backup. The earlier of the two cutoffs applies.
    type: str
  delete:
    description: Delete the orphans' objects. Needs O(confirm_delete=true).
    type: bool
    default: false
  confirm_delete:
    description: Must be V(true) with O(delete=true); there is no way back but a backup.
    type: bool
    default: false
  report_limit:
    description: How many prefixes to return in each list (all are counted in RV(totals)).
    type: int
    default: 100
attributes:
  check_mode:
    support: full
    details: Lists the bucket and reads the database as usual; with O(delete), reports the orphans that would be
      deleted (C(changed) when there are any) and deletes nothing, and O(confirm_delete) is not needed.
  diff_mode:
    support: none
seealso:
  - module: birtha.mlflow.mlflow_purge
  - module: birtha.mlflow.mlflow_archive
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Report artifacts that belong to no run
  birtha.mlflow.mlflow_storage_cleanup:
    database: mlflow_db
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ platform_mlflow_s3_access_key }}"
    secret_key: "{{ mlflow_server_s3_secret_key }}"
    bucket: mlflow-artifacts
  become: true
  become_user: postgres
  no_log: true
  register: orphaned

- name: Delete them (older than two days)
  birtha.mlflow.mlflow_storage_cleanup:
    database: mlflow_db
    min_age_hours: 48
    delete: true
    confirm_delete: true
    endpoint_url: http://127.0.0.1:9000
    access_key: "{{ platform_mlflow_s3_access_key }}"
    secret_key: "{{ mlflow_server_s3_secret_key }}"
    bucket: mlflow-artifacts
  become: true
  become_user: postgres
  no_log: true
"""

RETURN = r"""
orphans:
  description:
    - The first O(report_limit) orphan prefixes old enough to delete (deleted when O(delete=true)) - prefix,
      objects, bytes, reason, newest (the latest modification, ISO 8601 UTC), run_id, experiment_id.
  returned: always
  type: list
  elements: dict
  sample:
    - {prefix: 3/5d41402abc4b2a76b9719d911017c592/, objects: 4, bytes: 10240, newest: "2026-10-01T08:00:00+00:00",
       reason: run 5d41402abc4b2a76b9719d911017c592 is not in the runs table (experiment 3),
       run_id: 5d41402abc4b2a76b9719d911017c592, experiment_id: 3}
young:
  description: Orphan prefixes left alone because an object of theirs is newer than the cutoff.
  returned: always
  type: list
  elements: dict
unrecognised:
  description: Prefixes of keys that fit no MLflow layout, left alone (prefix, objects, bytes, reason, newest).
  returned: always
  type: list
  elements: dict
protected:
  description: Logged models' and traces' folders, never touched here (prefix, objects, bytes, reason, newest).
  returned: always
  type: list
  elements: dict
totals:
  description:
    - Objects and bytes scanned, of live runs, orphan (old enough), young, unrecognised, protected, and deleted now;
      orphan prefixes.
  returned: always
  type: dict
  sample: {scanned_objects: 1200, scanned_bytes: 73400320, live_objects: 1180, live_bytes: 73000000,
           orphan_prefixes: 2, orphan_objects: 8, orphan_bytes: 20480, young_objects: 0, young_bytes: 0,
           unrecognised_objects: 12, unrecognised_bytes: 379840, protected_objects: 0, protected_bytes: 0,
           deleted_objects: 0, deleted_bytes: 0}
summary:
  description: What was found, in words - a line of totals, then one line per reported prefix.
  returned: always
  type: list
  elements: str
  sample:
    - "Would delete 1 orphan prefixes: 4 objects (10.0 KiB) of 1200 scanned, modified before 2026-11-27T12:00:00+00:00"
    - "orphan: 3/5d41402abc4b2a76b9719d911017c592/ - 4 objects (10.0 KiB), run 5d41... is not in the runs table"
deleted:
  description: Whether the orphans were deleted now.
  returned: always
  type: bool
cutoff:
  description: Objects modified before this time (ISO 8601 UTC) count as old enough.
  returned: always
  type: str
"""

import traceback
from typing import Any
from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.artifact_layout import (
    ORPHAN,
    PROTECTED,
    UNRECOGNISED,
    BucketIndex,
    PrefixTally,
    Tally,
    build_index,
    split_by_age,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.backends import PostgresS3Module
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_sql import (
    artifact_owners,
    existing_experiments,
    existing_runs,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError
from ansible_collections.birtha.mlflow.plugins.module_utils.retention import (
    artifact_location,
    iso,
    now_ms,
    parse_date,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import (
    delete_keys,
    list_objects,
)

HOUR_MS = 3_600_000


def argument_spec() -> dict[str, Any]:
    return {
        "artifacts_destination": {"type": "str"},
        "prefixes": {"type": "list", "elements": "str", "default": []},
        "min_age_hours": {"type": "float", "default": 24},
        "modified_before": {"type": "str"},
        "delete": {"type": "bool", "default": False},
        "confirm_delete": {"type": "bool", "default": False},
        "report_limit": {"type": "int", "default": 100},
    }


def listing(client: Any, bucket: str, prefixes: list[str]) -> list[dict[str, Any]]:
    """Key, Size and LastModified (ms) of every object under the prefixes (the whole bucket without any), once."""
    found: dict[str, dict[str, Any]] = {}
    for prefix in prefixes or [""]:
        for item in list_objects(client, bucket, prefix):
            modified = int(item["LastModified"].timestamp() * 1000)
            found[item["Key"]] = {"Key": item["Key"], "Size": int(item.get("Size", 0)), "LastModified": modified}
    return list(found.values())


def destination_root(destination: str, bucket: str) -> str | None:
    """The key prefix in the bucket under which MLflow puts experiments by id ('' for the bucket's top), or None when
    the artifacts destination is elsewhere (then no key is taken for a gone experiment's)."""
    parsed = urlparse(destination)
    return parsed.path.strip("/") if parsed.scheme == "s3" and parsed.netloc == bucket else None


def read_index(connection: Any, bucket: str, destination: str) -> BucketIndex:
    """What the database says owns keys in the bucket: every experiment's location, every run's id and location."""
    with connection.cursor() as cursor:
        experiments, runs = artifact_owners(cursor)
        index = build_index(
            bucket,
            destination_root(destination, bucket),
            ((experiment_id, artifact_location(uri, destination)) for experiment_id, uri in experiments),
            ((run_id, experiment_id, artifact_location(uri, destination)) for run_id, experiment_id, uri in runs),
        )
    connection.commit()
    return index


def still_orphaned(connection: Any, orphans: list[PrefixTally]) -> tuple[list[PrefixTally], list[PrefixTally]]:
    """The orphans whose run (and, for a gone experiment, experiment) still does not exist, asked again right before
    deleting; and those that exist now."""
    with connection.cursor() as cursor:
        runs = existing_runs(cursor, [orphan.verdict.run_id for orphan in orphans if orphan.verdict.run_id])
        gone = [o.verdict.experiment_id for o in orphans if o.verdict.gone and o.verdict.experiment_id is not None]
        experiments = existing_experiments(cursor, gone)
    connection.commit()
    keep, appeared = [], []
    for orphan in orphans:
        now_known = orphan.verdict.run_id in runs or (
            orphan.verdict.gone and orphan.verdict.experiment_id in experiments
        )
        (appeared if now_known else keep).append(orphan)
    return keep, appeared


def delete_orphans(client: Any, bucket: str, orphans: list[PrefixTally]) -> tuple[int, int]:
    keys = [key for orphan in orphans for key in orphan.keys]
    errors = delete_keys(client, bucket, keys)
    if errors:
        raise RuntimeError(
            f"S3 refused to delete {len(errors)} of {len(keys)} objects in bucket {bucket} (first: {errors[0]}); "
            "check the account's DeleteObject permission and run again"
        )
    return len(keys), sum(orphan.bytes for orphan in orphans)


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def summary(verb: str, totals: dict[str, int], groups: list[tuple[str, list[PrefixTally]]], cutoff: int) -> list[str]:
    """The result in words: the totals, then one line per reported prefix."""
    lines = [
        f"{verb} {totals['orphan_prefixes']} orphan prefixes: {totals['orphan_objects']} objects "
        f"({human(totals['orphan_bytes'])}) of {totals['scanned_objects']} scanned, modified before {iso(cutoff)}"
    ]
    for label, found in groups:
        lines += [
            f"{label}: {item.verdict.prefix} - {item.objects} objects ({human(item.bytes)}), {item.verdict.reason}"
            for item in found
        ]
    return lines


def summed(found: list[PrefixTally]) -> tuple[int, int]:
    return sum(item.objects for item in found), sum(item.bytes for item in found)


def cleanup(module: AnsibleModule, client: Any, connection: Any, cutoff: int) -> dict[str, Any]:
    params = module.params
    bucket, limit = params["bucket"], params["report_limit"]
    destination = params["artifacts_destination"] or f"s3://{bucket}"
    # The bucket first, the database after: a run whose objects were listed is committed by the time it is read.
    objects = listing(client, bucket, params["prefixes"])
    index = read_index(connection, bucket, destination)
    tally = Tally()
    for item in objects:
        tally.add(item, index)
    old, young = split_by_age(tally.of(ORPHAN), cutoff)
    deleted_objects = deleted_bytes = 0
    deleting = params["delete"] and not module.check_mode
    if deleting and old:
        old, appeared = still_orphaned(connection, old)
        deleted_objects, deleted_bytes = delete_orphans(client, bucket, old)
        # Their run or experiment was created meanwhile: they belong to it now.
        tally.live_objects += sum(item.objects for item in appeared)
        tally.live_bytes += sum(item.bytes for item in appeared)
    totals = {
        "scanned_objects": len(objects),
        "scanned_bytes": sum(item["Size"] for item in objects),
        "live_objects": tally.live_objects,
        "live_bytes": tally.live_bytes,
        "orphan_prefixes": len(old),
        "deleted_objects": deleted_objects,
        "deleted_bytes": deleted_bytes,
    }
    for name, found in (
        ("orphan", old),
        ("young", young),
        ("unrecognised", tally.of(UNRECOGNISED)),
        ("protected", tally.of(PROTECTED)),
    ):
        totals[f"{name}_objects"], totals[f"{name}_bytes"] = summed(found)
    verb = ("Would delete" if module.check_mode else "Deleted") if params["delete"] else "Found"
    groups = [
        ("orphan", old[:limit]),
        ("too young, left alone", young[:limit]),
        ("unrecognised, left alone", tally.of(UNRECOGNISED)[:limit]),
        ("MLflow-managed, left alone", tally.of(PROTECTED)[:limit]),
    ]
    return {
        "changed": bool(deleted_objects) or (module.check_mode and params["delete"] and bool(old)),
        "summary": summary(verb, totals, groups, cutoff),
        "orphans": [item.as_dict(iso) for item in old[:limit]],
        "young": [item.as_dict(iso) for item in young[:limit]],
        "unrecognised": [item.as_dict(iso) for item in tally.of(UNRECOGNISED)[:limit]],
        "protected": [item.as_dict(iso) for item in tally.of(PROTECTED)[:limit]],
        "totals": totals,
        "deleted": deleting and bool(deleted_objects),
        "cutoff": iso(cutoff),
    }


def check_params(module: AnsibleModule, now: int) -> int:
    """The cutoff in ms; fails on bad input before anything is read or deleted."""
    params = module.params
    if params["delete"] and not params["confirm_delete"] and not module.check_mode:
        module.fail_json(
            msg="delete: true deletes the orphaned artifacts for good (only a backup brings them back): set "
            "confirm_delete: true as well to go ahead, or leave delete off to report only. Nothing was deleted."
        )
    if params["min_age_hours"] < 0:
        module.fail_json(msg=f"min_age_hours={params['min_age_hours']}: give 0 or more hours. Nothing was deleted.")
    if params["report_limit"] < 0:
        module.fail_json(msg=f"report_limit={params['report_limit']}: give 0 or more")
    if any(not prefix.strip("/") for prefix in params["prefixes"]):
        module.fail_json(msg="prefixes has an empty entry: leave prefixes out to look at the whole bucket")
    cutoff = now - int(params["min_age_hours"] * HOUR_MS)
    if params["modified_before"]:
        try:
            cutoff = min(cutoff, int(parse_date(params["modified_before"]).timestamp() * 1000))
        except ValueError:
            module.fail_json(
                msg=f"modified_before={params['modified_before']!r} is not a date: write it as YYYY-MM-DD or "
                "YYYY-MM-DDTHH:MM:SS (UTC). Nothing was deleted."
            )
    return cutoff


def main() -> None:
    module = PostgresS3Module(argument_spec(), supports_check_mode=True)
    cutoff = check_params(module, now_ms())
    params = module.params
    try:
        with module.connection() as connection:
            result = cleanup(module, module.s3, connection, cutoff)
    except PostgresError as exc:
        module.fail_postgres(exc, "Nothing was deleted.")
    except Exception as exc:
        module.fail_json(
            msg=f"Storage cleanup failed: {exc} (S3 endpoint {params['endpoint_url']}, bucket {params['bucket']}). "
            "Anything deleted before the failure was an orphan; a re-run reports what is left.",
            exception=traceback.format_exc(),
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
