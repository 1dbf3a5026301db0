"""pg_tuning's pure functions: values checked and converted as PostgreSQL does (units, ranges, booleans, enums),
and which existing index serves a requested one."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_tuning import (
    ExistingIndex,
    IndexSpec,
    Setting,
    covering_index,
    covers,
    current_value,
    human,
    is_stale,
    memory_bytes,
    normalize,
    same_value,
    unit_scale,
)


def setting(name="x", vartype="integer", unit=None, low="0", high="2147483647", enumvals=(), value="0"):
    return Setting(name, value, unit, vartype, tuple(enumvals), low, high, "sighup", False, "default", None, None, "")


SHARED_BUFFERS = setting("shared_buffers", unit="8kB", low="16", high="1073741823", value="16384")
WORK_MEM = setting("work_mem", unit="kB", low="64", high="2147483647", value="4096")
TIMEOUT = setting("statement_timeout", unit="ms", value="0")
COST = setting("random_page_cost", vartype="real", low="0", high="1.79769e+308", value="4")
FACTOR = setting("checkpoint_completion_target", vartype="real", low="0", high="1", value="0.9")


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("8kB", ("memory", 8192)), ("kB", ("memory", 1024)), ("MB", ("memory", 1024**2)), ("ms", ("time", 1)),
     ("s", ("time", 1000)), ("min", ("time", 60000)), (None, ("", 1))],
)  # fmt: skip
def test_unit_scale(unit, expected):
    assert unit_scale(unit) == expected


def test_memory_values_in_the_settings_unit():
    assert normalize("128MB", SHARED_BUFFERS) == 16384
    assert normalize("1GB", SHARED_BUFFERS) == 131072
    assert normalize(16384, SHARED_BUFFERS) == 16384  # no unit: the setting's own (8kB pages)
    assert normalize("60MB", WORK_MEM) == 61440
    assert memory_bytes("6026MB", SHARED_BUFFERS) == 6026 * 1024**2


def test_time_and_real_values():
    assert normalize("2min", TIMEOUT) == 120000
    assert normalize("1.5s", TIMEOUT) == 1500
    assert normalize(1.1, COST) == pytest.approx(1.1)
    assert same_value(normalize("0.9", FACTOR), current_value(FACTOR))


@pytest.mark.parametrize(
    ("value", "target", "message"),
    [("12XB", WORK_MEM, "invalid unit 'XB'"), ("5ms", WORK_MEM, "invalid unit 'ms'"), ("lots", WORK_MEM, "number"),
     ("100TB", SHARED_BUFFERS, "between 128kB and 8TB"), (-1, COST, "at least 0"), (2, FACTOR, "between 0 and 1"),
     ("1MB", COST, "takes no unit")],
)  # fmt: skip
def test_values_postgresql_refuses(value, target, message):
    with pytest.raises(ValueError, match=message):
        normalize(value, target)


def test_booleans_and_enums():
    flag = setting("enable_seqscan", vartype="bool", value="on")
    assert normalize(True, flag) is True
    assert normalize("off", flag) is False
    assert normalize("Yes", flag) is True
    with pytest.raises(ValueError, match="boolean"):
        normalize("maybe", flag)
    pages = setting("huge_pages", vartype="enum", enumvals=["off", "on", "try"], value="try")
    assert normalize("TRY", pages) == "try" == current_value(pages)
    with pytest.raises(ValueError, match="one of off, on, try"):
        normalize("sometimes", pages)


def test_human_units():
    assert human(1073741823, SHARED_BUFFERS) == "8TB"
    assert human(16, SHARED_BUFFERS) == "128kB"
    assert human(0, COST) == "0"


def index(name, columns, descending=None, valid=True, partial=False, method="btree", table="runs"):
    return ExistingIndex(
        name, table, tuple(columns), tuple(descending or [False] * len(columns)), valid, partial, method
    )


COMPOSITE = IndexSpec.parse("idx_c", "runs", ["experiment_id", "start_time DESC", "run_uuid"])
EXPERIMENT = IndexSpec.parse("idx_e", "runs", ["experiment_id"])


def test_parse_index_requests():
    assert COMPOSITE.columns == ("experiment_id", "start_time", "run_uuid")
    assert COMPOSITE.descending == (False, True, False)
    assert COMPOSITE.describe() == "runs(experiment_id, start_time DESC, run_uuid)"
    for name, columns, message in [
        ("idx", [], "columns is empty"),
        ("idx; drop table runs", ["a"], "not a plain identifier"),
        ("i" * 64, ["a"], "at most 63"),
        ("idx", ["a sideways"], "optionally with ASC or DESC"),
        ("idx", ["lower(a)"], "must be a column name"),
    ]:
        with pytest.raises(ValueError, match=message):
            IndexSpec.parse(name, "runs", columns)


def test_leading_columns_cover():
    wide = index("wide", ["experiment_id", "start_time", "run_uuid"], [False, True, False])
    assert covers(wide, EXPERIMENT)
    assert covers(wide, COMPOSITE)
    # All directions reversed: a backward scan gives the same order.
    assert covers(index("rev", ["experiment_id", "start_time", "run_uuid"], [True, False, True]), COMPOSITE)
    # Mixed directions do not.
    assert not covers(index("asc", ["experiment_id", "start_time", "run_uuid"]), COMPOSITE)
    # Not leading, partial, invalid, another method or table: no.
    assert not covers(index("second", ["lifecycle_stage", "experiment_id"]), EXPERIMENT)
    assert not covers(index("partial", ["experiment_id"], partial=True), EXPERIMENT)
    assert not covers(index("invalid", ["experiment_id"], valid=False), EXPERIMENT)
    assert not covers(index("hash", ["experiment_id"], method="hash"), EXPERIMENT)
    assert not covers(index("other", ["experiment_id"], table="datasets"), EXPERIMENT)
    assert not covers(index("narrow", ["experiment_id"]), COMPOSITE)


def test_covering_index_prefers_its_own_name():
    metrics = IndexSpec.parse("idx_metrics_run_uuid", "metrics", ["run_uuid"])
    mlflows = index("index_metrics_run_uuid", ["run_uuid"], table="metrics")
    wider = index("index_metrics_run_uuid_key_step", ["run_uuid", "key", "step"], table="metrics")
    assert covering_index([wider, mlflows], metrics).name == "index_metrics_run_uuid_key_step"
    own = index("idx_metrics_run_uuid", ["run_uuid"], table="metrics")
    assert covering_index([wider, mlflows, own], metrics).name == "idx_metrics_run_uuid"
    assert covering_index([index("pk", ["key", "run_uuid"], table="metrics")], metrics) is None


def test_stale_statistics_by_autovacuums_rule():
    assert is_stale(None, 0.05, 50)
    assert is_stale({"modified": 0, "rows": 0, "analyzed_before": False}, 0.05, 50)
    assert not is_stale({"modified": 50, "rows": 0, "analyzed_before": True}, 0.05, 50)
    assert is_stale({"modified": 51, "rows": 0, "analyzed_before": True}, 0.05, 50)
    assert not is_stale({"modified": 5000, "rows": 100000, "analyzed_before": True}, 0.05, 50)
    assert is_stale({"modified": 5051, "rows": 100000, "analyzed_before": True}, 0.05, 50)
