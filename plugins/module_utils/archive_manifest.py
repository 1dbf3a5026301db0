# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""An archive of MLflow experiments in cold storage (mlflow_archive): its layout, the metadata document of an
experiment, its counts, and the manifest that lists and checks everything. Pure logic: no database, no S3.

Layout under the archive prefix:
  manifest.json                                  written last, after verification: its presence means complete
  experiments/<experiment id>/metadata.json      the experiment, its tags, every run with params, tags, metrics
  objects/<source bucket>/<source key>           each artifact, copied server-side, under its original key
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from typing import Any

ARCHIVE_FORMAT = "birtha.mlflow.archive/1"
# What the manifest counts per experiment, and how each count is read from a metadata document.
COUNTED = ("runs", "params", "tags", "metrics", "latest_metrics", "experiment_tags")
RUN_PARTS = ("params", "tags", "metrics", "latest_metrics", "inputs")


def normalise_prefix(text: str) -> str:
    """An archive prefix as keys start with it: no leading slash, one trailing slash. ValueError when it is empty or
    climbs out with '..' (S3 keys have no directories, but tools that mirror them to disk do)."""
    prefix = text.strip().lstrip("/")
    if not prefix.strip("/"):
        raise ValueError("archive_prefix is empty: give a prefix such as archive/2026-11-28/")
    if ".." in prefix.split("/") or "//" in prefix.rstrip("/"):
        raise ValueError(f"archive_prefix={text!r} has an empty or '..' path segment: give a plain path")
    return prefix.rstrip("/") + "/"


def default_prefix(now: datetime) -> str:
    return f"archive/{now.strftime('%Y%m%dT%H%M%SZ')}/"


def manifest_key(prefix: str) -> str:
    return f"{prefix}manifest.json"


def metadata_key(prefix: str, experiment_id: int) -> str:
    return f"{prefix}experiments/{experiment_id}/metadata.json"


def archived_key(prefix: str, bucket: str, key: str) -> str:
    """Where an artifact goes: under its bucket and original key, so putting it back is a copy to that key."""
    return f"{prefix}objects/{bucket}/{key}"


def plain(value: Any) -> Any:
    """A value JSON can hold exactly: NaN and infinities as their names (MLflow logs them; strict JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def json_bytes(document: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the same document always gives the same bytes and sha256."""
    return json.dumps(plain(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def group_by(rows: list[dict[str, Any]], column: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row[column]), []).append(row)
    return grouped


def without(row: dict[str, Any], *columns: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in columns}


def experiment_document(experiment: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The metadata of one experiment from its rows (mlflow_sql.experiment_rows): the experiment with its tags;
    every run with its info (the runs row), params and tags (key: value), full metric history and latest metrics
    (rows), and dataset inputs (with their tags); the experiment's datasets and logged models."""
    by_run = {part: group_by(rows.get(table, []), column) for part, table, column in _RUN_TABLES}
    input_tags = group_by(rows.get("input_tags", []), "input_uuid")
    runs = []
    for run in rows.get("runs", []):
        run_id = run["run_uuid"]
        runs.append(
            {
                "info": run,
                "params": {row["key"]: row["value"] for row in by_run["params"].get(run_id, [])},
                "tags": {row["key"]: row["value"] for row in by_run["tags"].get(run_id, [])},
                "metrics": [without(row, "run_uuid") for row in by_run["metrics"].get(run_id, [])],
                "latest_metrics": [without(row, "run_uuid") for row in by_run["latest_metrics"].get(run_id, [])],
                "inputs": [
                    {**row, "tags": {tag["name"]: tag["value"] for tag in input_tags.get(row["input_uuid"], [])}}
                    for row in by_run["inputs"].get(run_id, [])
                ],
            }
        )
    models = group_by(rows.get("logged_models", []), "model_id")
    model_params = group_by(rows.get("logged_model_params", []), "model_id")
    model_tags = group_by(rows.get("logged_model_tags", []), "model_id")
    return {
        "format": ARCHIVE_FORMAT,
        "experiment": {
            **experiment,
            "tags": {row["key"]: row["value"] for row in rows.get("experiment_tags", [])},
        },
        "runs": runs,
        "datasets": rows.get("datasets", []),
        "logged_models": [
            {
                **found[0],
                "params": {row["param_key"]: row["param_value"] for row in model_params.get(model_id, [])},
                "tags": {row["tag_key"]: row["tag_value"] for row in model_tags.get(model_id, [])},
            }
            for model_id, found in models.items()
        ],
    }


# (part of a run in the document, table, column naming the run)
_RUN_TABLES = (
    ("params", "params", "run_uuid"),
    ("tags", "tags", "run_uuid"),
    ("metrics", "metrics", "run_uuid"),
    ("latest_metrics", "latest_metrics", "run_uuid"),
    ("inputs", "inputs", "destination_id"),
)


def document_counts(document: dict[str, Any]) -> dict[str, int]:
    """What a metadata document holds, counted the way mlflow_sql.archive_counts counts the tables."""
    runs = document.get("runs", [])
    counts = {"runs": len(runs), "experiment_tags": len(document.get("experiment", {}).get("tags", {}))}
    for part in ("params", "tags", "metrics", "latest_metrics"):
        counts[part] = sum(len(run.get(part, ())) for run in runs)
    return counts


def count_differences(label_a: str, a: dict[str, int], label_b: str, b: dict[str, int]) -> list[str]:
    """The counts of COUNTED that differ, in words."""
    return [
        f"{name}: {label_a} {a.get(name)}, {label_b} {b.get(name)}" for name in COUNTED if a.get(name) != b.get(name)
    ]


def object_differences(archived: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[str]:
    """How the artifacts listed now (source_bucket, source_key, size) differ from an archive's."""
    want = {(item["source_bucket"], item["source_key"]): int(item["size"]) for item in archived}
    have = {(item["source_bucket"], item["source_key"]): int(item["size"]) for item in current}
    problems = [f"s3://{b}/{k} is new since the archive" for b, k in sorted(set(have) - set(want))]
    problems += [f"s3://{b}/{k} is no longer in the source" for b, k in sorted(set(want) - set(have))]
    problems += [
        f"s3://{b}/{k} has {have[(b, k)]} bytes, the archive {want[(b, k)]}"
        for b, k in sorted(set(want) & set(have))
        if want[(b, k)] != have[(b, k)]
    ]
    return problems


def experiment_entry(
    experiment: dict[str, Any], metadata: bytes, counts: dict[str, int], prefix: str, objects: list[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest's entry of one experiment."""
    return {
        "experiment_id": int(experiment["experiment_id"]),
        "name": experiment["name"],
        "artifact_location": experiment.get("artifact_location"),
        "lifecycle_stage": experiment.get("lifecycle_stage"),
        "metadata_key": metadata_key(prefix, int(experiment["experiment_id"])),
        "metadata_sha256": sha256_hex(metadata),
        "metadata_bytes": len(metadata),
        "counts": counts,
        "objects": len(objects),
        "bytes": sum(int(item["size"]) for item in objects),
    }


def build_manifest(
    prefix: str,
    bucket: str,
    source: dict[str, Any],
    created: str,
    experiments: list[dict[str, Any]],
    objects: list[dict[str, Any]],
) -> dict[str, Any]:
    """The manifest: every experiment's entry and every archived object (source and archived key, size, sha256),
    sorted so the same archive always gives the same document."""
    ordered_objects = sorted(
        objects, key=lambda item: (item["experiment_id"], item["source_bucket"], item["source_key"])
    )
    return {
        "format": ARCHIVE_FORMAT,
        "created": created,
        "archive": {"bucket": bucket, "prefix": prefix},
        "source": source,
        "experiments": sorted(experiments, key=lambda entry: entry["experiment_id"]),
        "objects": ordered_objects,
        "totals": {
            "experiments": len(experiments),
            "runs": sum(entry["counts"]["runs"] for entry in experiments),
            "objects": len(ordered_objects),
            "bytes": sum(int(item["size"]) for item in ordered_objects),
        },
    }


HEX64 = re.compile(r"^[0-9a-f]{64}$")


def manifest_problems(manifest: dict[str, Any], prefix: str) -> list[str]:
    """What makes a manifest read back from the archive unusable, in words; empty when it is well formed."""
    if manifest.get("format") != ARCHIVE_FORMAT:
        return [f"format is {manifest.get('format')!r}, not {ARCHIVE_FORMAT}"]
    problems = []
    if manifest.get("archive", {}).get("prefix") != prefix:
        problems.append(f"it was written for prefix {manifest.get('archive', {}).get('prefix')!r}")
    ids = {entry.get("experiment_id") for entry in manifest.get("experiments", [])}
    for item in manifest.get("objects", []):
        if item.get("experiment_id") not in ids:
            problems.append(f"object {item.get('archived_key')} names no experiment of the manifest")
        elif not HEX64.match(str(item.get("sha256", ""))):
            problems.append(f"object {item.get('archived_key')} has no sha256")
        elif item.get("archived_key") != archived_key(prefix, item["source_bucket"], item["source_key"]):
            problems.append(f"object {item.get('archived_key')} is not where the layout puts it")
    return problems
