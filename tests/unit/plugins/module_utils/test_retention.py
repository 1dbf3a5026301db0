"""Retention and purge logic that needs no server: cutoffs and their refusals, where a run's artifacts live in S3,
which listed keys belong to which run directory, and the SQL a selection becomes."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_sql import DELETED, RunSelection
from ansible_collections.birtha.mlflow.plugins.module_utils.retention import DAY_MS, artifact_location, cutoff_ms
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Location, under_any

NOW = 1_795_000_000_000  # 2026-11-18


def cutoff(days=None, before=None):
    return cutoff_ms(days, before, NOW, "older_than_days", "started_before")


def test_days_count_back_from_now():
    assert cutoff(days=90) == NOW - 90 * DAY_MS
    assert cutoff(days=0) == NOW


def test_a_date_is_utc_unless_an_offset_is_given():
    assert cutoff(before="2026-01-01") == 1_767_225_600_000
    assert cutoff(before="2026-01-01T02:00:00+02:00") == 1_767_225_600_000


@pytest.mark.parametrize(
    ("days", "before", "message"),
    [
        (None, "2999-01-01", "started_before='2999-01-01' is in the future"),
        (-1, None, "older_than_days=-1 would be a cutoff in the future"),
        (None, "last tuesday", "is not a date: write it as YYYY-MM-DD"),
        (None, None, "set older_than_days (a number of days) or started_before (a date)"),
    ],
)
def test_bad_cutoffs_name_the_option_and_the_fix(days, before, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cutoff(days=days, before=before)


@pytest.mark.parametrize(
    ("uri", "destination", "expected"),
    [
        ("mlflow-artifacts:/4/abc/artifacts", "s3://mlf", S3Location("mlf", "4/abc/artifacts")),
        ("mlflow-artifacts://host:5000/4/abc/artifacts", "s3://b/base/", S3Location("b", "base/4/abc/artifacts")),
        ("s3://other/x/abc/artifacts/", "s3://mlflow-artifacts", S3Location("other", "x/abc/artifacts")),
        ("file:///mlruns/4/abc/artifacts", "s3://mlflow-artifacts", None),
        ("mlflow-artifacts:/4/abc/artifacts", "file:///data", None),
        ("s3://bucket-only", "s3://mlflow-artifacts", None),
        (None, "s3://mlflow-artifacts", None),
    ],
)
def test_artifact_locations(uri, destination, expected):
    assert artifact_location(uri, destination) == expected


def test_a_key_belongs_to_a_directory_only_below_a_whole_segment():
    prefixes = {"4/abc/artifacts", "4/abd/artifacts"}
    assert under_any("4/abc/artifacts/model/MLmodel", prefixes) == "4/abc/artifacts"
    assert under_any("4/abc/artifacts", prefixes) == "4/abc/artifacts"
    assert under_any("4/abc/artifactsX/file", prefixes) is None
    assert under_any("4/models/m-1/artifacts/MLmodel", prefixes) is None


def test_a_selection_becomes_one_parameterised_where_clause():
    selection = RunSelection(
        DELETED, experiment_ids=(4, 7), deleted_before_ms=5, statuses=("FAILED",), tags=(("team", "a"), ("env", "b"))
    )
    clause, values = selection.where()
    text = repr(clause)
    assert text.count("EXISTS (SELECT 1 FROM tags") == 2
    assert "r.deleted_time <= %s" in text and "r.start_time" not in text
    assert values == [DELETED, [4, 7], 5, ["FAILED"], "team", "a", "env", "b"]
