"""Storage cleanup's classification of bucket keys: only a run-shaped directory whose run is in no row is an orphan;
logged models, traces, unknown shapes, live runs (wherever their artifact URI points) never are."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.artifact_layout import (
    LIVE,
    ORPHAN,
    PROTECTED,
    UNRECOGNISED,
    Tally,
    ancestors,
    build_index,
    classify,
    split_by_age,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Location

BUCKET = "mlflow-artifacts"
LIVE_RUN = "a" * 32
MOVED_RUN = "b" * 32
FILE_RUN = "c" * 32
NO_RUN = "d" * 32


def index(root: str | None = ""):
    experiments = [
        (0, S3Location(BUCKET, "0")),
        (3, S3Location(BUCKET, "3")),
        (4, S3Location(BUCKET, "teams/vision")),  # a custom artifact location in the same bucket
        (5, S3Location("other-bucket", "5")),  # elsewhere: says nothing about this bucket
        (6, None),  # file: or another scheme
    ]
    runs = [
        (LIVE_RUN, 3, S3Location(BUCKET, f"3/{LIVE_RUN}/artifacts")),
        (MOVED_RUN, 3, S3Location(BUCKET, "restored/run-b/artifacts")),
        (FILE_RUN, 3, None),
    ]
    return build_index(BUCKET, root, experiments, runs)


def test_ancestors():
    assert list(ancestors("a/b/c")) == ["a", "a/b", "a/b/c"]


def test_default_run_locations_are_not_stored():
    built = index()
    assert built.run_locations == {"restored/run-b/artifacts"}
    assert built.run_ids == {LIVE_RUN, MOVED_RUN, FILE_RUN}
    assert built.experiments == {"0": 0, "3": 3, "teams/vision": 4}


@pytest.mark.parametrize(
    ("key", "kind", "prefix"),
    [
        (f"3/{LIVE_RUN}/artifacts/model.pkl", LIVE, f"3/{LIVE_RUN}/"),
        (f"3/{LIVE_RUN}/other/file", LIVE, f"3/{LIVE_RUN}/"),  # the run exists: whatever is below it is its
        ("restored/run-b/artifacts/x.bin", LIVE, "restored/run-b/artifacts/"),
        (f"3/{FILE_RUN}/artifacts/x", LIVE, f"3/{FILE_RUN}/"),  # a row (of any stage) is enough
        (f"3/{NO_RUN}/artifacts/x", ORPHAN, f"3/{NO_RUN}/"),
        (f"teams/vision/{NO_RUN}/artifacts/x", ORPHAN, f"teams/vision/{NO_RUN}/"),
        (f"77/{NO_RUN}/artifacts/x", ORPHAN, f"77/{NO_RUN}/"),  # experiment 77 is gone
        ("3/models/m-0123/artifacts/MLmodel", PROTECTED, "3/models/"),
        ("3/traces/tr-0123/artifacts/traces.json", PROTECTED, "3/traces/"),
        ("77/models/m-0123/artifacts/MLmodel", PROTECTED, "77/models/"),  # even with no experiment
        ("3/scratch/notes.txt", UNRECOGNISED, "3/scratch/"),
        ("3/notes.txt", UNRECOGNISED, "3/notes.txt"),
        (f"3/{NO_RUN.upper()}/artifacts/x", UNRECOGNISED, f"3/{NO_RUN.upper()}/"),  # MLflow's ids are lowercase
        (f"3/{NO_RUN[:31]}/artifacts/x", UNRECOGNISED, f"3/{NO_RUN[:31]}/"),
        (f"5/{NO_RUN}/artifacts/x", UNRECOGNISED, "5/"),  # experiment 5 exists, its location is elsewhere
        (f"junk/{NO_RUN}/x", UNRECOGNISED, "junk/"),
        ("README", UNRECOGNISED, "README"),
        ("77/file", UNRECOGNISED, "77/file"),
    ],
)
def test_classify(key, kind, prefix):
    verdict = classify(key, index())
    assert (verdict.kind, verdict.prefix) == (kind, prefix)


def test_orphan_reasons_name_the_run_and_a_gone_experiment():
    under_existing = classify(f"3/{NO_RUN}/artifacts/x", index())
    assert under_existing.run_id == NO_RUN and under_existing.experiment_id == 3 and not under_existing.gone
    assert f"run {NO_RUN} is not in the runs table" in under_existing.reason
    under_gone = classify(f"77/{NO_RUN}/artifacts/x", index())
    assert under_gone.gone and under_gone.experiment_id == 77
    assert "experiment 77 no longer exists" in under_gone.reason


def test_root_below_the_bucket_top():
    built = index(root="mlruns")
    assert classify(f"mlruns/77/{NO_RUN}/artifacts/x", built).kind == ORPHAN
    assert classify(f"77/{NO_RUN}/artifacts/x", built).kind == UNRECOGNISED
    assert classify("mlruns/junk/x", built).prefix == "mlruns/junk/"


def test_no_gone_experiments_when_the_root_is_elsewhere():
    assert classify(f"77/{NO_RUN}/artifacts/x", index(root=None)).kind == UNRECOGNISED
    assert classify(f"3/{NO_RUN}/artifacts/x", index(root=None)).kind == ORPHAN


def test_tally_keeps_keys_of_orphans_only_and_splits_by_age():
    tally = Tally()
    listed = [
        (f"3/{NO_RUN}/artifacts/a", 10, 1_000),
        (f"3/{NO_RUN}/artifacts/b", 20, 5_000),
        (f"77/{NO_RUN}/artifacts/c", 5, 1_000),
        (f"3/{LIVE_RUN}/artifacts/d", 7, 9_000),
        ("3/models/m-1/artifacts/MLmodel", 3, 1_000),
        ("junk/x", 1, 1_000),
    ]
    for key, size, modified in listed:
        tally.add({"Key": key, "Size": size, "LastModified": modified}, index())
    assert (tally.live_objects, tally.live_bytes) == (1, 7)
    orphans = tally.of(ORPHAN)
    assert [item.verdict.prefix for item in orphans] == [f"3/{NO_RUN}/", f"77/{NO_RUN}/"]
    assert (orphans[0].objects, orphans[0].bytes, orphans[0].newest_ms) == (2, 30, 5_000)
    assert orphans[0].keys == [f"3/{NO_RUN}/artifacts/a", f"3/{NO_RUN}/artifacts/b"]
    assert tally.of(PROTECTED)[0].keys == [] and tally.of(UNRECOGNISED)[0].keys == []

    # One object at or after the cutoff keeps the whole prefix.
    old, young = split_by_age(orphans, cutoff_ms=5_000)
    assert [item.verdict.prefix for item in old] == [f"77/{NO_RUN}/"]
    assert [item.verdict.prefix for item in young] == [f"3/{NO_RUN}/"]
    shown = young[0].as_dict(lambda ms: f"t{ms}")
    assert shown == {
        "prefix": f"3/{NO_RUN}/",
        "objects": 2,
        "bytes": 30,
        "reason": f"run {NO_RUN} is not in the runs table (experiment 3)",
        "newest": "t5000",
        "run_id": NO_RUN,
        "experiment_id": 3,
    }


@pytest.mark.parametrize(
    ("destination", "root"),
    [("s3://mlflow-artifacts", ""), ("s3://mlflow-artifacts/mlruns/", "mlruns"), ("s3://elsewhere", None)],
)
def test_destination_root(destination, root):
    from ansible_collections.birtha.mlflow.plugins.modules.mlflow_storage_cleanup import destination_root

    assert destination_root(destination, BUCKET) == root
