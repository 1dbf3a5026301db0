# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""MLflow's REST API (tracking, registry, artifacts) through the collection's HTTP client.

The methods mirror the MlflowClient methods the modules used, with the same names and arguments, and return
small entities with the attributes of MLflow's (experiment.experiment_id, run.info.run_id, run.data.params as
a dict, ...). So the modules need nothing beyond ansible-core, and the import of mlflow (about a second of CPU
per task) is paid only where MLflow itself must run: loading a model (mlflow_model_check) and artifact
locations the tracking server does not serve (see ``foreign_artifact_repository``).

Endpoints and message fields as MLflow 3.17.2 serves them (mlflow/protos/service.proto, model_registry.proto,
mlflow_artifacts.proto).
"""

from __future__ import annotations

import io
import math
import os
import posixpath
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import Answer, HttpSettings, request

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
# Artifact roots the tracking server proxies (mlflow server --serve-artifacts): uploads go through it.
PROXIED_SCHEMES = ("mlflow-artifacts", "http", "https")
VIEW_TYPES = {"active_only": "ACTIVE_ONLY", "deleted_only": "DELETED_ONLY", "all": "ALL"}


# MLflow's own limits per log-batch request (mlflow.utils.validation): more is refused with a 400.
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000


class MlflowApiError(Exception):
    """A failed call: MLflow's error_code and message and the HTTP status; no_answer when nothing answered."""

    def __init__(
        self,
        message: str,
        error_code: str = "",
        status: int = 0,
        tls_failure: bool = False,
        no_answer: bool = False,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status
        self.tls_failure = tls_failure
        self.no_answer = no_answer


def error_body(answer: Answer) -> tuple[str, str]:
    """MLflow's error_code and message from a JSON error body; ("", text) for anything else."""
    try:
        body = answer.json()
    except ValueError:
        return "", answer.text.strip()[:300]
    if not isinstance(body, dict):
        return "", str(body)[:300]
    # MLflow's Flask handlers say "message"; its FastAPI routes (the artifact proxy) say "detail".
    return str(body.get("error_code", "")), str(body.get("message") or body.get("detail") or "")


def raise_for_answer(answer: Answer, what: str) -> None:
    """MlflowApiError for no answer or a non-2xx one; the message says what was asked and what came back."""
    if not answer.answered:
        first_line = (answer.reason.splitlines() or ["no answer"])[0]
        raise MlflowApiError(f"no answer to {what}: {first_line}", tls_failure=answer.tls_failure, no_answer=True)
    if answer.status >= 300:
        code, detail = error_body(answer)
        said = " ".join(part for part in (f"HTTP {answer.status}", code) if part)
        raise MlflowApiError(f"{said} on {what}: {detail}".rstrip(": "), code, answer.status)


def metric_value(value: float) -> float | str:
    """A metric value as MLflow's JSON takes it: NaN and the infinities as strings (bare NaN is not JSON)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def batches(metrics: list[Any], params: list[Any], tags: list[Any]) -> list[tuple[list[Any], list[Any], list[Any]]]:
    """(metrics, params, tags) per log-batch request, within MLflow's limits, as MlflowClient splits them."""
    if (
        len(params) <= MAX_PARAMS_PER_BATCH
        and len(tags) <= MAX_TAGS_PER_BATCH
        and len(metrics) + len(params) + len(tags) <= MAX_ENTITIES_PER_BATCH
    ):
        return [(metrics, params, tags)]
    chunks: list[tuple[list[Any], list[Any], list[Any]]] = []
    chunks += [([], params[i : i + MAX_PARAMS_PER_BATCH], []) for i in range(0, len(params), MAX_PARAMS_PER_BATCH)]
    chunks += [([], [], tags[i : i + MAX_TAGS_PER_BATCH]) for i in range(0, len(tags), MAX_TAGS_PER_BATCH)]
    step = MAX_ENTITIES_PER_BATCH
    chunks += [(metrics[i : i + step], [], []) for i in range(0, len(metrics), step)]
    return chunks


def tag_map(tags: list[dict[str, Any]] | None) -> dict[str, str]:
    """MLflow's JSON lists tags, params and aliases as [{key, value}]; the entities hold a dict."""
    return {str(tag["key"]): str(tag.get("value", "")) for tag in tags or []}


def tag_list(tags: dict[str, Any] | None) -> list[dict[str, str]]:
    return [{"key": str(key), "value": str(value)} for key, value in (tags or {}).items()]


class Page(list):
    """One page of a search, with the token of the next (None on the last page), as MLflow's PagedList."""

    def __init__(self, items: list[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token or None


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str]
    creation_time: int | None
    last_update_time: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Experiment:
        return cls(
            experiment_id=str(data["experiment_id"]),
            name=data.get("name", ""),
            artifact_location=data.get("artifact_location", ""),
            lifecycle_stage=data.get("lifecycle_stage", "active"),
            tags=tag_map(data.get("tags")),
            creation_time=data.get("creation_time"),
            last_update_time=data.get("last_update_time"),
        )


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    lifecycle_stage: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    user_id: str


@dataclass(frozen=True)
class RunData:
    params: dict[str, str]
    metrics: dict[str, float]  # the latest value of each metric, as MLflow's RunData
    tags: dict[str, str]


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        info, values = data.get("info", {}), data.get("data", {})
        return cls(
            info=RunInfo(
                run_id=info.get("run_id") or info.get("run_uuid", ""),
                run_name=info.get("run_name", ""),
                experiment_id=str(info.get("experiment_id", "")),
                status=info.get("status", ""),
                lifecycle_stage=info.get("lifecycle_stage", "active"),
                start_time=info.get("start_time"),
                end_time=info.get("end_time"),
                artifact_uri=info.get("artifact_uri", ""),
                user_id=info.get("user_id", ""),
            ),
            data=RunData(
                params=tag_map(values.get("params")),
                metrics={str(m["key"]): float(m.get("value", 0.0)) for m in values.get("metrics") or []},
                tags=tag_map(values.get("tags")),
            ),
        )


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    source: str
    run_id: str
    status: str
    status_message: str
    current_stage: str
    description: str
    tags: dict[str, str]
    aliases: list[str]
    creation_timestamp: int | None
    last_updated_timestamp: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelVersion:
        return cls(
            name=data.get("name", ""),
            version=str(data.get("version", "")),
            source=data.get("source", ""),
            run_id=data.get("run_id", ""),
            status=data.get("status", ""),
            status_message=data.get("status_message", ""),
            current_stage=data.get("current_stage", "None"),
            description=data.get("description", ""),
            tags=tag_map(data.get("tags")),
            aliases=list(data.get("aliases") or []),
            creation_timestamp=data.get("creation_timestamp"),
            last_updated_timestamp=data.get("last_updated_timestamp"),
        )


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version, as MLflow's entity
    latest_versions: list[ModelVersion] = field(default_factory=list)
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisteredModel:
        return cls(
            name=data.get("name", ""),
            description=data.get("description", ""),
            tags=tag_map(data.get("tags")),
            aliases={str(a["alias"]): str(a["version"]) for a in data.get("aliases") or []},
            latest_versions=[ModelVersion.from_json(v) for v in data.get("latest_versions") or []],
            creation_timestamp=data.get("creation_timestamp"),
            last_updated_timestamp=data.get("last_updated_timestamp"),
        )


@dataclass(frozen=True)
class LoggedModel:
    """A model logged with MLflow 3's log_model (models:/m-...)."""

    model_id: str
    name: str
    experiment_id: str
    source_run_id: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoggedModel:
        info = data.get("info", data)
        return cls(
            model_id=info.get("model_id", ""),
            name=info.get("name", ""),
            experiment_id=str(info.get("experiment_id", "")),
            source_run_id=info.get("source_run_id", ""),
        )


def now_ms() -> int:
    return int(time.time() * 1000)


def proxied_artifact_location(artifact_uri: str, tracking_uri: str) -> tuple[str, str] | None:
    """(server URL, path under its mlflow-artifacts API) of a proxied artifact root; None for other roots.

    As MLflow resolves them: mlflow-artifacts:/path is the tracking server's, mlflow-artifacts://host:port/path
    that host's with the tracking URI's scheme, an http(s) URL of the API its own server's.
    """
    parsed = urllib.parse.urlparse(artifact_uri)
    if parsed.scheme not in PROXIED_SCHEMES:
        return None
    if parsed.scheme == "mlflow-artifacts":
        server = f"{urllib.parse.urlparse(tracking_uri).scheme}://{parsed.netloc}" if parsed.netloc else tracking_uri
        return server.rstrip("/"), parsed.path.strip("/")
    anchor = ARTIFACTS_API + "/"
    if anchor not in parsed.path:
        return None
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.split(anchor, 1)[1].strip("/")


def foreign_artifact_repository(artifact_uri: str) -> Any:
    """MLflow's own artifact repository, for a root the tracking server does not proxy (s3://, a local path).

    Its errors are MLflow's or boto3's, not MlflowApiError.

    Only such platforms need mlflow-skinny (and boto3 for S3) where the module runs; the client's connection
    settings are in the environment already (mlflow_api.new_client).
    """
    try:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    except ImportError as exc:
        raise MlflowApiError(
            f"the artifact root {artifact_uri} is not served by the tracking server (mlflow server "
            "--serve-artifacts), so writing to it needs mlflow-skinny where the module runs.",
            error_code="MISSING_LIBRARY",
        ) from exc
    return get_artifact_repository(artifact_uri)


class MlflowRestClient:
    """The subset of MlflowClient the collection's modules call, over MLflow's REST API."""

    def __init__(self, tracking_uri: str, settings: HttpSettings) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.settings = settings
        self._artifact_roots: dict[str, str] = {}

    # ---- transport ----

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        read_only: bool = False,
    ) -> dict[str, Any]:
        """One API call; the decoded JSON answer. read_only: a POST that only reads (a search), retried as a GET."""
        answer = request(
            method, self.tracking_uri + endpoint, self.settings, query=query, json_body=body, idempotent=read_only
        )
        raise_for_answer(answer, f"{method} {endpoint}")
        try:
            decoded = answer.json()
        except ValueError as exc:
            raise MlflowApiError(
                f"{method} {endpoint} answered no JSON: {answer.text[:200]!r}", status=answer.status
            ) from exc
        return decoded if isinstance(decoded, dict) else {}

    def _get_or_none(self, endpoint: str, query: dict[str, Any]) -> dict[str, Any] | None:
        """A GET whose RESOURCE_DOES_NOT_EXIST means None (MlflowClient's get_experiment_by_name does so)."""
        try:
            return self.call("GET", endpoint, query=query)
        except MlflowApiError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    # ---- experiments ----

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._get_or_none(f"{API}/experiments/get-by-name", {"experiment_name": name})
        return Experiment.from_json(found["experiment"]) if found else None

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self.call("GET", f"{API}/experiments/get", query={"experiment_id": experiment_id})
        return Experiment.from_json(found["experiment"])

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name, "tags": tag_list(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self.call("POST", f"{API}/experiments/create", body=body)["experiment_id"])

    def delete_experiment(self, experiment_id: str) -> None:
        self.call("POST", f"{API}/experiments/delete", body={"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self.call("POST", f"{API}/experiments/restore", body={"experiment_id": experiment_id})

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": str(value)}
        self.call("POST", f"{API}/experiments/set-experiment-tag", body=body)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.call("POST", f"{API}/experiments/delete-experiment-tag", body={"experiment_id": experiment_id, "key": key})

    def search_experiments(
        self,
        view_type: str = "active_only",
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Page:
        body = {
            "view_type": VIEW_TYPES[view_type],
            "max_results": max_results,
            "filter": filter_string or "",
            "order_by": order_by or [],
            "page_token": page_token or "",
        }
        found = self.call("POST", f"{API}/experiments/search", body=body, read_only=True)
        return Page([Experiment.from_json(e) for e in found.get("experiments", [])], found.get("next_page_token"))

    # ---- runs ----

    def get_run(self, run_id: str) -> Run:
        run = Run.from_json(self.call("GET", f"{API}/runs/get", query={"run_id": run_id})["run"])
        self._artifact_roots[run.info.run_id] = run.info.artifact_uri
        return run

    def create_run(self, experiment_id: str, run_name: str | None = None, tags: dict[str, Any] | None = None) -> Run:
        # MLflow's server records no creator itself (not even with basic auth); MlflowClient sent "unknown".
        user_id = self.settings.username or "unknown"
        body = {"experiment_id": experiment_id, "start_time": now_ms(), "tags": tag_list(tags), "user_id": user_id}
        if run_name:
            body["run_name"] = run_name
        run = Run.from_json(self.call("POST", f"{API}/runs/create", body=body)["run"])
        self._artifact_roots[run.info.run_id] = run.info.artifact_uri
        return run

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: str = "active_only",
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Page:
        body = {
            "experiment_ids": list(experiment_ids),
            "filter": filter_string or "",
            "run_view_type": VIEW_TYPES[run_view_type],
            "max_results": max_results,
            "order_by": order_by or [],
            "page_token": page_token or "",
        }
        found = self.call("POST", f"{API}/runs/search", body=body, read_only=True)
        return Page([Run.from_json(r) for r in found.get("runs", [])], found.get("next_page_token"))

    def log_batch(
        self,
        run_id: str,
        metrics: list[Metric] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Log metrics, params and tags, in as many requests as MLflow's per-request limits need."""
        metric_entries = [
            {"key": m.key, "value": metric_value(m.value), "timestamp": m.timestamp, "step": m.step}
            for m in metrics or []
        ]
        for metric_chunk, param_chunk, tag_chunk in batches(metric_entries, tag_list(params), tag_list(tags)):
            body = {"run_id": run_id, "metrics": metric_chunk, "params": param_chunk, "tags": tag_chunk}
            self.call("POST", f"{API}/runs/log-batch", body=body)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.call("POST", f"{API}/runs/log-parameter", body={"run_id": run_id, "key": key, "value": str(value)})

    def log_metric(self, run_id: str, key: str, value: float, step: int = 0) -> None:
        body = {"run_id": run_id, "key": key, "value": metric_value(value), "timestamp": now_ms(), "step": step}
        self.call("POST", f"{API}/runs/log-metric", body=body)

    def set_terminated(self, run_id: str, status: str = "FINISHED") -> None:
        self.call("POST", f"{API}/runs/update", body={"run_id": run_id, "status": status, "end_time": now_ms()})

    def delete_run(self, run_id: str) -> None:
        self.call("POST", f"{API}/runs/delete", body={"run_id": run_id})

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        query = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        return [
            Metric(m["key"], float(m.get("value", 0.0)), int(m.get("timestamp", 0)), int(m.get("step", 0)))
            for m in self._every_page(f"{API}/metrics/get-history", query, "metrics")
        ]

    def _every_page(self, endpoint: str, query: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """The items under key of every page of a paged GET."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            found = self.call("GET", endpoint, query={**query, **({"page_token": token} if token else {})})
            items.extend(found.get(key, []))
            token = found.get("next_page_token", "")
            if not token:
                return items

    # ---- artifacts ----

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The run's own artifacts under path, listed by the server (a logged model's files are not among them)."""
        query = {"run_id": run_id, **({"path": path} if path else {})}
        return [
            FileInfo(f["path"], bool(f.get("is_dir", False)), f.get("file_size"))
            for f in self._every_page(f"{API}/artifacts/list", query, "files")
        ]

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The content of one of the run's artifacts, streamed by the server from wherever it is stored."""
        answer = request(
            "GET", f"{self.tracking_uri}/get-artifact", self.settings, query={"run_id": run_id, "path": path}
        )
        raise_for_answer(answer, f"GET /get-artifact {path}")
        return answer.body

    def _artifact_root(self, run_id: str) -> str:
        if run_id not in self._artifact_roots:
            self.get_run(run_id)
        return self._artifact_roots[run_id]

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Upload a local file into the run's artifacts (under artifact_path), as MlflowClient.log_artifact."""
        root = self._artifact_root(run_id)
        location = proxied_artifact_location(root, self.tracking_uri)
        if location is None:
            foreign_artifact_repository(root).log_artifact(local_path, artifact_path)
            return
        name = posixpath.join((artifact_path or "").strip("/"), os.path.basename(local_path))
        with open(local_path, "rb") as handle:
            self._put_artifact(location, name, handle, os.path.getsize(local_path))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Write text as the artifact artifact_file of the run, as MlflowClient.log_text."""
        data = text.encode("utf-8")
        root = self._artifact_root(run_id)
        location = proxied_artifact_location(root, self.tracking_uri)
        if location is None:
            with tempfile.TemporaryDirectory() as scratch:
                local = os.path.join(scratch, posixpath.basename(artifact_file))
                with open(local, "wb") as handle:
                    handle.write(data)
                foreign_artifact_repository(root).log_artifact(local, posixpath.dirname(artifact_file) or None)
            return
        self._put_artifact(location, artifact_file.strip("/"), io.BytesIO(data), len(data))

    def _put_artifact(self, location: tuple[str, str], name: str, stream: BinaryIO, size: int) -> None:
        """PUT through the server's mlflow-artifacts API, which writes to the artifact store it proxies."""
        server, base = location
        path = urllib.parse.quote(posixpath.join(base, name))
        answer = request("PUT", f"{server}{ARTIFACTS_API}/{path}", self.settings, data=stream, content_length=size)
        raise_for_answer(answer, f"PUT {ARTIFACTS_API}/{path}")

    # ---- registered models ----

    def get_registered_model(self, name: str) -> RegisteredModel:
        found = self.call("GET", f"{API}/registered-models/get", query={"name": name})
        return RegisteredModel.from_json(found["registered_model"])

    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        body = {"name": name, "tags": tag_list(tags), "description": description or ""}
        created = self.call("POST", f"{API}/registered-models/create", body=body)
        return RegisteredModel.from_json(created["registered_model"])

    def update_registered_model(self, name: str, description: str) -> None:
        self.call("PATCH", f"{API}/registered-models/update", body={"name": name, "description": description})

    def delete_registered_model(self, name: str) -> None:
        self.call("DELETE", f"{API}/registered-models/delete", body={"name": name})

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.call("POST", f"{API}/registered-models/set-tag", body={"name": name, "key": key, "value": str(value)})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.call("DELETE", f"{API}/registered-models/delete-tag", body={"name": name, "key": key})

    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self.call("POST", f"{API}/registered-models/alias", body=body)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.call("DELETE", f"{API}/registered-models/alias", body={"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        found = self.call("GET", f"{API}/registered-models/alias", query={"name": name, "alias": alias})
        return ModelVersion.from_json(found["model_version"])

    # ---- model versions ----

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        found = self.call("GET", f"{API}/model-versions/get", query={"name": name, "version": str(version)})
        return ModelVersion.from_json(found["model_version"])

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        body = {"name": name, "source": source, "tags": tag_list(tags), "description": description or ""}
        body.update({key: value for key, value in (("run_id", run_id), ("model_id", model_id)) if value})
        return ModelVersion.from_json(self.call("POST", f"{API}/model-versions/create", body=body)["model_version"])

    def update_model_version(self, name: str, version: Any, description: str) -> None:
        body = {"name": name, "version": str(version), "description": description}
        self.call("PATCH", f"{API}/model-versions/update", body=body)

    def set_model_version_tag(self, name: str, version: Any, key: str, value: Any) -> None:
        body = {"name": name, "version": str(version), "key": key, "value": str(value)}
        self.call("POST", f"{API}/model-versions/set-tag", body=body)

    def delete_model_version_tag(self, name: str, version: Any, key: str) -> None:
        body = {"name": name, "version": str(version), "key": key}
        self.call("DELETE", f"{API}/model-versions/delete-tag", body=body)

    def transition_model_version_stage(
        self, name: str, version: Any, stage: str, archive_existing_versions: bool = False
    ) -> None:
        body = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
        }
        self.call("POST", f"{API}/model-versions/transition-stage", body=body)

    def delete_model_version(self, name: str, version: Any) -> None:
        self.call("DELETE", f"{API}/model-versions/delete", body={"name": name, "version": str(version)})

    def search_model_versions(
        self, filter_string: str = "", max_results: int = 1000, page_token: str | None = None
    ) -> Page:
        query: dict[str, Any] = {"filter": filter_string, "max_results": max_results}
        if page_token:
            query["page_token"] = page_token
        found = self.call("GET", f"{API}/model-versions/search", query=query)
        return Page([ModelVersion.from_json(v) for v in found.get("model_versions", [])], found.get("next_page_token"))

    # ---- logged models (MLflow 3) ----

    def get_logged_model(self, model_id: str) -> LoggedModel:
        found = self.call("GET", f"{API}/logged-models/{urllib.parse.quote(model_id, safe='')}")
        return LoggedModel.from_json(found["model"])

    def search_logged_models(
        self, experiment_ids: list[str], filter_string: str = "", page_token: str | None = None
    ) -> Page:
        body = {"experiment_ids": list(experiment_ids), "filter": filter_string or "", "page_token": page_token or ""}
        found = self.call("POST", f"{API}/logged-models/search", body=body, read_only=True)
        return Page([LoggedModel.from_json(m) for m in found.get("models", [])], found.get("next_page_token"))
