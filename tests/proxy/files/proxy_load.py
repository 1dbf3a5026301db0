"""A bounded MLflow client run on a platform host against the proxy; prints one JSON object.

    proxy_load.py URL SECONDS THREADS OUTPUT STOP

Each thread, until SECONDS have passed or the file STOP exists, creates a run in one experiment, logs a param and a
metric to it, uploads a small artifact and reads the run back, through URL (the proxy). A request that fails (an
error status or no answer) is retried once, as MLflow's client does, and counted; one whose retry fails too is a
failed request. A run counts as acknowledged once its creation answered 200. At the end every acknowledged run is
read back: a missing one is a lost write. The admin's login comes from the host's basic_auth.ini (root only), never
from the command line. The result goes to OUTPUT.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

AUTH_FILE = "/etc/mlflow/basic_auth.ini"
CA_FILE = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"


class Client:
    def __init__(self, url: str) -> None:
        config = configparser.ConfigParser(interpolation=None)
        config.read(AUTH_FILE)
        user, password = config["mlflow"]["admin_username"], config["mlflow"]["admin_password"]
        self.url = url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.lock = threading.Lock()
        self.requests = self.retried = self.failed = 0
        self.errors: list[str] = []

    def once(self, method: str, path: str, body: dict[str, Any] | bytes | None) -> dict[str, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", self.auth)
        kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
        request.add_header("Content-Type", kind)
        context = ssl.create_default_context(cafile=CA_FILE) if self.url.startswith("https") else None
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return json.loads(response.read() or b"{}")

    def call(self, method: str, path: str, body: dict[str, Any] | bytes | None = None) -> dict[str, Any] | None:
        for attempt in (1, 2):
            with self.lock:
                self.requests += 1
            try:
                return self.once(method, path, body)
            except (urllib.error.URLError, OSError, ValueError) as error:
                with self.lock:
                    if attempt == 1:
                        self.retried += 1
                    else:
                        self.failed += 1
                        if len(self.errors) < 5:
                            self.errors.append(f"{method} {path}: {error}")
                time.sleep(0.5)
        return None


def worker(client: Client, experiment_id: str, deadline: float, stop: str, acknowledged: list[str]) -> None:
    while time.monotonic() < deadline and not os.path.exists(stop):
        created = client.call("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})
        if not created:
            continue
        run_id = created["run"]["info"]["run_id"]
        acknowledged.append(run_id)
        client.call(
            "POST",
            "/api/2.0/mlflow/runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": "load", "value": "proxy"}],
                "metrics": [{"key": "step", "value": 1.0, "timestamp": int(time.time() * 1000), "step": 0}],
            },
        )
        artifact = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/load.txt"
        client.call("PUT", artifact, run_id.encode())
        client.call("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")


def main() -> None:
    url, seconds, threads, output, stop = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    client = Client(url)
    experiment = client.call("POST", "/api/2.0/mlflow/experiments/create", {"name": f"proxy-load-{uuid.uuid4().hex}"})
    if not experiment:
        raise SystemExit(f"the proxy at {url} did not create the experiment: {client.errors}")
    acknowledged: list[str] = []
    deadline = time.monotonic() + seconds
    pool = [
        threading.Thread(target=worker, args=(client, experiment["experiment_id"], deadline, stop, acknowledged))
        for _thread in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    lost = [run_id for run_id in acknowledged if not client.call("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")]
    result = {
        "requests": client.requests,
        "retried": client.retried,
        "failed": client.failed,
        "errors": client.errors,
        "acknowledged_runs": len(acknowledged),
        "lost_runs": len(lost),
    }
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
