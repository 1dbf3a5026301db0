"""Test helper for test_archive.py and test_storage_cleanup.py, run on a tracking host with MLflow's own Python (it
has mlflow, pandas and boto3). Reads {"actions": [...], "s3": {...}} as JSON on stdin (the S3 credentials never
reach a command line), does each action in order, prints the results as one JSON list.

Actions (each a dict with "do"):
  create   experiment, runs: an experiment with that many runs, each with params, tags, a metric history, a dataset
           input and artifacts (two files, one in a subdirectory), through MLflow's API
  state    experiment: its lifecycle stage and its runs' (MLflow's API, every view type)
  restore  experiment: MLflow's restore_experiment, then state
  put      bucket, keys: write small objects; their LastModified as MinIO recorded it. {experiment_id} in a key
           is the id of the experiment the last create made
  sleep    seconds
  list     bucket, prefix, sha256 (bool): the objects under prefix with size (and sha256 of the bytes read)
  get      bucket, key: the object's JSON content (null when there is none)
  remove   bucket, prefix: delete every object under prefix (never an empty prefix)
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

REQUEST = json.load(sys.stdin)
# MLflow prints run links to stdout; only the result goes there.
RESULT_STREAM, sys.stdout = sys.stdout, sys.stderr
CONTEXT: dict[str, str] = {}


def s3():
    import boto3
    from botocore.client import Config

    conf = REQUEST["s3"]
    return boto3.client(
        "s3",
        endpoint_url=conf["endpoint_url"],
        aws_access_key_id=conf["access_key"],
        aws_secret_access_key=conf["secret_key"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def experiment_id(client, name):
    found = client.get_experiment_by_name(name)
    if found is None:
        raise SystemExit(f"no experiment named {name}")
    return found.experiment_id


def create(action):
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    client = MlflowClient()
    exp_id = client.create_experiment(action["experiment"], tags={"purpose": "archive test"})
    run_ids = []
    for index in range(action.get("runs", 2)):
        with mlflow.start_run(experiment_id=exp_id, run_name=f"run-{index}") as run:
            mlflow.log_params({"learning_rate": 0.1 * (index + 1), "depth": index + 3})
            mlflow.set_tags({"team": "platform-tests", "index": str(index)})
            for step in range(3):
                mlflow.log_metric("loss", 1.0 / (step + 1 + index), step=step)
            mlflow.log_metric("accuracy", 0.8 + index / 100)
            dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2, 3]}), name=f"train-{index}")
            mlflow.log_input(dataset, context="training")
            with tempfile.TemporaryDirectory() as scratch:
                Path(scratch, "notes.txt").write_text(f"run {index}\n" * 50)
                Path(scratch, "model").mkdir()
                Path(scratch, "model", "weights.bin").write_bytes(bytes(range(256)) * (index + 4))
                mlflow.log_artifacts(scratch)
            run_ids.append(run.info.run_id)
    CONTEXT["experiment_id"] = exp_id
    return {"experiment_id": exp_id, "run_ids": run_ids}


def state(action):
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient()
    exp_id = experiment_id(client, action["experiment"])
    runs = client.search_runs([exp_id], run_view_type=ViewType.ALL)
    return {
        "experiment_id": exp_id,
        "lifecycle_stage": client.get_experiment(exp_id).lifecycle_stage,
        "runs": {run.info.run_id: run.info.lifecycle_stage for run in runs},
    }


def restore(action):
    from mlflow import MlflowClient

    client = MlflowClient()
    client.restore_experiment(experiment_id(client, action["experiment"]))
    return state(action)


def put(action):
    client = s3()
    modified = {}
    for key in (key.format(**CONTEXT) for key in action["keys"]):
        client.put_object(Bucket=action["bucket"], Key=key, Body=f"planted by a test: {key}\n".encode())
        modified[key] = client.head_object(Bucket=action["bucket"], Key=key)["LastModified"].isoformat()
    # HEAD's Last-Modified has whole seconds; the listing has what the cleanup compares (milliseconds).
    for key in modified:
        modified[key] = listing(client, action["bucket"], key)[0]["modified"]
    return modified


def listing(client, bucket, prefix, sha256=False):
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            entry = {"key": item["Key"], "size": item["Size"], "modified": item["LastModified"].isoformat()}
            if sha256:
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                entry["sha256"] = hashlib.sha256(body).hexdigest()
            found.append(entry)
    return found


def get(action):
    client = s3()
    try:
        return json.loads(client.get_object(Bucket=action["bucket"], Key=action["key"])["Body"].read())
    except client.exceptions.NoSuchKey:
        return None
    except client.exceptions.NoSuchBucket:
        return None


def remove(action):
    if not action["prefix"].strip("/"):
        raise SystemExit("refusing to remove a whole bucket")
    client = s3()
    try:
        keys = [item["key"] for item in listing(client, action["bucket"], action["prefix"])]
    except client.exceptions.NoSuchBucket:
        return 0
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": key} for key in keys[start : start + 1000]]
        client.delete_objects(Bucket=action["bucket"], Delete={"Objects": chunk, "Quiet": True})
    return len(keys)


def do(action):
    kind = action["do"]
    if kind == "create":
        return create(action)
    if kind == "state":
        return state(action)
    if kind == "restore":
        return restore(action)
    if kind == "put":
        return put(action)
    if kind == "sleep":
        time.sleep(action["seconds"])
        return None
    if kind == "list":
        try:
            return listing(s3(), action["bucket"], action["prefix"], action.get("sha256", False))
        except Exception as exc:  # a bucket that does not exist lists as empty
            if "NoSuchBucket" in str(exc):
                return []
            raise
    if kind == "get":
        return get(action)
    if kind == "remove":
        return remove(action)
    raise SystemExit(f"unknown action {kind}")


RESULT_STREAM.write(json.dumps([do(action) for action in REQUEST["actions"]]) + "\n")
