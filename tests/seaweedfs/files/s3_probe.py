"""S3 probes on the SeaweedFS host with MLflow's own Python (boto3); prints one JSON object.

Credentials come from the host's files, never the command line: MLflow's from /etc/mlflow/mlflow.env, the admin's
from SeaweedFS's identities (/etc/seaweedfs/s3.json, root-only).
  mlflow BUCKET     what MLflow's identity may do in BUCKET: list, get, put, delete (one and a batch), a multipart
                    upload, create a bucket, delete BUCKET, change its policy
  admin_put BUCKET KEY TEXT    create BUCKET if needed and write KEY as the admin
  admin_get BUCKET KEY         read KEY as the admin
  admin_get_missing BUCKET KEY whether KEY exists, as the admin
"""

from __future__ import annotations

import json
import sys
import time

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


def multipart(s3, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="probe/multipart.bin")
    part = s3.upload_part(
        Bucket=bucket, Key="probe/multipart.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="probe/multipart.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )


def delete_batch(s3, bucket: str) -> None:
    """A batch delete answers 200 and refuses key by key: a refused key is the outcome."""
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "secret.txt"}]})
    if answer.get("Errors"):
        raise ClientError({"Error": {"Code": answer["Errors"][0]["Code"]}}, "DeleteObjects")


def mlflow(bucket: str) -> dict[str, str]:
    s3 = client(mlflow_keys())
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    return {
        "list": outcome(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1)),
        "get": outcome(lambda: s3.get_object(Bucket=bucket, Key="secret.txt")),
        "put": outcome(lambda: s3.put_object(Bucket=bucket, Key="probe/mlflow.txt", Body=b"mlflow")),
        "delete": outcome(lambda: s3.delete_object(Bucket=bucket, Key="probe/mlflow.txt")),
        "delete_batch": outcome(lambda: delete_batch(s3, bucket)),
        "multipart": outcome(lambda: multipart(s3, bucket)),
        "create_bucket": outcome(lambda: s3.create_bucket(Bucket=f"{bucket}-made-by-mlflow")),
        "delete_bucket": outcome(lambda: s3.delete_bucket(Bucket=bucket)),
        "put_policy": outcome(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=policy)),
    }


def admin_put(bucket: str, key: str, text: str) -> dict[str, str]:
    s3 = client(admin_keys())
    if outcome(lambda: s3.head_bucket(Bucket=bucket)) != "allowed":
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    return {"put": "allowed"}


def admin_get(bucket: str, key: str) -> dict[str, str]:
    # Right after a restart the volume servers may not have reported to the master yet.
    for _attempt in range(30):
        try:
            return {"body": client(admin_keys()).get_object(Bucket=bucket, Key=key)["Body"].read().decode()}
        except ClientError:
            time.sleep(2)
    return {"body": client(admin_keys()).get_object(Bucket=bucket, Key=key)["Body"].read().decode()}


def admin_get_missing(bucket: str, key: str) -> dict[str, bool]:
    return {"exists": outcome(lambda: client(admin_keys()).head_object(Bucket=bucket, Key=key)) == "allowed"}


def old_key(identity: str, bucket: str, identities_file: str) -> dict[str, str]:
    """A listing with one identity's key as an earlier identities file (kept before a rotation) has it."""
    with open(identities_file, encoding="utf-8") as handle:
        identities = json.load(handle)["identities"]
    old = next(entry for entry in identities if entry["name"] == identity)["credentials"][0]
    keys = (old["accessKey"], old["secretKey"])
    return {"list": outcome(lambda: client(keys).list_objects_v2(Bucket=bucket, MaxKeys=1))}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {
        "mlflow": mlflow,
        "admin_put": admin_put,
        "admin_get": admin_get,
        "admin_get_missing": admin_get_missing,
        "old_key": old_key,
    }
    print(json.dumps(commands[command](*args)))
