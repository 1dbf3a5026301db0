# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""A tier's measurements in Prometheus' text exposition format, written as a node_exporter textfile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import write_atomic

METRIC_PREFIX = "birtha_mlflow_"
# node_exporter reads the textfile as another user: world-readable, and it holds no secret.
TEXTFILE_MODE = 0o644


def escape_label_value(value: str) -> str:
    """Label values escape backslash, double quote and line feed (the text exposition format)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def sample_line(name: str, labels: dict[str, str], value: float) -> str:
    rendered = ",".join(f'{key}="{escape_label_value(text)}"' for key, text in labels.items())
    return f"{name}{{{rendered}}} {format_value(value)}" if rendered else f"{name} {format_value(value)}"


Samples = list[tuple[dict[str, str], float]]

# name (without prefix), help, function metrics -> [(extra labels, value)]
FAMILIES: list[tuple[str, str, Callable[[dict[str, Any]], Samples]]] = [
    (
        "up",
        "Whether the service answered the measurement (1) or not (0).",
        lambda m: [({"service": service}, bool(up)) for service, up in sorted(m.get("up", {}).items())],
    ),
    (
        "warnings",
        "Findings at or above their warning level, or measurements that failed.",
        lambda m: [({}, m.get("warnings_count", 0))],
    ),
    (
        "database_size_bytes",
        "Size of the database on disk (pg_database_size).",
        lambda m: [({"database": name}, size) for name, size in sorted(m.get("databases", {}).items())],
    ),
    (
        "table_size_bytes",
        "Size of one of MLflow's largest tables, indexes and TOAST included (pg_total_relation_size).",
        lambda m: [
            ({"database": m.get("mlflow_database", ""), "table": f"{t['schema']}.{t['table']}"}, t["total_bytes"])
            for t in m.get("tables", [])
        ],
    ),
    (
        "table_rows_estimate",
        "The planner's row estimate of one of MLflow's largest tables (reltuples).",
        lambda m: [
            ({"database": m.get("mlflow_database", ""), "table": f"{t['schema']}.{t['table']}"}, t["rows_estimate"])
            for t in m.get("tables", [])
            if t.get("rows_estimate") is not None
        ],
    ),
    (
        "connections",
        "Client connections to PostgreSQL by state.",
        lambda m: [({"state": s}, n) for s, n in sorted(m.get("connections", {}).get("by_state", {}).items())],
    ),
    (
        "connections_max",
        "PostgreSQL's max_connections.",
        lambda m: [({}, m["connections"]["max"])] if "connections" in m else [],
    ),
    (
        "postgres_in_recovery",
        "Whether this PostgreSQL is a standby (1) or a primary (0).",
        lambda m: [({}, m["replication"]["in_recovery"])] if "replication" in m else [],
    ),
    (
        "replication_lag_bytes",
        "How far a standby's replay is behind this primary's WAL (pg_stat_replication), by standby.",
        lambda m: [
            ({"standby": s["name"], "sync_state": s["sync_state"]}, s["lag_bytes"])
            for s in m.get("replication", {}).get("standbys", [])
            if s.get("lag_bytes") is not None
        ],
    ),
    (
        "archive_lag_seconds",
        "How far PostgreSQL's WAL archive is behind: the age of the oldest segment waiting to be archived (0: none).",
        lambda m: [({}, m["archiving"]["lag_seconds"])] if "archiving" in m else [],
    ),
    (
        "archive_failing",
        "Whether PostgreSQL's last attempt to archive a WAL segment failed (1) or not (0).",
        lambda m: [({}, int(m["archiving"]["failing"]))] if "archiving" in m else [],
    ),
    (
        "experiments",
        "MLflow experiments by lifecycle stage.",
        lambda m: lifecycle_samples(m, "experiments"),
    ),
    (
        "runs",
        "MLflow runs by lifecycle stage.",
        lambda m: lifecycle_samples(m, "runs"),
    ),
    (
        "registered_models",
        "MLflow registered models.",
        lambda m: (
            [({"database": m.get("mlflow_database", "")}, m["mlflow"]["registered_models"])] if "mlflow" in m else []
        ),
    ),
    (
        "model_versions",
        "MLflow model versions (MLflow's internally deleted ones left out).",
        lambda m: (
            [({"database": m.get("mlflow_database", "")}, m["mlflow"]["model_versions"]["total"])]
            if "mlflow" in m
            else []
        ),
    ),
    (
        "bucket_size_bytes",
        "Bytes stored in the bucket (mc du).",
        lambda m: [({"bucket": b}, u["size_bytes"]) for b, u in sorted(m.get("buckets", {}).items())],
    ),
    (
        "bucket_objects",
        "Objects stored in the bucket (mc du).",
        lambda m: [({"bucket": b}, u["objects"]) for b, u in sorted(m.get("buckets", {}).items())],
    ),
    (
        "filesystem_size_bytes",
        "Size of the filesystem holding the data directory.",
        lambda m: disk_samples(m, "total_bytes"),
    ),
    (
        "filesystem_used_bytes",
        "Bytes used on the filesystem holding the data directory.",
        lambda m: disk_samples(m, "used_bytes"),
    ),
    (
        "filesystem_free_bytes",
        "Bytes a non-root user may still write on the filesystem holding the data directory.",
        lambda m: disk_samples(m, "free_bytes"),
    ),
]


def lifecycle_samples(metrics: dict[str, Any], kind: str) -> Samples:
    if "mlflow" not in metrics:
        return []
    counts = metrics["mlflow"][kind]
    database = metrics.get("mlflow_database", "")
    return [({"database": database, "lifecycle_stage": stage}, counts[stage]) for stage in ("active", "deleted")]


def disk_samples(metrics: dict[str, Any], key: str) -> Samples:
    return [({"path": d["path"]}, d[key]) for d in metrics.get("disks", []) if d.get("exists")]


def render_prometheus(metrics: dict[str, Any]) -> str:
    """The metrics in Prometheus' text exposition format: HELP and TYPE per family, host and tier on each sample."""
    base = {"host": str(metrics.get("host", "")), "tier": str(metrics["tier"])}
    lines: list[str] = []
    for suffix, text, samples_of in FAMILIES:
        samples = samples_of(metrics)
        if not samples:
            continue
        name = METRIC_PREFIX + suffix
        lines.append(f"# HELP {name} {escape_help(text)}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(sample_line(name, {**base, **labels}, value) for labels, value in samples)
    return "\n".join(lines) + "\n"


def write_textfile(path: str, content: str, check_mode: bool) -> dict[str, Any]:
    """Write content to path atomically (temporary file in the same directory, then rename), mode 0644, only
    when it differs. In check mode, only say whether it would change."""
    try:
        with open(path, encoding="utf-8") as existing:
            changed = existing.read() != content
    except FileNotFoundError:
        changed = True
    if not changed or check_mode:
        return {"path": path, "changed": changed, "written": False}
    write_atomic(path, content, TEXTFILE_MODE)
    return {"path": path, "changed": True, "written": True}
