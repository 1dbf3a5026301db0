"""platform_metrics' pure functions: thresholds into findings, Prometheus rendering (label escaping), mc's JSON,
the atomic textfile."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.metric_findings import evaluate
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import disk_usage, human_bytes
from ansible_collections.birtha.mlflow.plugins.module_utils.prometheus import (
    escape_label_value,
    render_prometheus,
    write_textfile,
)
from ansible_collections.birtha.mlflow.plugins.modules.platform_metrics import (
    McError,
    bucket_usage,
    identity_keys,
    measure_each_bucket,
    parse_mc_du,
    parse_mc_ls_buckets,
)

THRESHOLDS = {"disk_used_percent": 85, "connections_used_percent": 80, "database_size_bytes": 0, "bucket_size_bytes": 0}

POSTGRES = {
    "tier": "postgres",
    "host": "db1",
    "mlflow_database": "mlflow_db",
    "up": {"postgresql": True},
    "problems": [],
    "databases": {"mlflow_db": 10_000_000, "postgres": 7_000_000},
    "connections": {"by_state": {"active": 1, "idle": 84}, "total": 85, "max": 100, "used_percent": 85.0},
    "replication": {
        "in_recovery": False,
        "replay_behind_bytes": None,
        "standbys": [
            {"name": "db2", "state": "streaming", "sync_state": "sync", "lag_bytes": 0},
            {"name": "db3", "state": "catchup", "sync_state": "async", "lag_bytes": 4096},
            {"name": "db4", "state": "startup", "sync_state": "async", "lag_bytes": None},
        ],
    },
    "tables": [
        {"schema": "public", "table": "metrics", "total_bytes": 98304, "table_bytes": 8192, "rows_estimate": 120},
        {"schema": "public", "table": "runs", "total_bytes": 65536, "table_bytes": 8192, "rows_estimate": None},
    ],
    "mlflow": {
        "experiments": {"total": 3, "active": 2, "deleted": 1},
        "runs": {"total": 12, "active": 11, "deleted": 1},
        "registered_models": 1,
        "model_versions": {"total": 2, "by_stage": {"Production": 1, "Archived": 1}},
    },
    "disks": [
        {
            "path": "/var/lib/postgresql/15/main",
            "exists": True,
            "mount": "/",
            "total_bytes": 1000,
            "used_bytes": 900,
            "free_bytes": 100,
            "used_percent": 90.0,
        },
        {"path": "/srv/missing", "exists": False},
    ],
}


def by_check(findings, check):
    return [item for item in findings if item["check"] == check]


def test_thresholds_turn_into_warnings():
    findings = evaluate(POSTGRES, {**THRESHOLDS, "database_size_bytes": 8_000_000})
    disk = by_check(findings, "disk")
    assert [item["status"] for item in disk] == ["warn"]
    assert "90.0% full" in disk[0]["detail"] and disk[0]["subject"] == "/var/lib/postgresql/15/main"
    assert by_check(findings, "data_dir")[0]["status"] == "warn"
    assert "/srv/missing does not exist" in by_check(findings, "data_dir")[0]["detail"]
    assert by_check(findings, "connections")[0]["status"] == "warn"  # 85% >= 80%
    sizes = {item["subject"]: item["status"] for item in by_check(findings, "database_size")}
    assert sizes == {"mlflow_db": "warn", "postgres": "ok"}
    assert "database mlflow_db is 9.5 MiB, above the warning level of 7.6 MiB" in [item["detail"] for item in findings]


def test_zero_or_none_turns_a_check_off():
    off = {"disk_used_percent": 0, "connections_used_percent": None, "database_size_bytes": 0, "bucket_size_bytes": 0}
    findings = evaluate(POSTGRES, off)
    assert {item["check"] for item in findings} == {"data_dir"}  # a missing directory is always reported


def test_below_the_levels_is_ok():
    findings = evaluate(POSTGRES, {**THRESHOLDS, "disk_used_percent": 95, "connections_used_percent": 90})
    assert {item["status"] for item in findings if item["check"] != "data_dir"} == {"ok"}


def test_problems_come_first_as_warnings():
    metrics = {
        "tier": "minio",
        "problems": [{"check": "mc", "detail": "mc is not installed at /usr/local/bin/mc"}],
        "disks": [],
    }
    findings = evaluate(metrics, {**THRESHOLDS, "bucket_size_bytes": 1})
    assert findings == [
        {"tier": "minio", "check": "mc", "status": "warn", "detail": "mc is not installed at /usr/local/bin/mc"}
    ]


def test_bucket_size_threshold():
    metrics = {"tier": "minio", "buckets": {"a": {"size_bytes": 5, "objects": 1}, "b": {"size_bytes": 0, "objects": 0}}}
    findings = evaluate(metrics, {**THRESHOLDS, "bucket_size_bytes": 1})
    assert {item["subject"]: item["status"] for item in findings} == {"a": "warn", "b": "ok"}


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\data", "C:\\\\data"),
        ("two\nlines", "two\\nlines"),
    ],
)
def test_label_values_are_escaped(raw, escaped):
    assert escape_label_value(raw) == escaped


def parse_exposition(text):
    """A small parser of the text format: {(name, frozenset(labels)): value}, and HELP/TYPE per family."""
    samples, families = {}, {}
    for line in text.splitlines():
        if line.startswith("# "):
            kind, name, rest = line[2:].split(" ", 2)
            families.setdefault(name, {})[kind] = rest
            continue
        head, value = line.rsplit(" ", 1)
        name, _brace, labels = head.partition("{")
        pairs = []
        body = labels.rstrip("}")
        while body:
            key, _quote, body = body.partition('="')
            text_value, index = "", 0
            while body[index] != '"':
                if body[index] == "\\":
                    text_value += {"n": "\n"}.get(body[index + 1], body[index + 1])
                    index += 2
                else:
                    text_value += body[index]
                    index += 1
            pairs.append((key, text_value))
            body = body[index + 1 :].lstrip(",")
        samples[(name, frozenset(pairs))] = float(value)
    return samples, families


def test_prometheus_rendering():
    metrics = {**POSTGRES, "host": 'db "one"\\x', "warnings_count": 2}
    text = render_prometheus(metrics)
    assert text.endswith("\n")
    samples, families = parse_exposition(text)
    for name, meta in families.items():
        assert name.startswith("birtha_mlflow_")
        assert meta["TYPE"] == "gauge" and meta["HELP"]
    host = ("host", 'db "one"\\x')
    tier = ("tier", "postgres")
    assert samples[("birtha_mlflow_database_size_bytes", frozenset({host, tier, ("database", "mlflow_db")}))] == 1e7
    assert (
        samples[
            ("birtha_mlflow_runs", frozenset({host, tier, ("database", "mlflow_db"), ("lifecycle_stage", "deleted")}))
        ]
        == 1
    )
    assert samples[("birtha_mlflow_connections", frozenset({host, tier, ("state", "idle")}))] == 84
    assert samples[("birtha_mlflow_connections_max", frozenset({host, tier}))] == 100
    assert samples[("birtha_mlflow_up", frozenset({host, tier, ("service", "postgresql")}))] == 1
    assert samples[("birtha_mlflow_warnings", frozenset({host, tier}))] == 2
    assert samples[("birtha_mlflow_postgres_in_recovery", frozenset({host, tier}))] == 0
    lag = "birtha_mlflow_replication_lag_bytes"
    assert samples[(lag, frozenset({host, tier, ("standby", "db3"), ("sync_state", "async")}))] == 4096
    assert samples[(lag, frozenset({host, tier, ("standby", "db2"), ("sync_state", "sync")}))] == 0
    # A standby whose replay position is not known yet has no lag sample (not a zero).
    assert not [key for key in samples if key[0] == lag and ("standby", "db4") in key[1]]
    path = ("path", "/var/lib/postgresql/15/main")
    assert samples[("birtha_mlflow_filesystem_free_bytes", frozenset({host, tier, path}))] == 100
    # a table without a row estimate has no rows sample; a missing directory has no filesystem sample
    rows = [key for key in samples if key[0] == "birtha_mlflow_table_rows_estimate"]
    assert len(rows) == 1
    assert not [key for key in samples if ("path", "/srv/missing") in key[1]]
    assert 'host="db \\"one\\"\\\\x"' in text


def test_mc_du_json():
    assert parse_mc_du(
        '{"prefix":"mlflow-artifacts","size":47,"objects":1,"status":"success","isVersions":false}\n'
    ) == {
        "size_bytes": 47,
        "objects": 1,
    }


def test_mc_du_error_names_the_cause():
    text = (
        '{"status":"error","error":{"message":"Failed to find disk usage of `birtha/x` recursively.",'
        '"cause":{"message":"The specified bucket does not exist","error":{"Code":"NoSuchBucket"}},"type":"error"}}'
    )
    with pytest.raises(McError, match=r"recursively\.: The specified bucket does not exist"):
        parse_mc_du(text)


def test_mc_ls_buckets():
    text = (
        '{"status":"success","type":"folder","size":0,"key":"mlflow-artifacts/","url":"http://127.0.0.1:9000/"}\n'
        "\n"
        '{"status":"success","type":"folder","size":0,"key":"other/","url":"http://127.0.0.1:9000/"}\n'
    )
    assert parse_mc_ls_buckets(text) == ["mlflow-artifacts", "other"]


def test_mc_output_that_is_not_json():
    with pytest.raises(McError, match="not JSON"):
        parse_mc_ls_buckets("mc: <ERROR> something\n")


def test_textfile_is_written_atomically_and_only_when_it_differs(tmp_path):
    path = str(tmp_path / "birtha_mlflow_postgres.prom")
    assert write_textfile(path, "a 1\n", check_mode=True) == {"path": path, "changed": True, "written": False}
    assert not os.path.exists(path)
    assert write_textfile(path, "a 1\n", check_mode=False)["written"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert write_textfile(path, "a 1\n", check_mode=False) == {"path": path, "changed": False, "written": False}
    assert write_textfile(path, "a 2\n", check_mode=True)["changed"]
    assert (tmp_path / "birtha_mlflow_postgres.prom").read_text() == "a 1\n"
    assert os.listdir(tmp_path) == ["birtha_mlflow_postgres.prom"]  # no temporary file left behind


def test_disk_usage(tmp_path):
    usage = disk_usage(str(tmp_path))
    assert usage["exists"] and usage["total_bytes"] > 0 and 0 <= usage["used_percent"] <= 100
    assert disk_usage(str(tmp_path / "nope")) == {"path": str(tmp_path / "nope"), "exists": False}


def test_human_bytes():
    assert human_bytes(1) == "1 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(10 * 1024**3) == "10.0 GiB"


def test_seaweedfs_keys_come_from_the_identities_file_and_a_bad_one_is_named(tmp_path):
    identities = tmp_path / "s3.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {"name": "mlflow", "credentials": [{"accessKey": "mlflow", "secretKey": "m" * 40}]},
                    {"name": "admin", "credentials": [{"accessKey": "birtha-root", "secretKey": "a" * 40}]},
                ]
            }
        )
    )
    assert identity_keys(str(identities), "admin") == ("birtha-root", "a" * 40)
    with pytest.raises(ValueError, match="has no identity 'ops'"):
        identity_keys(str(identities), "ops")
    with pytest.raises(ValueError, match=r"cannot read .*missing\.json"):
        identity_keys(str(tmp_path / "missing.json"), "admin")
    identities.write_text("{not json")
    with pytest.raises(ValueError, match="is not JSON"):
        identity_keys(str(identities), "admin")


class ListingPages:
    """A boto3 S3 client's paginator over fixed pages: what list_objects_v2 returns, page by page."""

    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages
        self.asked: list[dict] = []

    def get_paginator(self, operation: str) -> ListingPages:
        assert operation == "list_objects_v2"
        return self

    def paginate(self, **kwargs: object) -> list[dict]:
        self.asked.append(kwargs)
        return self.pages


def test_bucket_usage_adds_up_every_page():
    client = ListingPages([{"Contents": [{"Size": 10}, {"Size": 5}]}, {"Contents": [{"Size": 1}]}, {}])
    assert bucket_usage(client, "mlflow-artifacts") == {"size_bytes": 16, "objects": 3}
    assert client.asked == [{"Bucket": "mlflow-artifacts"}]
    assert bucket_usage(ListingPages([{}]), "empty") == {"size_bytes": 0, "objects": 0}


def test_each_bucket_is_measured_and_a_missing_or_failing_one_is_a_problem_not_a_failure():
    def usage(name: str) -> dict[str, int]:
        if name == "broken":
            raise McError("Access Denied.")
        return {"size_bytes": len(name), "objects": 1}

    metrics: dict = {"problems": []}
    measure_each_bucket(
        metrics, "minio", ["mlflow-artifacts", "gone", "broken"], ["broken", "mlflow-artifacts"], usage, (McError,)
    )
    assert metrics["buckets"] == {"mlflow-artifacts": {"size_bytes": 16, "objects": 1}}
    assert metrics["problems"] == [
        {"check": "minio", "detail": "bucket gone does not exist"},
        {"check": "minio", "detail": "bucket broken could not be measured: Access Denied."},
    ]
    # Any other error is a bug, not a finding: it is not swallowed.
    with pytest.raises(KeyError):
        measure_each_bucket(metrics, "seaweedfs", ["x"], ["x"], lambda name: {}[name], (McError,))


ARCHIVING = {"mode": "on", "lag_seconds": 0, "failing": False, "failed_count": 0, "last_archived_wal": "0000000100"}


def test_an_archive_behind_or_failing_warns_and_one_keeping_up_is_ok():
    levels = {**THRESHOLDS, "archive_lag_seconds": 300}
    ok = by_check(evaluate({**POSTGRES, "archiving": ARCHIVING}, levels), "archiving")
    assert [item["status"] for item in ok] == ["ok"]
    behind = by_check(evaluate({**POSTGRES, "archiving": {**ARCHIVING, "lag_seconds": 301}}, levels), "archiving")
    assert behind[0]["status"] == "warn" and behind[0]["detail"] == "WAL archive 301 s behind (warning level 300 s)"
    failing = {**ARCHIVING, "failing": True, "last_failed_wal": "0000000101", "last_failed_time": "18:00"}
    failed = by_check(evaluate({**POSTGRES, "archiving": failing}, levels), "archiving")
    assert failed[0]["status"] == "warn" and "the last attempt failed (0000000101 at 18:00)" in failed[0]["detail"]
    # No archiving (archive_mode off): nothing to report.
    assert not by_check(evaluate(POSTGRES, levels), "archiving")


def test_the_archive_lag_and_failure_are_gauges():
    samples, _families = parse_exposition(render_prometheus({**POSTGRES, "archiving": {**ARCHIVING, "lag_seconds": 7}}))
    labels = frozenset({("host", "db1"), ("tier", "postgres")})
    assert samples[("birtha_mlflow_archive_lag_seconds", labels)] == 7
    assert samples[("birtha_mlflow_archive_failing", labels)] == 0
    assert not [key for key in parse_exposition(render_prometheus(POSTGRES))[0] if "archive" in key[0]]
