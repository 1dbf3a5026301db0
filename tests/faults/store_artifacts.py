"""Runs with artifacts, written and read back through MLflow on the faults platform's host (files/run_artifacts.py),
and what MLflow's environment says of its store: shared by the store migration's and the external store's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "files" / "run_artifacts.py"
SCRIPT_ON_HOST = "/root/run_artifacts.py"
MLFLOW_PYTHON = "/opt/mlflow/venv/bin/python"


def run_artifacts(host: Any, *args: str) -> dict[str, Any]:
    host.ansible("ansible.builtin.copy", f"src={SCRIPT} dest={SCRIPT_ON_HOST} mode=0700", check=False)
    result = host.run(f"{MLFLOW_PYTHON} {SCRIPT_ON_HOST} {' '.join(args)}")
    assert result.rc == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def mlflow_env(host: Any, name: str) -> str:
    return host.run(f"sed -n 's/^{name}=//p' /etc/mlflow/mlflow.env").stdout.strip()


def mlflow_endpoint(host: Any) -> str:
    return mlflow_env(host, "MLFLOW_S3_ENDPOINT_URL")


def main_pid(host: Any) -> str:
    return host.run("systemctl show mlflow -p MainPID --value").stdout.strip()
