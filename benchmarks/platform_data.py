"""Generated MLflow data and the runbook's reference procedures, run on an MLflow tracking host with the server's
own Python (/opt/mlflow/venv/bin/python), so both sides of a comparison meet the same server, database and bucket.

    python platform_data.py generate   --experiment NAME --runs N [--days-ago D] [--deleted-days-ago D] ...
    python platform_data.py runbook-retention --experiment NAME --days D
    python platform_data.py runbook-gc  --experiment NAME
    python platform_data.py search     --experiment NAME --repeat R --metric-above X
    python platform_data.py state      --experiment NAME ...
    python platform_data.py drop       --experiment NAME ...

Secrets never come from the command line: the server's mlflow.env is read for the backend store URI and the S3
credentials; MLFLOW_TRACKING_URI / MLFLOW_TRACKING_USERNAME from the environment and MLFLOW_TRACKING_PASSWORD from the
environment or, with BIRTHA_SECRETS_ON_STDIN=1, from a JSON object on stdin (Ansible's `environment` under become
puts its values on sudo's command line, which sudo logs). Each command prints one JSON object.

On a database host without a tracking server (molecule/postgres), BIRTHA_MLFLOW_ENV_FILE names the schema-only
environment file (mlflow_server's entry point schema): MLflow's client then writes to the database directly, and
there are no artifacts (objects are null).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

ENV_FILE = os.environ.get("BIRTHA_MLFLOW_ENV_FILE", "/etc/mlflow/mlflow.env")
DAY_MS = 86_400_000


def server_env() -> dict[str, str]:
    """The tracking server's own settings (backend store, S3 endpoint and keys)."""
    values = {}
    with open(ENV_FILE, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value.strip().strip('"').strip("'")
    return values


def db_connection() -> Any:
    import psycopg2
    from sqlalchemy.engine import make_url

    # SQLAlchemy's own reading of the URI, as the server connects: a database cluster's multi-host form
    # (?host=db1:5432&host=db2:5432) is no URI libpq parses.
    url = make_url(server_env()["MLFLOW_BACKEND_STORE_URI"])
    args, params = url.get_dialect()().create_connect_args(url)
    return psycopg2.connect(*args, **params)


def s3() -> Any:
    """The artifact store's client, or None on a database host alone (no S3 settings)."""
    import boto3

    env = server_env()
    if "MLFLOW_S3_ENDPOINT_URL" not in env:
        return None
    return boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


def bucket_prefix(artifact_uri: str) -> tuple[str, str]:
    """The bucket and key of a mlflow-artifacts:/ URI under the server's destination (s3://<bucket>)."""
    destination = os.environ.get("BIRTHA_ARTIFACTS_DESTINATION", "")
    bucket = destination.removeprefix("s3://").strip("/")
    return bucket, artifact_uri.split(":", 1)[1].lstrip("/")


def experiment_id(cursor: Any, name: str) -> int:
    cursor.execute("SELECT experiment_id FROM experiments WHERE name = %s", (name,))
    row = cursor.fetchone()
    if not row:
        sys.exit(f"no experiment {name!r}")
    return int(row[0])


def generate(args: argparse.Namespace) -> dict[str, Any]:
    """An experiment (through MLflow's API, so its artifact location is the server's) and N runs written in bulk
    with the rows MLflow's create_run, log_batch and set_tag write: run g is named r<g>, started days_ago days
    (the first `recent` runs: now) minus g seconds, FAILED when g is a multiple of 5, tagged team=even|odd by g;
    optionally already deleted some days ago."""
    from mlflow import MlflowClient

    # Without a tracking server (database host alone), the client writes to the backend store directly.
    client = MlflowClient(os.environ.get("MLFLOW_TRACKING_URI") or server_env()["MLFLOW_BACKEND_STORE_URI"])
    exp_id = int(client.create_experiment(args.experiment))
    now = int(time.time() * 1000)
    start = now - int(args.days_ago * DAY_MS)
    deleted_time = now - int(args.deleted_days_ago * DAY_MS) if args.deleted_days_ago is not None else None
    seed = args.seed or args.experiment
    with db_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT artifact_location FROM experiments WHERE experiment_id = %s", (exp_id,))
        root = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
            "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
            "SELECT md5(%(seed)s || g), 'r' || lpad(g::text, 7, '0'), 'UNKNOWN', '', '', 'bench', "
            "CASE WHEN g %% 5 = 0 THEN 'FAILED' ELSE 'FINISHED' END, "
            "CASE WHEN g <= %(recent)s THEN %(now)s ELSE %(start)s END - g * 1000, "
            "CASE WHEN g <= %(recent)s THEN %(now)s ELSE %(start)s END - g * 1000 + 60000, "
            "'', %(stage)s, %(root)s || '/' || md5(%(seed)s || g) || '/artifacts', %(exp)s, %(deleted)s "
            "FROM generate_series(1, %(runs)s) g",
            {
                "seed": seed,
                "start": start,
                "stage": "deleted" if deleted_time is not None else "active",
                "root": root,
                "exp": exp_id,
                "deleted": deleted_time,
                "runs": args.runs,
                "recent": args.recent,
                "now": now,
            },
        )
        cursor.execute(
            "INSERT INTO tags (key, value, run_uuid) SELECT k, v, run_uuid FROM runs, LATERAL (VALUES "
            "('mlflow.runName', name), ('mlflow.user', 'bench'), "
            "('team', CASE WHEN right(name, 1) IN ('0','2','4','6','8') THEN 'even' ELSE 'odd' END)) t(k, v) "
            "WHERE experiment_id = %s",
            (exp_id,),
        )
        cursor.execute(
            "INSERT INTO params (key, value, run_uuid) SELECT 'p' || i, 'v' || i || '-' || name, run_uuid "
            "FROM runs, generate_series(1, %s) i WHERE experiment_id = %s",
            (args.params, exp_id),
        )
        # Metric values vary per run and step: 'm1' is in [0, 1), so a filter like metrics.m1 > 0.9 picks ~10%.
        cursor.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "SELECT 'm' || i, ('x' || substr(md5(run_uuid || i || s), 1, 8))::bit(32)::bigint::float8 / 4294967296, "
            "start_time + s * 1000, run_uuid, s, false FROM runs, generate_series(1, %s) i, generate_series(0, %s) s "
            "WHERE experiment_id = %s",
            (args.metrics, args.history - 1, exp_id),
        )
        cursor.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "SELECT DISTINCT ON (m.run_uuid, m.key) m.key, m.value, m.timestamp, m.step, m.is_nan, m.run_uuid "
            "FROM metrics m JOIN runs r USING (run_uuid) WHERE r.experiment_id = %s "
            "ORDER BY m.run_uuid, m.key, m.step DESC",
            (exp_id,),
        )
        cursor.execute("SELECT artifact_uri FROM runs WHERE experiment_id = %s", (exp_id,))
        uris = [row[0] for row in cursor.fetchall()]
    with db_connection() as connection, connection.cursor() as cursor:
        # What autovacuum would soon do after a bulk load: no comparison should gain from missing statistics.
        cursor.execute("ANALYZE runs, tags, params, metrics, latest_metrics")
    objects = 0
    if args.artifacts:
        client_s3 = s3()
        if client_s3 is None:
            sys.exit("--artifacts needs an artifact store: run this on a tracking host")
        body = os.urandom(args.artifact_bytes)

        def upload(uri: str) -> int:
            bucket, prefix = bucket_prefix(uri)
            for index in range(args.artifacts):
                client_s3.put_object(Bucket=bucket, Key=f"{prefix}/file{index}.bin", Body=body)
            return args.artifacts

        with ThreadPoolExecutor(max_workers=8) as pool:
            objects = sum(pool.map(upload, uris))
    return {"experiment_id": exp_id, "runs": len(uris), "objects": objects}


def runbook_retention(args: argparse.Namespace) -> dict[str, Any]:
    """The runbook's Data Retention snippet, as written (only scoped to one experiment)."""
    import mlflow

    exp_id = mlflow.get_experiment_by_name(args.experiment).experiment_id
    started = time.monotonic()
    # --- the runbook's code ---
    cutoff_date = datetime.now() - timedelta(days=args.days)
    runs = mlflow.search_runs(experiment_ids=[exp_id])
    old_runs = runs[runs["start_time"] < cutoff_date.astimezone()]
    for run_id in old_runs["run_id"]:
        mlflow.delete_run(run_id)
    # ---
    return {"seconds": time.monotonic() - started, "count": len(old_runs)}


def runbook_gc(args: argparse.Namespace) -> dict[str, Any]:
    """mlflow gc's run purge (mlflow.cli._gc_tracking_resources, what `mlflow gc --run-ids ...` runs) for the
    experiment's deleted runs; deleted experiments and logged models elsewhere are left alone (skipped)."""
    from mlflow.cli import _gc_tracking_resources, _get_store

    env = server_env()
    os.environ.update({k: env[k] for k in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    with db_connection() as connection, connection.cursor() as cursor:
        exp_id = experiment_id(cursor, args.experiment)
        cursor.execute("SELECT run_uuid FROM runs WHERE experiment_id = %s AND lifecycle_stage = 'deleted'", (exp_id,))
        run_ids = [row[0] for row in cursor.fetchall()]
    store = _get_store(env["MLFLOW_BACKEND_STORE_URI"], None)
    started = time.monotonic()
    _gc_tracking_resources(
        backend_store=store,
        run_ids=run_ids,
        experiment_ids=None,
        logged_model_ids=None,
        older_than=None,
        time_delta=0,
        skip_experiments=True,
        skip_logged_models=True,
    )
    return {"seconds": time.monotonic() - started, "count": len(run_ids)}


def search(args: argparse.Namespace) -> dict[str, Any]:
    """search_runs newest first, filtered by a metric, 100 results; the median of R calls, through the tracking
    server (what a client waits for) and through MLflow's own SQL store in-process (what the server does for it,
    without HTTP and authentication)."""
    from mlflow import MlflowClient
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    client = MlflowClient()
    store = SqlAlchemyStore(server_env()["MLFLOW_BACKEND_STORE_URI"], "mlflow-artifacts:/")
    exp_id = client.get_experiment_by_name(args.experiment).experiment_id
    query = {
        "filter_string": f"metrics.m1 > {args.metric_above}",
        "order_by": ["attributes.start_time DESC"],
        "max_results": 100,
    }
    result: dict[str, Any] = {}
    for side, call in (
        ("api", lambda: client.search_runs([exp_id], **query)),
        ("store", lambda: store.search_runs([exp_id], run_view_type=1, **query)),
    ):
        timings, ids = [], []
        for _repeat in range(args.repeat):
            started = time.monotonic()
            page = call()
            timings.append(time.monotonic() - started)
            ids = [run.info.run_id for run in page]
        result[side] = {"median": statistics.median(timings), "run_ids": ids}
    if result["api"]["run_ids"] != result["store"]["run_ids"]:
        sys.exit("the server and the store found different runs")
    return result


def count_objects(client_s3: Any, location: str) -> int | None:
    """Objects under an experiment's artifact location; None without an artifact store."""
    if client_s3 is None:
        return None
    bucket, prefix = bucket_prefix(location)
    paginator = client_s3.get_paginator("list_objects_v2")
    return sum(len(page.get("Contents", [])) for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/"))


def state(args: argparse.Namespace) -> dict[str, Any]:
    """What the database and the bucket hold of each experiment's runs, keyed by run name so two experiments
    generated alike compare equal when the same things happened to them."""
    result: dict[str, Any] = {}
    client_s3 = s3()
    with db_connection() as connection, connection.cursor() as cursor:
        for name in args.experiment:
            exp_id = experiment_id(cursor, name)
            cursor.execute(
                "SELECT r.name, r.lifecycle_stage, r.deleted_time IS NOT NULL, r.status, "
                "(SELECT count(*) FROM metrics m WHERE m.run_uuid = r.run_uuid), "
                "(SELECT count(*) FROM latest_metrics m WHERE m.run_uuid = r.run_uuid), "
                "(SELECT count(*) FROM params p WHERE p.run_uuid = r.run_uuid), "
                "(SELECT count(*) FROM tags t WHERE t.run_uuid = r.run_uuid) "
                "FROM runs r WHERE r.experiment_id = %s ORDER BY r.name",
                (exp_id,),
            )
            runs = {row[0]: list(row[1:]) for row in cursor.fetchall()}
            cursor.execute("SELECT artifact_location FROM experiments WHERE experiment_id = %s", (exp_id,))
            location = cursor.fetchone()[0]
            result[name] = {"runs": runs, "objects": count_objects(client_s3, location)}
    return result


def drop(args: argparse.Namespace) -> dict[str, Any]:
    """Remove generated experiments entirely (rows and objects), so a benchmark can run again."""
    client_s3 = s3()
    removed = 0
    with db_connection() as connection, connection.cursor() as cursor:
        for name in args.experiment:
            cursor.execute("SELECT experiment_id, artifact_location FROM experiments WHERE name = %s", (name,))
            row = cursor.fetchone()
            if not row:
                continue
            exp_id, location = row
            if client_s3 is not None:
                bucket, prefix = bucket_prefix(location)
                paginator = client_s3.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/"):
                    keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                    if keys:
                        client_s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            sub = "(SELECT run_uuid FROM runs WHERE experiment_id = %s)"
            for table in ("metrics", "latest_metrics", "params", "tags"):
                cursor.execute(f"DELETE FROM {table} WHERE run_uuid IN {sub}", (exp_id,))
            cursor.execute("DELETE FROM runs WHERE experiment_id = %s", (exp_id,))
            cursor.execute("DELETE FROM experiment_tags WHERE experiment_id = %s", (exp_id,))
            cursor.execute("DELETE FROM experiments WHERE experiment_id = %s", (exp_id,))
            removed += 1
    return {"dropped": removed}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate")
    gen.add_argument("--experiment", required=True)
    gen.add_argument("--seed", default="")
    gen.add_argument("--runs", type=int, required=True)
    gen.add_argument("--days-ago", type=float, default=120)
    gen.add_argument("--recent", type=int, default=0, help="the first N runs start now instead")
    gen.add_argument("--deleted-days-ago", type=float)
    gen.add_argument("--params", type=int, default=3)
    gen.add_argument("--metrics", type=int, default=2)
    gen.add_argument("--history", type=int, default=1)
    gen.add_argument("--artifacts", type=int, default=0)
    gen.add_argument("--artifact-bytes", type=int, default=1024)
    ret = commands.add_parser("runbook-retention")
    ret.add_argument("--experiment", required=True)
    ret.add_argument("--days", type=int, required=True)
    gc = commands.add_parser("runbook-gc")
    gc.add_argument("--experiment", required=True)
    find = commands.add_parser("search")
    find.add_argument("--experiment", required=True)
    find.add_argument("--repeat", type=int, default=5)
    find.add_argument("--metric-above", type=float, default=0.9)
    for name in ("state", "drop"):
        sub = commands.add_parser(name)
        sub.add_argument("--experiment", action="append", required=True)
    return root


COMMANDS = {
    "generate": generate,
    "runbook-retention": runbook_retention,
    "runbook-gc": runbook_gc,
    "search": search,
    "state": state,
    "drop": drop,
}


def secrets_from_stdin() -> None:
    """Secret environment values given as a JSON object on stdin (BIRTHA_SECRETS_ON_STDIN=1)."""
    if os.environ.get("BIRTHA_SECRETS_ON_STDIN") == "1":
        os.environ.update({str(key): str(value) for key, value in json.loads(sys.stdin.read() or "{}").items()})


if __name__ == "__main__":
    arguments = parser().parse_args()
    secrets_from_stdin()
    print(json.dumps(COMMANDS[arguments.command](arguments)))
