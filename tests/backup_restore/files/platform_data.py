"""Test data for the backup and restore scenario, run on the tracking host with MLflow's own Python.

  fill   3 experiments, 200 runs (params, metric history, tags), 2 registered models with versions and
         aliases, 50+ artifacts including one of 50 MiB; prints a summary
  state  every table of the tracking and auth databases (rows and an md5 of the sorted row texts) and every
         object of the bucket (sha256), computed here independently of the collection's code; prints JSON
  empty BUCKET                 delete every object of BUCKET with MLflow's key (the disaster)
  offsite create|list BUCKET   make or list another bucket of the store as its admin (the 3-2-1 test)

Credentials come from the host's own files (/etc/mlflow), the admin's from a root-only file the playbook writes beside
this script, never the command line. Any S3 store: the endpoint is MLflow's.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

ENV_FILE = "/etc/mlflow/mlflow.env"
AUTH_FILE = "/etc/mlflow/basic_auth.ini"
# A hardened platform (ssl_hardening) serves HTTPS with the certificate the role installed; the host trusts its CA.
TLS = os.path.exists("/etc/mlflow/tls/server.crt")
TRACKING_URI = f"{'https' if TLS else 'http'}://127.0.0.1:5000"
if TLS:
    os.environ.setdefault("MLFLOW_TRACKING_SERVER_CERT_PATH", "/etc/ssl/certs/ca-certificates.crt")
    os.environ.setdefault("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
REFERENCE_MODEL = Path(__file__).with_name("reference_model")


def server_env() -> dict[str, str]:
    with open(ENV_FILE, encoding="utf-8") as handle:
        pairs = (line.strip().split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
        return dict(pairs)


def use_admin() -> None:
    ini = configparser.ConfigParser()
    ini.read(AUTH_FILE)
    os.environ["MLFLOW_TRACKING_USERNAME"] = ini["mlflow"]["admin_username"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = ini["mlflow"]["admin_password"]


def fill() -> dict[str, object]:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    use_admin()
    client = MlflowClient(TRACKING_URI)
    rng = random.Random(20261128)
    experiments = [client.create_experiment(f"backup-exp-{n}", tags={"team": f"t{n}"}) for n in range(3)]
    runs = []
    now = int(time.time() * 1000)
    for n in range(200):
        run = client.create_run(experiments[n % 3], run_name=f"run-{n:03d}", tags={"batch": str(n // 50)})
        run_id = run.info.run_id
        metrics = [Metric("loss", rng.random(), now + step, step) for step in range(5)]
        metrics += [Metric("accuracy", rng.random(), now, 0)]
        params = [Param("lr", str(rng.choice([0.1, 0.01, 0.001]))), Param("depth", str(n % 7))]
        client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("owner", f"user{n % 4}")])
        client.set_terminated(run_id)
        runs.append(run)
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(48):
            path = Path(tmp, f"note-{n:02d}.txt")
            path.write_text(f"artifact {n} of run {runs[n].info.run_id}\n" * (n + 1))
            client.log_artifact(runs[n].info.run_id, str(path), "notes")
        big = Path(tmp, "weights.bin")
        big.write_bytes(os.urandom(50 * 1024 * 1024))
        client.log_artifact(runs[100].info.run_id, str(big), "weights")
    models = {}
    for index, name in enumerate(("backup-model-a", "backup-model-b")):
        client.create_registered_model(name, description=f"model {name}")
        versions = []
        for offset in range(2):
            run = runs[150 + index * 2 + offset]
            client.log_artifacts(run.info.run_id, str(REFERENCE_MODEL), "model")
            version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)
            versions.append(version.version)
        client.set_registered_model_alias(name, "champion", versions[-1])
        client.set_registered_model_alias(name, "previous", versions[0])
        models[name] = versions
    return {"experiments": experiments, "runs": len(runs), "models": models}


def database_state(uri: str) -> dict[str, list]:
    import psycopg2

    parsed = urlparse(uri.replace("postgresql+psycopg2://", "postgresql://"))
    connection = psycopg2.connect(
        dbname=parsed.path.lstrip("/"),
        user=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        host=parsed.hostname,
        port=parsed.port or 5432,
        **dict(parse_qsl(parsed.query)),  # sslmode, sslrootcert as MLflow connects
    )
    state = {}
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for (table,) in sorted(cursor.fetchall()):
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM \"{table}\" r"
            )
            state[table] = list(cursor.fetchone())
    connection.close()
    return state


def s3_client(env: dict[str, str], keys: tuple[str, str] | None = None) -> Any:
    """The store as MLflow reaches it (its endpoint and CA), with MLflow's keys or the given ones."""
    import boto3

    access, secret = keys or (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    return boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        verify=env.get("AWS_CA_BUNDLE", True),
    )


def admin_keys() -> tuple[str, str]:
    """The store's admin keys, from the root-only file the playbook wrote beside this script."""
    keys = json.loads(Path(__file__).with_name("admin.json").read_text(encoding="utf-8"))
    return keys["access_key"], keys["secret_key"]


def empty(bucket: str) -> dict[str, object]:
    """The disaster: every object of MLflow's bucket deleted, with MLflow's own key (whatever the store)."""
    client = s3_client(server_env())
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    left = client.list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    return {"left": left}


def offsite(action: str, bucket: str) -> dict[str, object]:
    """The 3-2-1 test's second destination, another bucket of the same store, made and listed as its admin."""
    client = s3_client(server_env(), admin_keys())
    if action == "create":
        if bucket not in [item["Name"] for item in client.list_buckets()["Buckets"]]:
            client.create_bucket(Bucket=bucket)
        return {"bucket": bucket}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {"keys": sorted(item["Key"] for page in pages for item in page.get("Contents", []))}


def bucket_state(env: dict[str, str], bucket: str) -> dict[str, str]:
    client = s3_client(env)
    state = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            digest = hashlib.sha256()
            for chunk in client.get_object(Bucket=bucket, Key=item["Key"])["Body"].iter_chunks(1024 * 1024):
                digest.update(chunk)
            state[item["Key"]] = digest.hexdigest()
    return state


def state(bucket: str) -> dict[str, object]:
    env = server_env()
    tracking = env["MLFLOW_BACKEND_STORE_URI"]
    auth = tracking.rsplit("/", 1)[0] + "/" + sys.argv[3] if len(sys.argv) > 3 else None
    result: dict[str, object] = {"tracking": database_state(tracking), "objects": bucket_state(env, bucket)}
    if auth:
        result["auth"] = database_state(auth)
    return result


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "fill":
        output = fill()
    elif command == "empty":
        output = empty(sys.argv[2])
    elif command == "offsite":
        output = offsite(sys.argv[2], sys.argv[3])
    else:
        output = state(sys.argv[2])
    print(json.dumps(output, sort_keys=True))
