"""Test client run inside a tracking host with MLflow's own Python; prints one JSON object.

It reads the server's credentials from the host's own files, so no secret crosses a command line.
  status URL none|admin|wrong   HTTP status of a GET with no, the right or a wrong password
  roundtrip NAME                log a run (param, metric, artifact), read it back, read the bucket
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ENV_FILE = "/etc/mlflow/mlflow.env"
AUTH_FILE = "/etc/mlflow/basic_auth.ini"
# A hardened platform (ssl_hardening) serves HTTPS; the host's trust store holds the platform CA.
TLS = os.path.exists("/etc/mlflow/tls/server.crt")
TRACKING_URI = f"{'https' if TLS else 'http'}://127.0.0.1:5000"
if TLS:
    os.environ.setdefault("MLFLOW_TRACKING_SERVER_CERT_PATH", "/etc/ssl/certs/ca-certificates.crt")
    os.environ.setdefault("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")


def server_env() -> dict[str, str]:
    with open(ENV_FILE, encoding="utf-8") as handle:
        pairs = (line.strip().split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
        return dict(pairs)


def admin() -> tuple[str, str]:
    ini = configparser.ConfigParser()
    ini.read(AUTH_FILE)
    return ini["mlflow"]["admin_username"], ini["mlflow"]["admin_password"]


def status(url: str, mode: str) -> dict[str, int]:
    request = urllib.request.Request(url)
    if mode != "none":
        user, password = admin()
        password = password + "x" if mode == "wrong" else password
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return {"status": response.status}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code}


def roundtrip(name: str) -> dict[str, object]:
    import boto3
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = admin()
    client = MlflowClient(TRACKING_URI)
    experiment_id = client.create_experiment(name)
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "alpha", "0.5")
    client.log_metric(run_id, "rmse", 0.125)
    client.log_text(run_id, name, "notes/e2e.txt")
    client.set_terminated(run_id)
    back = client.get_run(run_id)
    with tempfile.TemporaryDirectory() as scratch:
        artifact = Path(client.download_artifacts(run_id, "notes/e2e.txt", scratch)).read_text(encoding="utf-8")
    key = back.info.artifact_uri.split(":", 1)[1].lstrip("/") + "/notes/e2e.txt"
    env = server_env()
    s3 = boto3.client(
        "s3",
        endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        verify=env.get("AWS_CA_BUNDLE", True),
    )
    stored = s3.get_object(Bucket="mlflow-artifacts", Key=key)["Body"].read().decode()
    return {
        "params": back.data.params,
        "metrics": back.data.metrics,
        "artifact": artifact,
        "bucket_object": stored,
        "key": key,
    }


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    result = status(argument, sys.argv[3]) if command == "status" else roundtrip(argument)
    print(json.dumps(result))
