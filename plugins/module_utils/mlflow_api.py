# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The one MLflow connection layer: argument spec, client construction and error translation.

Every birtha.mlflow module that talks to the MLflow API builds its client here, so credentials,
TLS, timeouts and the wording of connection errors are handled once.
"""

from __future__ import annotations

import os
import re
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

MLFLOW_IMPORT_ERROR: str | None
try:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
except ImportError:
    MLFLOW_IMPORT_ERROR = traceback.format_exc()
    MlflowException = Exception  # type: ignore[misc,assignment]
    MlflowClient = None  # type: ignore[misc,assignment]
else:
    MLFLOW_IMPORT_ERROR = None


def mlflow_argument_spec() -> dict[str, dict[str, Any]]:
    """Connection options of every MLflow module (documented in the birtha.mlflow.mlflow fragment)."""
    return {
        "tracking_uri": {"type": "str", "required": True, "fallback": (env_fallback, ["MLFLOW_TRACKING_URI"])},
        "username": {"type": "str", "fallback": (env_fallback, ["MLFLOW_TRACKING_USERNAME"])},
        "password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["MLFLOW_TRACKING_PASSWORD"])},
        "token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["MLFLOW_TRACKING_TOKEN"])},
        "ca_bundle": {"type": "path", "fallback": (env_fallback, ["MLFLOW_TRACKING_SERVER_CERT_PATH"])},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 30},
        "retries": {"type": "int", "default": 2},
    }


def client_environment(params: dict[str, Any]) -> dict[str, str]:
    """MLflow's client reads its credentials and HTTP settings from the environment."""
    env = {
        "MLFLOW_TRACKING_URI": params["tracking_uri"],
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(params["timeout"]),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(params["retries"]),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_TRACKING_INSECURE_TLS": "false" if params["validate_certs"] else "true",
    }
    optional = {
        "MLFLOW_TRACKING_USERNAME": params.get("username"),
        "MLFLOW_TRACKING_PASSWORD": params.get("password"),
        "MLFLOW_TRACKING_TOKEN": params.get("token"),
        "MLFLOW_TRACKING_SERVER_CERT_PATH": params.get("ca_bundle"),
    }
    env.update({key: value for key, value in optional.items() if value})
    return env


def mlflow_client(module: AnsibleModule) -> Any:
    """An MlflowClient configured from the module's connection options."""
    if MLFLOW_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("mlflow-skinny"), exception=MLFLOW_IMPORT_ERROR)
    # The module runs in its own process, so setting its environment affects nothing else.
    os.environ.update(client_environment(module.params))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return MlflowClient(tracking_uri=module.params["tracking_uri"])


def describe_error(exc: BaseException, tracking_uri: str) -> str:
    """A message that names the cause and the fix, for the failures operators actually meet."""
    text = str(exc)
    code = getattr(exc, "error_code", "")
    if code == "UNAUTHENTICATED" or re.search(r"\b401\b", text):
        return (
            f"MLflow at {tracking_uri} refused the credentials (401). Check username and password "
            "(or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)."
        )
    if code == "PERMISSION_DENIED" or re.search(r"\b403\b", text):
        return f"MLflow at {tracking_uri} denied the request (403): the user lacks permission. {text}"
    if "Max retries exceeded" in text or "Connection refused" in text or "timed out" in text.lower():
        return (
            f"MLflow tracking server at {tracking_uri} does not answer. Check that the server runs and "
            f"that tracking_uri is right. ({text.splitlines()[0] if text else type(exc).__name__})"
        )
    return text or type(exc).__name__


def fail_with_error(module: AnsibleModule, exc: BaseException, action: str) -> None:
    """fail_json with the cause of an MLflow client error and what was being done."""
    module.fail_json(
        msg=f"Could not {action}: {describe_error(exc, module.params['tracking_uri'])}",
        exception=traceback.format_exc(),
    )
