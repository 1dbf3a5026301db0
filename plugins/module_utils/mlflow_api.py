# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The one MLflow connection layer: argument spec, client construction and error translation.

Every birtha.mlflow module that talks to the MLflow API builds its client here, so credentials,
TLS, timeouts and the wording of connection errors are handled once. The client is mlflow_rest's, on the
collection's HTTP client: the modules need nothing beyond ansible-core.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import HttpSettings, mlflow_client_environment
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_rest import MlflowApiError, MlflowRestClient
from ansible_collections.birtha.mlflow.plugins.module_utils.trust import system_ca_bundle


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
    env = {"MLFLOW_TRACKING_URI": params["tracking_uri"], **mlflow_client_environment(HttpSettings.from_params(params))}
    # requests ignores the host's trust store (where ssl_hardening puts the platform CA) unless told: MLflow's
    # calls to the server read MLFLOW_TRACKING_SERVER_CERT_PATH, its downloads from presigned MinIO URLs
    # REQUESTS_CA_BUNDLE.
    ca_bundle = params.get("ca_bundle") or (system_ca_bundle() if params["validate_certs"] else None)
    optional = {
        "MLFLOW_TRACKING_USERNAME": params.get("username"),
        "MLFLOW_TRACKING_PASSWORD": params.get("password"),
        "MLFLOW_TRACKING_TOKEN": params.get("token"),
        "MLFLOW_TRACKING_SERVER_CERT_PATH": ca_bundle,
        "REQUESTS_CA_BUNDLE": ca_bundle,
    }
    env.update({key: value for key, value in optional.items() if value})
    return env


def new_client(params: dict[str, Any]) -> MlflowRestClient:
    """A client for the connection options in params.

    The environment is set too: MLflow's own code, where it must run in the same process (mlflow_model_check's
    model loading, an artifact root the server does not proxy), reads its credentials and TLS setting there.
    """
    os.environ.update(client_environment(params))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return rest_client(params)


def rest_client(params: dict[str, Any]) -> MlflowRestClient:
    """A client that leaves the environment alone (for the lookup, in the controller's process)."""
    return MlflowRestClient(params["tracking_uri"], HttpSettings.from_params(params))


def mlflow_client(module: AnsibleModule) -> MlflowRestClient:
    """A client configured from the module's connection options."""
    return new_client(module.params)


def no_answer_text(tracking_uri: str, detail: str) -> str:
    return (
        f"MLflow tracking server at {tracking_uri} does not answer. Check that the server runs and that "
        f"tracking_uri is right. ({detail})"
    )


def unauthenticated_text(tracking_uri: str) -> str:
    return (
        f"MLflow at {tracking_uri} refused the credentials (401). Check username and password "
        "(or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)."
    )


def describe_api_error(exc: MlflowApiError, tracking_uri: str) -> str:
    """The REST client's failures, told apart by what it knows: TLS, no answer, the HTTP status, MLflow's code."""
    text = str(exc)
    if exc.tls_failure:
        if "ca_bundle" in text:
            return f"{text}. Set ca_bundle to a readable PEM file of the CA that signed MLflow's certificate."
        return (
            f"the TLS certificate of MLflow at {tracking_uri} did not verify. Set ca_bundle to the CA that signed "
            f"it (validate_certs=false only for testing). ({text})"
        )
    if exc.no_answer:
        return no_answer_text(tracking_uri, text)
    if exc.status == 401 or exc.error_code == "UNAUTHENTICATED":
        return unauthenticated_text(tracking_uri)
    if exc.status == 403 or exc.error_code == "PERMISSION_DENIED":
        return f"MLflow at {tracking_uri} denied the request (403): the user lacks permission. {text}"
    return text


def describe_error(exc: BaseException, tracking_uri: str) -> str:
    """A message that names the cause and the fix, for the failures operators actually meet."""
    if isinstance(exc, MlflowApiError):
        return describe_api_error(exc, tracking_uri)
    # MLflow's own code (mlflow_model_check's model loading, an artifact root the server does not proxy).
    text = str(exc)
    code = getattr(exc, "error_code", "")
    if code == "UNAUTHENTICATED" or re.search(r"\b401\b", text):
        return unauthenticated_text(tracking_uri)
    if code == "PERMISSION_DENIED" or re.search(r"\b403\b", text):
        return f"MLflow at {tracking_uri} denied the request (403): the user lacks permission. {text}"
    if "Max retries exceeded" in text or "Connection refused" in text or "timed out" in text.lower():
        return no_answer_text(tracking_uri, text.splitlines()[0] if text else type(exc).__name__)
    return text or type(exc).__name__


def fail_with_error(module: AnsibleModule, exc: BaseException, action: str) -> None:
    """fail_json with the cause of an MLflow client error and what was being done."""
    module.fail_json(
        msg=f"Could not {action}: {describe_error(exc, module.params['tracking_uri'])}",
        exception=traceback.format_exc(),
    )


class MlflowModule(AnsibleModule):
    """AnsibleModule with the shared connection options, a lazily built client and worded failures."""

    def __init__(self, argument_spec: dict[str, Any], **kwargs: Any) -> None:
        spec = mlflow_argument_spec()
        spec.update(argument_spec)
        super().__init__(argument_spec=spec, **kwargs)
        self._client: MlflowRestClient | None = None

    @property
    def client(self) -> MlflowRestClient:
        if self._client is None:
            self._client = mlflow_client(self)
        return self._client

    def fail_mlflow(self, exc: BaseException, action: str) -> NoReturn:
        fail_with_error(self, exc, action)
        raise AssertionError("fail_json returned")  # pragma: no cover - fail_json exits


# MLflow's largest page for searches; more results are collected page by page.
SEARCH_PAGE_SIZE = 1000


def search_argument_spec(max_results: int) -> dict[str, dict[str, Any]]:
    """The listing options of the *_info modules; max_results 0 means all."""
    return {
        "view_type": {"type": "str", "choices": ["active_only", "deleted_only", "all"], "default": "active_only"},
        "order_by": {"type": "list", "elements": "str"},
        "max_results": {"type": "int", "default": max_results},
    }


def search_limit(module: AnsibleModule) -> int | None:
    """How many results max_results asks for, None for all; a negative number fails the task."""
    if module.params["max_results"] < 0:
        module.fail_json(msg="max_results must be 0 (all) or a positive number.")
    return module.params["max_results"] or None


def page_size(limit: int | None) -> int:
    return min(SEARCH_PAGE_SIZE, limit or SEARCH_PAGE_SIZE)


def error_code(exc: BaseException) -> str:
    """MLflow's error code of an exception (RESOURCE_DOES_NOT_EXIST, ...), or an empty string."""
    return str(getattr(exc, "error_code", "") or "")


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def collect_pages(fetch: Callable[[str | None], Any], limit: int | None = None) -> list[Any]:
    """Follow MLflow's page tokens until the results run out or limit items are collected."""
    items: list[Any] = []
    token: str | None = None
    while True:
        page = fetch(token)
        items.extend(page)
        token = getattr(page, "token", None)
        if not token or (limit is not None and len(items) >= limit):
            return items[:limit] if limit is not None else items


def is_system_tag(key: str) -> bool:
    """MLflow writes tags under mlflow.* itself; purging them would break the UI and lineage."""
    return key.startswith("mlflow.")


def plan_tags(current: dict[str, str], desired: dict[str, Any] | None, purge: bool) -> tuple[dict[str, str], list[str]]:
    """Tags to set and tag keys to delete so that current matches desired."""
    if desired is None:
        return {}, []
    wanted = {str(key): str(value) for key, value in desired.items()}
    to_set = {key: value for key, value in wanted.items() if current.get(key) != value}
    to_delete = sorted(key for key in current if key not in wanted and not is_system_tag(key)) if purge else []
    return to_set, to_delete


def tags_dict(tags: Any) -> dict[str, str]:
    """MLflow hands tags back as a dict or as a list of tag entities, depending on the object."""
    if isinstance(tags, dict):
        return {str(key): str(value) for key, value in tags.items()}
    return {str(tag.key): str(tag.value) for tag in tags or []}


def experiment_to_dict(experiment: Any) -> dict[str, Any]:
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "tags": tags_dict(experiment.tags),
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
    }


def run_to_dict(run: Any) -> dict[str, Any]:
    info, data = run.info, run.data
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
        "user_id": info.user_id,
        "params": dict(data.params),
        "metrics": dict(data.metrics),
        "tags": tags_dict(data.tags),
    }


def registered_model_to_dict(model: Any) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description or "",
        "tags": tags_dict(model.tags),
        "aliases": {alias: str(version) for alias, version in (model.aliases or {}).items()},
        "latest_versions": [
            {"version": str(version.version), "current_stage": version.current_stage}
            for version in model.latest_versions or []
        ],
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
    }


def model_version_to_dict(version: Any) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": str(version.version),
        "source": version.source,
        "run_id": version.run_id or "",
        "status": version.status,
        "current_stage": version.current_stage,
        "description": version.description or "",
        "tags": tags_dict(version.tags),
        "aliases": sorted(version.aliases or []),
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
    }


def quote_filter_value(value: str) -> str:
    """A value for MLflow's filter strings, which quote with single quotes and do not escape."""
    if "'" in value:
        raise ValueError(f"MLflow filter strings cannot match a value containing a single quote: {value!r}")
    return f"'{value}'"


def uniq(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
