#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Measure one tier of the MLflow platform: database sizes, connections, MLflow's counts, bucket usage, disks."""

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_metrics
short_description: Measure a tier of the MLflow platform against warning levels, optionally for Prometheus
version_added: 0.4.0
description:
  - The runbook's I(Performance Monitoring) as one read-only measurement per host and tier. O(tier) selects what is
    measured on this host.
  - V(postgres) (run as the C(postgres) OS user, C(become_user=postgres), with a Python that has psycopg2, on
    Debian C(/usr/bin/python3) with C(python3-psycopg2)) connects over the Unix socket and reads the size of every
    database (C(pg_database_size)), the O(top_tables) largest tables of MLflow's database (indexes and TOAST
    included, with the planner's row estimate), client connections by state against C(max_connections), and
    MLflow's counts by SQL from its tracking database (O(mlflow_database)) - experiments and runs by lifecycle
    stage, registered models, model versions (MLflow's internally deleted versions left out, as its API does),
    and streaming replication - whether the server is a standby, and on a primary how far each standby's replay is
    behind (bytes) - and, where it archives its WAL (pgBackRest), how many seconds the archive is behind and
    whether its last attempt failed (RV(metrics.archiving), warned about above O(thresholds.archive_lag_seconds)).
    The server's C(data_directory) is added to O(data_dirs).
  - V(minio) (run as root) asks MinIO through C(mc) for each bucket's size and object count, the runbook's
    C(mc du). C(mc) reads the alias O(mc_alias) with its credentials from root's mc configuration
    (C(/root/.mc/config.json), written by the C(minio_server) role), so no secret is on a command line.
  - V(seaweedfs) (run as root) lists each bucket through the S3 API at O(s3_url) and adds up its objects' sizes
    and count, with the admin identity from SeaweedFS's identities file (O(identities_file), written by the
    C(seaweedfs_server) role), so no secret passes through Ansible.
  - Every tier reports the filesystem holding each of O(data_dirs) (total, used, free bytes, used percent).
  - Each measurement is compared with the levels in O(thresholds); the result's RV(findings) say V(ok) or V(warn)
    for each, and a service that is not installed or does not answer is a V(warn) finding naming what is missing
    (the module still succeeds and measures what it can).
  - With O(prometheus_textfile), the metrics are written in Prometheus' text exposition format for
    node_exporter's textfile collector (names prefixed C(birtha_mlflow_)), atomically (a temporary file in the
    same directory, renamed) with mode 0644, and only when the content differs.
  - With O(measured), nothing is measured again; the metrics of an earlier run are evaluated and written. That is
    how the C(platform_monitoring) role writes the V(postgres) tier's textfile as root after measuring as
    C(postgres).
options:
  tier:
    description: What this host is measured for.
    type: str
    required: true
    choices: [postgres, minio, seaweedfs, mlflow]
  data_dirs:
    description:
      - Data directories whose filesystem is reported. A directory that does not exist is a V(warn) finding.
    type: list
    elements: path
    default: []
  host_label:
    description: Value of the C(host) label and of RV(metrics.host). Defaults to this host's name.
    type: str
  port:
    description: Port of the local PostgreSQL server (O(tier=postgres)).
    type: int
    default: 5432
  mlflow_database:
    description: MLflow's tracking database, whose tables and counts are read (O(tier=postgres)).
    type: str
    default: mlflow_db
  top_tables:
    description: How many of MLflow's largest tables to report (O(tier=postgres)). V(0) reports none.
    type: int
    default: 10
  server_data_dir:
    description: Add PostgreSQL's C(data_directory) to O(data_dirs) (O(tier=postgres)).
    type: bool
    default: true
  mc_path:
    description: The C(mc) client (O(tier=minio)).
    type: path
    default: /usr/local/bin/mc
  mc_alias:
    description: The alias of root's mc configuration that reaches this MinIO with the root account (O(tier=minio)).
    type: str
    default: birtha
  s3_url:
    description: The S3 gateway as this host reaches it (O(tier=seaweedfs)).
    type: str
    default: http://127.0.0.1:9000
  identities_file:
    description: SeaweedFS's S3 identities file, whose O(identity) lists the buckets (O(tier=seaweedfs)).
    type: path
    default: /etc/seaweedfs/s3.json
  identity:
    description: The identity of O(identities_file) that may list every bucket (O(tier=seaweedfs)).
    type: str
    default: admin
  ca_bundle:
    description: CA bundle that verifies O(s3_url)'s certificate (O(tier=seaweedfs)); the host's trust store if unset.
    type: path
  buckets:
    description: Buckets to measure (O(tier=minio), O(tier=seaweedfs)). Empty measures every bucket.
    type: list
    elements: str
    default: []
  measure_buckets:
    description:
      - Measure bucket usage (O(tier=minio), O(tier=seaweedfs)). Every host of a distributed store sees the same
        buckets; measure
        them on one.
    type: bool
    default: true
  thresholds:
    description: Warning levels. V(0) (or null) turns a check off.
    type: dict
    default: {}
    suboptions:
      disk_used_percent:
        description: Warn when the filesystem of a data directory is at least this full.
        type: float
        default: 85
      connections_used_percent:
        description: Warn when client connections reach this share of C(max_connections).
        type: float
        default: 80
      archive_lag_seconds:
        description: Where PostgreSQL archives its WAL, warn when the oldest segment waiting to be archived is older
          than this, or the last attempt failed.
        type: int
        default: 300
        version_added: 0.7.0
      database_size_bytes:
        description: Warn when a database is larger than this.
        type: int
        default: 0
      bucket_size_bytes:
        description: Warn when a bucket holds more than this.
        type: int
        default: 0
  prometheus_textfile:
    description:
      - Write the metrics to this file in Prometheus' text exposition format, for node_exporter's textfile
        collector (C(--collector.textfile.directory)); the name should end in C(.prom). Its directory must exist.
      - Not written in check mode; RV(textfile.changed) then says whether it would change.
    type: path
  measured:
    description: RV(metrics) of an earlier run of this module; evaluated and written instead of measuring again.
    type: dict
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Measures as usual (it only reads); does not write O(prometheus_textfile), and RV(textfile.changed) says
      whether it would change.
  diff_mode:
    support: none
requirements:
  - psycopg2 (O(tier=postgres)), C(mc) (O(tier=minio)), boto3 (O(tier=seaweedfs)) on the measured host
notes:
  - Connections are client backends of C(pg_stat_activity) (background workers left out), the monitoring
    connection itself included.
  - The textfile holds no timestamp, so unchanged data leaves it unchanged; node_exporter reports its age as
    C(node_textfile_mtime_seconds).
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Measure the database tier
  birtha.mlflow.platform_metrics:
    tier: postgres
    mlflow_database: mlflow_db
    top_tables: 5
    thresholds:
      database_size_bytes: "{{ 20 * 1024 ** 3 }}"
      connections_used_percent: 80
  become: true
  become_user: postgres
  vars:
    ansible_python_interpreter: /usr/bin/python3
  register: db_metrics

- name: Measure the artifact tier and write a textfile for node_exporter
  birtha.mlflow.platform_metrics:
    tier: minio
    data_dirs: [/var/lib/minio/data]
    thresholds:
      bucket_size_bytes: "{{ 500 * 1024 ** 3 }}"
    prometheus_textfile: /var/lib/prometheus/node-exporter/birtha_mlflow_minio.prom
  become: true

- name: Write the database tier's textfile as root from what was measured as postgres
  birtha.mlflow.platform_metrics:
    tier: postgres
    measured: "{{ db_metrics.metrics }}"
    prometheus_textfile: /var/lib/prometheus/node-exporter/birtha_mlflow_postgres.prom
  become: true

- name: Show the warnings
  ansible.builtin.debug:
    msg: "{{ db_metrics.findings | selectattr('status', 'eq', 'warn') | map(attribute='detail') | list }}"
"""

RETURN = r"""
findings:
  description: One entry per check, warnings and services that did not answer included.
  returned: always
  type: list
  elements: dict
  contains:
    tier: {description: The tier measured, type: str, sample: postgres}
    check:
      description: >-
        V(disk), V(connections), V(database_size), V(bucket_size), or what was unavailable (V(postgresql),
        V(mlflow_database), V(psycopg2), V(minio), V(mc), V(seaweedfs), V(boto3), V(data_dir)).
      type: str
      sample: database_size
    status: {description: V(ok) or V(warn), type: str, sample: warn}
    subject: {description: "The database, bucket or directory concerned", type: str, sample: mlflow_db}
    value: {description: The measured value, type: float, sample: 8413727}
    threshold: {description: The warning level compared with, type: float, sample: 1}
    detail: {description: In words, type: str, sample: "database mlflow_db is 8.0 MiB, above the warning level of 1 B"}
  sample:
    - {tier: postgres, check: database_size, status: warn, subject: mlflow_db, value: 8413727, threshold: 1,
       detail: "database mlflow_db is 8.0 MiB, above the warning level of 1 B"}
warnings_count:
  description: How many RV(findings) are V(warn).
  returned: always
  type: int
  sample: 1
metrics:
  description: What was measured (the input of O(measured)). Parts of other tiers are absent.
  returned: always
  type: dict
  contains:
    tier: {description: The tier, type: str, sample: postgres}
    host: {description: O(host_label), type: str, sample: db1}
    up:
      description: Per service measured, whether it answered.
      type: dict
      sample: {postgresql: true}
    problems:
      description: What could not be measured, as C(check) and C(detail).
      type: list
      elements: dict
      sample: []
    databases: {description: Bytes per database (V(postgres)), type: dict, sample: {mlflow_db: 8413727}}
    tables:
      description: MLflow's largest tables, largest first (V(postgres)).
      type: list
      elements: dict
      sample: [{schema: public, table: metrics, total_bytes: 98304, table_bytes: 8192, rows_estimate: 120}]
    replication:
      description:
        - Streaming replication (V(postgres)) - C(in_recovery) (a standby), on a standby C(replay_behind_bytes), on a
          primary C(standbys) with C(name), C(state), C(sync_state) and C(lag_bytes) each.
      type: dict
      sample: {in_recovery: false, replay_behind_bytes: null, standbys: [{name: db2, state: streaming,
        sync_state: sync, lag_bytes: 0}]}
      version_added: 0.7.0
    archiving:
      description:
        - WAL archiving (V(postgres)), present only where C(archive_mode) is on - C(lag_seconds) (the age of the
          oldest segment waiting to be archived, 0 when none waits), C(failing) (the last attempt failed), and
          C(pg_stat_archiver)'s C(failed_count), C(last_archived_wal), C(last_archived_time), C(last_failed_wal),
          C(last_failed_time).
      type: dict
      sample: {mode: "on", lag_seconds: 0, failing: false, failed_count: 0, last_archived_wal: 000000010000000000000007}
      version_added: 0.7.0
    connections:
      description: Client connections (V(postgres)).
      type: dict
      sample: {by_state: {active: 1, idle: 9}, total: 10, max: 100, used_percent: 10.0}
    mlflow:
      description: MLflow's counts from its tracking database (V(postgres)).
      type: dict
      sample: {experiments: {total: 3, active: 2, deleted: 1}, runs: {total: 12, active: 12, deleted: 0},
               registered_models: 1, model_versions: {total: 2, by_stage: {Production: 1, Archived: 1}}}
    buckets:
      description: Bytes and objects per bucket (V(minio), V(seaweedfs)).
      type: dict
      sample: {mlflow-artifacts: {size_bytes: 1048576, objects: 42}}
    disks:
      description: The filesystem of each data directory.
      type: list
      elements: dict
      sample: [{path: /var/lib/minio/data, exists: true, mount: /, total_bytes: 107374182400,
                used_bytes: 53687091200, free_bytes: 53687091200, used_percent: 50.0}]
textfile:
  description: The Prometheus textfile, when O(prometheus_textfile) is set.
  returned: when O(prometheus_textfile) is set
  type: dict
  contains:
    path:
      description: O(prometheus_textfile).
      type: str
      sample: /var/lib/prometheus/node-exporter/birtha_mlflow_postgres.prom
    changed:
      description: Whether the file's content differs from the metrics (in check mode, whether it would change).
      type: bool
      sample: false
    written: {description: Whether the file was written (never in check mode), type: bool, sample: false}
  sample: {path: /var/lib/prometheus/node-exporter/birtha_mlflow_postgres.prom, changed: false, written: false}
"""

import json
import os
import socket
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.metric_findings import evaluate
from ansible_collections.birtha.mlflow.plugins.module_utils.pg_stats import (
    archiving_state,
    connection_usage,
    database_sizes,
    largest_tables,
    mlflow_counts,
    replication_state,
    server_setting,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import disk_usage
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PSYCOPG2_IMPORT_ERROR, connect, psycopg2
from ansible_collections.birtha.mlflow.plugins.module_utils.prometheus import render_prometheus, write_textfile
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import BOTO3_IMPORT_ERROR, new_s3_client
from ansible_collections.birtha.mlflow.plugins.module_utils.trust import tls_verify


class McError(Exception):
    """mc answered with an error record (or not at all)."""


def argument_spec() -> dict[str, Any]:
    return {
        "tier": {"type": "str", "required": True, "choices": ["postgres", "minio", "seaweedfs", "mlflow"]},
        "data_dirs": {"type": "list", "elements": "path", "default": []},
        "host_label": {"type": "str"},
        "port": {"type": "int", "default": 5432},
        "mlflow_database": {"type": "str", "default": "mlflow_db"},
        "top_tables": {"type": "int", "default": 10},
        "server_data_dir": {"type": "bool", "default": True},
        "mc_path": {"type": "path", "default": "/usr/local/bin/mc"},
        "mc_alias": {"type": "str", "default": "birtha"},
        "s3_url": {"type": "str", "default": "http://127.0.0.1:9000"},
        "identities_file": {"type": "path", "default": "/etc/seaweedfs/s3.json"},
        "identity": {"type": "str", "default": "admin"},
        "ca_bundle": {"type": "path"},
        "buckets": {"type": "list", "elements": "str", "default": []},
        "measure_buckets": {"type": "bool", "default": True},
        "thresholds": {
            "type": "dict",
            "default": {},
            "options": {
                "disk_used_percent": {"type": "float", "default": 85},
                "connections_used_percent": {"type": "float", "default": 80},
                "archive_lag_seconds": {"type": "int", "default": 300},
                "database_size_bytes": {"type": "int", "default": 0},
                "bucket_size_bytes": {"type": "int", "default": 0},
            },
        },
        "prometheus_textfile": {"type": "path"},
        "measured": {"type": "dict"},
    }


# --- words -------------------------------------------------------------------------------------------------------


# --- disks -------------------------------------------------------------------------------------------------------


# --- PostgreSQL --------------------------------------------------------------------------------------------------


def postgres_problem(exc: Exception, port: int) -> str:
    text = str(exc).strip()
    if 'role "' in text and "does not exist" in text:
        return (
            f"PostgreSQL refused the connection ({text}): run the module as the postgres OS user "
            "(become_user: postgres)."
        )
    return (
        f"PostgreSQL does not answer on port {port} (is it installed and running? systemctl status postgresql): {text}"
    )


def measure_server(cursor: Any) -> dict[str, Any]:
    """Sizes, connections and settings, from the maintenance database."""
    usage = connection_usage(cursor)
    return {
        "databases": database_sizes(cursor),
        "connections": {
            "by_state": usage.by_state,
            "total": usage.in_use,
            "max": usage.max_connections,
            "used_percent": usage.percent,
        },
        "data_directory": server_setting(cursor, "data_directory"),
        "replication": replication_state(cursor),
        "archiving": archiving_state(cursor),
    }


def measure_mlflow_database(cursor: Any, top_tables: int) -> dict[str, Any]:
    return {
        "tables": largest_tables(cursor, top_tables) if top_tables > 0 else [],
        "mlflow": mlflow_counts(cursor),
    }


def measure_postgres(params: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """Fill metrics with the database tier's numbers; return the data directories found on the way."""
    if PSYCOPG2_IMPORT_ERROR is not None:
        metrics["up"]["postgresql"] = False
        add_problem(
            metrics,
            "psycopg2",
            "psycopg2 is not installed for this Python (on Debian: apt install python3-psycopg2, and run the module "
            "with ansible_python_interpreter=/usr/bin/python3)",
        )
        return []
    port = params["port"]
    try:
        with connect("postgres", port=port) as connection, connection.cursor() as cursor:
            server = measure_server(cursor)
            connection.rollback()
    except psycopg2.Error as exc:
        metrics["up"]["postgresql"] = False
        add_problem(metrics, "postgresql", postgres_problem(exc, port))
        return []
    metrics["up"]["postgresql"] = True
    metrics["databases"] = server["databases"]
    metrics["connections"] = server["connections"]
    metrics["replication"] = server["replication"]
    if server["archiving"]:
        metrics["archiving"] = server["archiving"]
    database = params["mlflow_database"]
    if database not in server["databases"]:
        add_problem(metrics, "mlflow_database", f"MLflow's database {database} does not exist on this server")
    else:
        try:
            with connect(database, port=port) as connection, connection.cursor() as cursor:
                metrics.update(measure_mlflow_database(cursor, params["top_tables"]))
                connection.rollback()
        except psycopg2.Error as exc:
            add_problem(metrics, "mlflow_database", f"MLflow's database {database} could not be read: {exc}".strip())
    return [server["data_directory"]] if params["server_data_dir"] else []


# --- MinIO -------------------------------------------------------------------------------------------------------


def parse_json_lines(text: str) -> list[dict[str, Any]]:
    """mc --json prints one JSON object per line."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise McError(f"mc printed something that is not JSON: {line[:200]}") from exc
        if isinstance(record, dict):
            records.append(record)
    return records


def mc_error(records: list[dict[str, Any]]) -> str | None:
    """The message of the first error record: 'message: cause', or None when every record succeeded."""
    for record in records:
        if record.get("status") == "error":
            error = record.get("error") or {}
            message = str(error.get("message", "unknown error"))
            cause = (error.get("cause") or {}).get("message")
            return f"{message}: {cause}" if cause else message
    return None


def parse_mc_ls_buckets(text: str) -> list[str]:
    """Bucket names from `mc --json ls <alias>/`."""
    records = parse_json_lines(text)
    error = mc_error(records)
    if error:
        raise McError(error)
    return sorted(str(record["key"]).rstrip("/") for record in records if record.get("type") == "folder")


def parse_mc_du(text: str) -> dict[str, int]:
    """Size and object count from `mc --json du <alias>/<bucket>` (its summary record)."""
    records = parse_json_lines(text)
    error = mc_error(records)
    if error:
        raise McError(error)
    summaries = [record for record in records if "size" in record]
    if not summaries:
        raise McError("mc du printed no size")
    summary = summaries[-1]
    return {"size_bytes": int(summary["size"]), "objects": int(summary.get("objects", 0))}


def run_mc(module: AnsibleModule, args: list[str]) -> str:
    """stdout of `mc --json <args>`; McError with mc's own message when it fails."""
    rc, stdout, stderr = module.run_command([module.params["mc_path"], "--json", *args])
    if rc != 0:
        try:
            message = mc_error(parse_json_lines(stdout))
        except McError:
            message = None
        raise McError(message or stderr.strip() or stdout.strip() or f"mc exited with {rc}")
    return stdout


def measure_minio(module: AnsibleModule, metrics: dict[str, Any]) -> None:
    params = module.params
    if not params["measure_buckets"]:
        return
    mc = params["mc_path"]
    if not (os.path.isfile(mc) and os.access(mc, os.X_OK)):
        metrics["up"]["minio"] = False
        add_problem(metrics, "mc", f"mc is not installed at {mc} (the minio_server role installs it)")
        return
    alias = params["mc_alias"]
    try:
        names = parse_mc_ls_buckets(run_mc(module, ["ls", f"{alias}/"]))
    except McError as exc:
        metrics["up"]["minio"] = False
        add_problem(
            metrics,
            "minio",
            f"MinIO did not list its buckets through mc alias '{alias}' ({exc}). Is MinIO running (systemctl status "
            f"minio) and is the alias in root's mc configuration (/root/.mc/config.json, written by minio_server)?",
        )
        return
    metrics["up"]["minio"] = True
    measure_each_bucket(
        metrics,
        "minio",
        params["buckets"] or names,
        names,
        lambda name: parse_mc_du(run_mc(module, ["du", f"{alias}/{name}"])),
        (McError,),
    )


# --- SeaweedFS ---------------------------------------------------------------------------------------------------


def identity_keys(path: str, name: str) -> tuple[str, str]:
    """(access key, secret key) of one identity of SeaweedFS's identities file; ValueError naming what is missing."""
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as exc:
        raise ValueError(
            f"cannot read {path}: {exc.strerror} (run as root; the seaweedfs_server role writes it)"
        ) from exc
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from exc
    for identity in config.get("identities", []):
        credentials = identity.get("credentials") or []
        if identity.get("name") == name and credentials:
            return str(credentials[0].get("accessKey", "")), str(credentials[0].get("secretKey", ""))
    raise ValueError(f"{path} has no identity {name!r} with credentials")


def bucket_usage(client: Any, bucket: str) -> dict[str, int]:
    """Bytes and objects of one bucket, from its listing (a page per 1000 objects)."""
    size = objects = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            size += int(entry.get("Size", 0))
            objects += 1
    return {"size_bytes": size, "objects": objects}


def measure_seaweedfs(module: AnsibleModule, metrics: dict[str, Any]) -> None:
    params = module.params
    if not params["measure_buckets"]:
        return
    if BOTO3_IMPORT_ERROR:
        metrics["up"]["seaweedfs"] = False
        add_problem(metrics, "boto3", "boto3 is not installed for this Python (on Debian: apt install python3-boto3)")
        return
    try:
        access_key, secret_key = identity_keys(params["identities_file"], params["identity"])
    except ValueError as exc:
        metrics["up"]["seaweedfs"] = False
        add_problem(metrics, "seaweedfs", str(exc))
        return
    from botocore.exceptions import BotoCoreError, ClientError

    verify = tls_verify(params["ca_bundle"], True)
    client = new_s3_client(params["s3_url"], access_key, secret_key, verify=verify, timeout=30, attempts=2)
    try:
        names = sorted(bucket["Name"] for bucket in client.list_buckets().get("Buckets", []))
    except (BotoCoreError, ClientError) as exc:
        metrics["up"]["seaweedfs"] = False
        add_problem(
            metrics,
            "seaweedfs",
            f"SeaweedFS did not list its buckets at {params['s3_url']} ({exc}). Is it running (systemctl status "
            "seaweedfs)?",
        )
        return
    metrics["up"]["seaweedfs"] = True
    measure_each_bucket(
        metrics,
        "seaweedfs",
        params["buckets"] or names,
        names,
        lambda name: bucket_usage(client, name),
        (BotoCoreError, ClientError),
    )


# --- findings ----------------------------------------------------------------------------------------------------


def add_problem(metrics: dict[str, Any], check: str, detail: str) -> None:
    metrics.setdefault("problems", []).append({"check": check, "detail": detail})


def measure_each_bucket(
    metrics: dict[str, Any],
    check: str,
    wanted: list[str],
    existing: list[str],
    usage: Callable[[str], dict[str, int]],
    errors: tuple[type[Exception], ...],
) -> None:
    """metrics["buckets"]: the usage of each wanted bucket. A missing or unmeasurable bucket is a problem of the
    store's check, not a failure: the other buckets and tiers are still reported."""
    buckets: dict[str, dict[str, int]] = {}
    for name in wanted:
        if name not in existing:
            add_problem(metrics, check, f"bucket {name} does not exist")
            continue
        try:
            buckets[name] = usage(name)
        except errors as exc:
            add_problem(metrics, check, f"bucket {name} could not be measured: {exc}")
    metrics["buckets"] = buckets


# --- module ------------------------------------------------------------------------------------------------------


def measure(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    metrics: dict[str, Any] = {
        "tier": params["tier"],
        "host": params["host_label"] or socket.gethostname(),
        "up": {},
        "problems": [],
    }
    data_dirs: list[str] = list(params["data_dirs"])
    if params["tier"] == "postgres":
        metrics["mlflow_database"] = params["mlflow_database"]
        data_dirs += [path for path in measure_postgres(params, metrics) if path not in data_dirs]
    elif params["tier"] == "minio":
        measure_minio(module, metrics)
    elif params["tier"] == "seaweedfs":
        measure_seaweedfs(module, metrics)
    metrics["disks"] = [disk_usage(path) for path in unique(data_dirs)]
    return metrics


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        if params["measured"]:
            metrics = dict(params["measured"])
            if metrics.get("tier") != params["tier"]:
                module.fail_json(
                    msg=f"measured: these metrics are of tier {metrics.get('tier')!r}, not {params['tier']!r}."
                )
            if params["host_label"]:
                metrics["host"] = params["host_label"]
        else:
            metrics = measure(module)
        findings = evaluate(metrics, params["thresholds"])
        warnings_count = sum(1 for item in findings if item["status"] == "warn")
        metrics["warnings_count"] = warnings_count
        result: dict[str, Any] = {"changed": False, "findings": findings, "warnings_count": warnings_count}
        path = params["prometheus_textfile"]
        if path:
            if not os.path.isdir(os.path.dirname(path) or ".") and not module.check_mode:
                module.fail_json(
                    msg=f"prometheus_textfile: directory {os.path.dirname(path)} does not exist; create it (it is "
                    "node_exporter's --collector.textfile.directory).",
                    **result,
                    metrics=metrics,
                )
            result["textfile"] = write_textfile(path, render_prometheus(metrics), module.check_mode)
            result["changed"] = result["textfile"]["changed"]
    except OSError as exc:
        module.fail_json(msg=f"Monitoring of the {params['tier']} tier failed: {exc}", exception=traceback.format_exc())
    module.exit_json(metrics=metrics, **result)


if __name__ == "__main__":
    main()
