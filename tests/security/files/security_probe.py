"""Security probes run on a platform host with MLflow's own Python; prints one JSON object.

Secrets come from the host's own files (/etc/mlflow), never from the command line.
  pg HOST SSLMODE                 connect to PostgreSQL as MLflow (plaintext with disable, verified TLS otherwise)
  pg_tls HOST MIN MAX             connect with TLS limited to MIN..MAX (e.g. TLSv1 TLSv1.1)
  tls HOST PORT MIN MAX           a bare TLS handshake limited to MIN..MAX against HOST:PORT
  http URL                        status and first bytes of a plain GET (no credentials)
  s3_read ENDPOINT BUCKET         list and read a bucket with MLflow's MinIO account
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import urllib.error
import urllib.request
from urllib.parse import unquote, urlparse

ENV_FILE = "/etc/mlflow/mlflow.env"
CA_FILE = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def server_env() -> dict[str, str]:
    with open(ENV_FILE, encoding="utf-8") as handle:
        pairs = (line.strip().split("=", 1) for line in handle if "=" in line and not line.startswith("#"))
        return dict(pairs)


def db_login() -> dict[str, str]:
    uri = urlparse(server_env()["MLFLOW_BACKEND_STORE_URI"].replace("postgresql+psycopg2://", "postgresql://"))
    return {
        "user": unquote(uri.username or ""),
        "password": unquote(uri.password or ""),
        "dbname": uri.path.lstrip("/"),
        "port": str(uri.port or 5432),
    }


def pg(host: str, **tls: str) -> dict[str, object]:
    import psycopg2

    try:
        connection = psycopg2.connect(host=host, connect_timeout=10, **db_login(), **tls)
    except psycopg2.OperationalError as error:
        return {"connected": False, "error": str(error).strip()}
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        encrypted, version = cursor.fetchone()
    connection.close()
    return {"connected": True, "ssl": encrypted, "version": version}


def client_context(low: str, high: str) -> ssl.SSLContext:
    """A client willing to speak old protocols, so a refusal can only come from the server."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(CA_FILE)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = VERSIONS[low]
    context.maximum_version = VERSIONS[high]
    return context


def handshake(host: str, port: int, low: str, high: str) -> dict[str, object]:
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            client_context(low, high).wrap_socket(raw, server_hostname=host) as tls,
        ):
            return {"handshake": True, "version": tls.version()}
    except (ssl.SSLError, OSError) as error:
        return {"handshake": False, "error": str(error)}


def http(url: str) -> dict[str, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return {"status": response.status, "body": response.read(200).decode(errors="replace")}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read(200).decode(errors="replace")}
    except (urllib.error.URLError, OSError) as error:
        return {"status": 0, "body": str(error)}


def s3_read(endpoint: str, bucket: str) -> dict[str, object]:
    import boto3
    from botocore.exceptions import ClientError

    env = server_env()
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        verify=env.get("AWS_CA_BUNDLE", True),
    )

    def read_secret() -> bytes:
        return client.get_object(Bucket=bucket, Key="secret.txt")["Body"].read()

    outcome: dict[str, object] = {}
    for action, call in (("list", lambda: client.list_objects_v2(Bucket=bucket, MaxKeys=1)), ("get", read_secret)):
        try:
            call()
            outcome[action] = "allowed"
        except ClientError as error:
            outcome[action] = error.response.get("Error", {}).get("Code", "error")
    return outcome


def main(argv: list[str]) -> dict[str, object]:
    command, args = argv[0], argv[1:]
    if command == "pg":
        host, sslmode = args
        options = {"sslmode": sslmode}
        if sslmode.startswith("verify"):
            options["sslrootcert"] = CA_FILE
        return pg(host, **options)
    if command == "pg_tls":
        host, low, high = args
        return pg(
            host,
            sslmode="verify-full",
            sslrootcert=CA_FILE,
            ssl_min_protocol_version=low,
            ssl_max_protocol_version=high,
        )
    if command == "tls":
        host, port, low, high = args
        return handshake(host, int(port), low, high)
    if command == "http":
        return http(args[0])
    if command == "s3_read":
        return s3_read(*args)
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
