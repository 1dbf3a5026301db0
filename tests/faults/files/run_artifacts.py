"""Runs with one artifact each, written or read back through MLflow on its own host; prints JSON.

    run_artifacts.py write COUNT      logs COUNT runs, each with an artifact of its own size: {run_id: sha256}
    run_artifacts.py read RUN_ID...   downloads each run's artifact through MLflow: {run_id: sha256}
    run_artifacts.py drop RUN_ID...   deletes each run's artifact object on the store MLflow uses, the way retention
                                      or a purge would: {run_id: true}
    run_artifacts.py exists RUN_ID... whether each run's artifact object is on that store: {run_id: bool}

Run with MLflow's own Python. The admin's login comes from the host's basic_auth.ini, the S3 keys from MLflow's
environment file (both root only), never from the command line.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

AUTH_FILE = "/etc/mlflow/basic_auth.ini"
ENV_FILE = "/etc/mlflow/mlflow.env"
NAME = "model.bin"


def login() -> None:
    config = configparser.ConfigParser(interpolation=None)
    config.read(AUTH_FILE)
    os.environ["MLFLOW_TRACKING_USERNAME"] = config["mlflow"]["admin_username"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = config["mlflow"]["admin_password"]


def write(count: int) -> dict[str, str]:
    import mlflow

    experiment = mlflow.set_experiment(f"store-migration-{os.urandom(4).hex()}")
    written = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(count):
            # Sizes from a few bytes to several MiB, so the copy meets both small and multi-chunk objects.
            data = os.urandom(37 * 4**index % (6 * 1024 * 1024) + index)
            path = os.path.join(scratch, NAME)
            with open(path, "wb") as handle:
                handle.write(data)
            with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
                mlflow.log_artifact(path)
            written[run.info.run_id] = hashlib.sha256(data).hexdigest()
    return written


def read(run_ids: list[str]) -> dict[str, str]:
    import mlflow

    found = {}
    with tempfile.TemporaryDirectory() as scratch:
        for run_id in run_ids:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=NAME, dst_path=scratch)
            with open(path, "rb") as handle:
                found[run_id] = hashlib.sha256(handle.read()).hexdigest()
    return found


def artifacts_destination() -> tuple[str, str]:
    """The bucket and key prefix MLflow's unit serves artifacts from (--artifacts-destination s3://bucket/prefix)."""
    unit = subprocess.run(["systemctl", "cat", "mlflow"], check=True, capture_output=True, text=True).stdout
    bucket, separator, prefix = re.search(r"--artifacts-destination s3://(\S+)", unit).group(1).partition("/")
    return bucket, prefix.strip("/") if separator else ""


def store_object(run_id: str) -> tuple[object, str, str]:
    """The S3 client MLflow's environment describes, and the bucket and key of a run's artifact."""
    from urllib.parse import urlparse

    import boto3
    import mlflow

    with open(ENV_FILE) as handle:
        env = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
    client = boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        verify=env.get("AWS_CA_BUNDLE") or None,
    )
    # The server proxies artifacts: a run's URI is mlflow-artifacts:/<experiment>/<run>/artifacts, under the
    # destination's bucket and prefix.
    bucket, prefix = artifacts_destination()
    path = urlparse(mlflow.get_run(run_id).info.artifact_uri).path.strip("/")
    return client, bucket, "/".join(part for part in (prefix, path, NAME) if part)


def drop(run_ids: list[str]) -> dict[str, bool]:
    for run_id in run_ids:
        client, bucket, key = store_object(run_id)
        client.delete_object(Bucket=bucket, Key=key)
    return dict.fromkeys(run_ids, True)


def exists(run_ids: list[str]) -> dict[str, bool]:
    found = {}
    for run_id in run_ids:
        client, bucket, key = store_object(run_id)
        found[run_id] = client.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0
    return found


ACTIONS = {"read": read, "drop": drop, "exists": exists}


def main() -> None:
    os.environ.setdefault("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    login()
    action = sys.argv[1]
    result = write(int(sys.argv[2])) if action == "write" else ACTIONS[action](sys.argv[2:])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
