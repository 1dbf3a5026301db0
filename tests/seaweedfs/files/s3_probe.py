"""S3 probes on the SeaweedFS host with MLflow's own Python (boto3); prints one JSON object.

Credentials come from the host's files, never the command line: MLflow's from /etc/mlflow/mlflow.env, the admin's
from SeaweedFS's identities (/etc/seaweedfs/s3.json, root-only).
  mlflow BUCKET     what MLflow's identity may do in BUCKET: list, get, put, and create a bucket
  admin_put BUCKET KEY TEXT    create BUCKET if needed and write KEY as the admin
  admin_get BUCKET KEY         read KEY as the admin
"""

from __future__ import annotations

import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = "http://127.0.0.1:9000"


def mlflow_keys() -> tuple[str, str]:
    with open("/etc/mlflow/mlflow.env", encoding="utf-8") as handle:
        env = dict(line.strip().split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
    return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]


def admin_keys() -> tuple[str, str]:
    with open("/etc/seaweedfs/s3.json", encoding="utf-8") as handle:
        identities = json.load(handle)["identities"]
    admin = next(identity for identity in identities if identity["name"] == "admin")["credentials"][0]
    return admin["accessKey"], admin["secretKey"]


def client(keys: tuple[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def outcome(call) -> str:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "allowed"


def mlflow(bucket: str) -> dict[str, str]:
    s3 = client(mlflow_keys())
    return {
        "list": outcome(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1)),
        "get": outcome(lambda: s3.get_object(Bucket=bucket, Key="secret.txt")),
        "put": outcome(lambda: s3.put_object(Bucket=bucket, Key="probe/mlflow.txt", Body=b"mlflow")),
        "create_bucket": outcome(lambda: s3.create_bucket(Bucket=f"{bucket}-made-by-mlflow")),
    }


def admin_put(bucket: str, key: str, text: str) -> dict[str, str]:
    s3 = client(admin_keys())
    if outcome(lambda: s3.head_bucket(Bucket=bucket)) != "allowed":
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    return {"put": "allowed"}


def admin_get(bucket: str, key: str) -> dict[str, str]:
    body = client(admin_keys()).get_object(Bucket=bucket, Key=key)["Body"].read()
    return {"body": body.decode()}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps({"mlflow": mlflow, "admin_put": admin_put, "admin_get": admin_get}[command](*args)))
