"""One S3 call on a member's own gateway as SeaweedFS's admin, with the system Python's boto3; prints one JSON object.

The admin's keys come from the member's identities file (/etc/seaweedfs/s3.json, root-only), never the command line;
the gateway's certificate is checked against the platform's CA.
  put BUCKET KEY TEXT    create BUCKET if needed and write KEY ({"error": code} when it cannot)
  get BUCKET KEY         KEY's text ({"error": code} when it cannot be read)
"""

from __future__ import annotations

import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ENDPOINT = "https://127.0.0.1:9000"
CA = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"


def admin_keys() -> tuple[str, str]:
    with open("/etc/seaweedfs/s3.json", encoding="utf-8") as handle:
        identities = json.load(handle)["identities"]
    admin = next(identity for identity in identities if identity["name"] == "admin")["credentials"][0]
    return admin["accessKey"], admin["secretKey"]


def client():
    access, secret = admin_keys()
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        verify=CA,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=20),
    )


def put(bucket: str, key: str, text: str) -> dict[str, str]:
    s3 = client()
    try:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    except BotoCoreError as error:
        return {"error": type(error).__name__}
    return {"put": key}


def get(bucket: str, key: str) -> dict[str, str]:
    try:
        body = client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except ClientError as error:
        return {"error": error.response["Error"]["Code"]}
    except BotoCoreError as error:
        return {"error": type(error).__name__}
    return {"body": body}


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    answer = put(*args) if command == "put" else get(*args)
    print(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1:])
