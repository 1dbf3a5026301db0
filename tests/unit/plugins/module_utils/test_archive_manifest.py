"""The archive's pure parts: prefixes, keys, the metadata document and its counts, canonical JSON, the manifest and
what makes a manifest or an experiment no longer match."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.archive_manifest import (
    ARCHIVE_FORMAT,
    archived_key,
    build_manifest,
    count_differences,
    default_prefix,
    document_counts,
    experiment_document,
    experiment_entry,
    json_bytes,
    manifest_problems,
    normalise_prefix,
    object_differences,
    sha256_hex,
)

RUN_A, RUN_B = "a" * 32, "b" * 32
EXPERIMENT = {
    "experiment_id": 7,
    "name": "churn",
    "artifact_location": "mlflow-artifacts:/7",
    "lifecycle_stage": "active",
}


def rows() -> dict[str, list[dict]]:
    return {
        "experiment_tags": [{"key": "team", "value": "ml", "experiment_id": 7}],
        "runs": [{"run_uuid": RUN_A, "experiment_id": 7}, {"run_uuid": RUN_B, "experiment_id": 7}],
        "params": [{"run_uuid": RUN_A, "key": "lr", "value": "0.1"}],
        "tags": [
            {"run_uuid": RUN_A, "key": "mlflow.runName", "value": "a"},
            {"run_uuid": RUN_B, "key": "t", "value": "1"},
        ],
        "metrics": [
            {"run_uuid": RUN_A, "key": "loss", "value": v, "step": s, "timestamp": 1, "is_nan": False}
            for s, v in enumerate([1.0, 0.5, float("nan")])
        ],
        "latest_metrics": [
            {"run_uuid": RUN_A, "key": "loss", "value": 0.5, "step": 1, "timestamp": 1, "is_nan": False}
        ],
        "inputs": [{"input_uuid": "i1", "destination_id": RUN_B, "destination_type": "RUN", "source_id": "d1"}],
        "input_tags": [{"input_uuid": "i1", "name": "mlflow.data.context", "value": "training"}],
        "datasets": [{"dataset_uuid": "d1", "name": "train"}],
        "logged_models": [{"model_id": "m-1", "experiment_id": 7}],
        "logged_model_params": [{"model_id": "m-1", "param_key": "k", "param_value": "v"}],
        "logged_model_tags": [],
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [("archive/2026", "archive/2026/"), ("/a/b/", "a/b/"), (" x ", "x/")],
)
def test_normalise_prefix(given, expected):
    assert normalise_prefix(given) == expected


@pytest.mark.parametrize("given", ["", "/", "a/../b", "a//b"])
def test_normalise_prefix_refuses(given):
    with pytest.raises(ValueError, match="archive_prefix"):
        normalise_prefix(given)


def test_keys():
    assert default_prefix(datetime(2026, 11, 28, 15, 0, 5, tzinfo=UTC)) == "archive/20261128T150005Z/"
    assert (
        archived_key("p/", "mlflow-artifacts", "7/x/artifacts/m.pkl")
        == "p/objects/mlflow-artifacts/7/x/artifacts/m.pkl"
    )


def test_document_groups_rows_by_run_and_counts_them():
    document = experiment_document(EXPERIMENT, rows())
    assert document["format"] == ARCHIVE_FORMAT
    assert document["experiment"]["tags"] == {"team": "ml"}
    run_a, run_b = document["runs"]
    assert run_a["info"]["run_uuid"] == RUN_A and run_a["params"] == {"lr": "0.1"}
    assert [m["step"] for m in run_a["metrics"]] == [0, 1, 2] and "run_uuid" not in run_a["metrics"][0]
    assert run_b["inputs"] == [{**rows()["inputs"][0], "tags": {"mlflow.data.context": "training"}}]
    assert document["logged_models"] == [{"model_id": "m-1", "experiment_id": 7, "params": {"k": "v"}, "tags": {}}]
    assert document_counts(document) == {
        "runs": 2,
        "experiment_tags": 1,
        "params": 1,
        "tags": 2,
        "metrics": 3,
        "latest_metrics": 1,
    }


def test_json_is_canonical_and_strict():
    data = json_bytes(experiment_document(EXPERIMENT, rows()))
    assert data == json_bytes(experiment_document(dict(reversed(EXPERIMENT.items())), rows()))
    parsed = json.loads(data, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert parsed["runs"][0]["metrics"][2]["value"] == "NaN"
    assert json_bytes({"x": [float("inf"), float("-inf")], "b": b"\x01"}) == b'{"b":"01","x":["Infinity","-Infinity"]}'


def objects() -> list[dict]:
    return [
        {
            "experiment_id": 7,
            "source_bucket": "mlflow-artifacts",
            "source_key": key,
            "archived_key": archived_key("p/", "mlflow-artifacts", key),
            "size": size,
            "sha256": sha256_hex(key.encode()),
        }
        for key, size in ((f"7/{RUN_B}/artifacts/b", 20), (f"7/{RUN_A}/artifacts/a", 10))
    ]


def test_manifest_entries_and_totals():
    metadata = json_bytes(experiment_document(EXPERIMENT, rows()))
    counts = document_counts(json.loads(metadata))
    entry = experiment_entry(EXPERIMENT, metadata, counts, "p/", objects())
    assert entry["metadata_key"] == "p/experiments/7/metadata.json"
    assert entry["metadata_sha256"] == sha256_hex(metadata) and entry["metadata_bytes"] == len(metadata)
    assert (entry["objects"], entry["bytes"]) == (2, 30)
    manifest = build_manifest("p/", "mlflow-archive", {"bucket": "mlflow-artifacts"}, "now", [entry], objects())
    assert [item["source_key"] for item in manifest["objects"]] == sorted(item["source_key"] for item in objects())
    assert manifest["totals"] == {"experiments": 1, "runs": 2, "objects": 2, "bytes": 30}
    assert manifest_problems(manifest, "p/") == []
    elsewhere = manifest_problems(manifest, "q/")
    assert elsewhere[0] == "it was written for prefix 'p/'" and len(elsewhere) == 3


def test_manifest_problems():
    metadata = json_bytes({"runs": []})
    entry = experiment_entry(EXPERIMENT, metadata, {"runs": 0}, "p/", [])
    broken = objects()
    broken[0]["sha256"] = "abc"
    broken[1]["archived_key"] = "p/elsewhere"
    manifest = build_manifest("p/", "mlflow-archive", {}, "now", [entry], broken)
    problems = manifest_problems(manifest, "p/")
    assert len(problems) == 2 and any("no sha256" in p for p in problems)
    assert manifest_problems({"format": "other"}, "p/") == ["format is 'other', not birtha.mlflow.archive/1"]


def test_differences():
    assert count_differences("archive", {"runs": 2, "tags": 3}, "database", {"runs": 3, "tags": 3}) == [
        "runs: archive 2, database 3"
    ]
    assert count_differences("a", {"runs": 1}, "b", {"runs": 1}) == []
    archived = objects()
    now = [dict(item) for item in archived[1:]] + [{**archived[0], "source_key": "7/new"}]
    now[0]["size"] = 11
    problems = object_differences(archived, now)
    assert "s3://mlflow-artifacts/7/new is new since the archive" in problems
    assert f"s3://mlflow-artifacts/7/{RUN_B}/artifacts/b is no longer in the source" in problems
    assert f"s3://mlflow-artifacts/7/{RUN_A}/artifacts/a has 11 bytes, the archive 10" in problems
    assert object_differences(archived, list(reversed(archived))) == []


def test_covers_lists_a_run_directory_inside_its_experiment_once():
    from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Location
    from ansible_collections.birtha.mlflow.plugins.modules.mlflow_archive import covers

    home = S3Location("b", "7")
    assert covers(home, S3Location("b", f"7/{RUN_A}/artifacts"))
    assert covers(home, S3Location("b", "7"))
    assert not covers(home, S3Location("b", f"70/{RUN_A}/artifacts"))
    assert not covers(home, S3Location("other", f"7/{RUN_A}/artifacts"))
