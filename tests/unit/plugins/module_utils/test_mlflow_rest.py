"""MLflow's REST API client against a real HTTP server on loopback: what is sent, and what comes back.

The answers are MLflow 3.17.2's JSON as its server writes it (unset fields left out, tags as lists). That the
calls do what MLflow does is shown against a real tracking server by the modules' tests in the Molecule scenarios
(tests/platform_api).
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import sys

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils import http_client, mlflow_api
from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import HttpSettings
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    ModelUriError,
    parse_model_uri,
    resolve_model_ref,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_rest import (
    Metric,
    MlflowApiError,
    MlflowRestClient,
    batches,
    proxied_artifact_location,
)
from ansible_collections.birtha.mlflow.tests.unit.plugins.module_utils.loopback import serve

PLUGINS = "ansible_collections.birtha.mlflow.plugins"
RUN = {
    "info": {
        "run_id": "abc123",
        "run_name": "nightly",
        "experiment_id": "7",
        "status": "FINISHED",
        "lifecycle_stage": "active",
        "start_time": 1700000000000,
        "artifact_uri": "mlflow-artifacts:/7/abc123/artifacts",
        "user_id": "ops",
    },
    "data": {
        "params": [{"key": "lr", "value": "0.1"}],
        "metrics": [{"key": "acc", "value": 0.93, "timestamp": 1700000000001, "step": 3}],
        "tags": [{"key": "mlflow.runName", "value": "nightly"}, {"key": "team", "value": "ml"}],
    },
}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def client(url: str, **settings: object) -> MlflowRestClient:
    return MlflowRestClient(url + "/", HttpSettings(**settings))


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(http_client, "BACKOFF_SECONDS", 0.0)


def test_a_run_comes_back_with_mlflows_attributes():
    with serve([(200, body({"run": RUN}))]) as server:
        run = client(server.url).get_run("abc123")
        assert server.seen[0]["path"] == "/api/2.0/mlflow/runs/get?run_id=abc123"
    assert (run.info.run_id, run.info.experiment_id, run.info.end_time) == ("abc123", "7", None)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics == {"acc": 0.93}
    assert run.data.tags["team"] == "ml"
    assert mlflow_api.run_to_dict(run)["tags"] == {"mlflow.runName": "nightly", "team": "ml"}


def test_a_missing_experiment_by_name_is_none_and_other_errors_raise():
    missing = body({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment"})
    denied = body({"error_code": "PERMISSION_DENIED", "message": "Permission denied"})
    with serve([(404, missing), (403, denied)]) as server:
        rest = client(server.url)
        assert rest.get_experiment_by_name("nope") is None
        with pytest.raises(MlflowApiError) as raised:
            rest.get_experiment_by_name("secret")
    assert (raised.value.status, raised.value.error_code) == (403, "PERMISSION_DENIED")
    assert "lacks permission" in mlflow_api.describe_error(raised.value, server.url)


def test_searches_page_with_tokens_and_are_retried_as_reads(no_backoff):
    experiment = {"experiment_id": "1", "name": "a", "tags": [{"key": "t", "value": "v"}]}
    first = body({"experiments": [experiment], "next_page_token": "tok"})
    last = body({"experiments": [{"experiment_id": "2", "name": "b"}]})
    with serve([(503, b"busy"), (200, first), (200, last)]) as server:
        rest = client(server.url, retries=1)
        found = mlflow_api.collect_pages(lambda token: rest.search_experiments("all", 2, page_token=token))
        sent = [json.loads(seen["body"]) for seen in server.seen]
    assert [(e.experiment_id, e.tags) for e in found] == [("1", {"t": "v"}), ("2", {})]
    assert [request["page_token"] for request in sent] == ["", "", "tok"]
    assert sent[0]["view_type"] == "ALL" and sent[0]["max_results"] == 2


def test_a_create_is_never_sent_twice(no_backoff):
    with serve([(503, b"busy"), (200, body({"experiment_id": "9"}))]) as server:
        with pytest.raises(MlflowApiError, match="HTTP 503"):
            client(server.url, retries=3).create_experiment("x", tags={"team": "ml"})
        assert len(server.seen) == 1
        assert json.loads(server.seen[0]["body"]) == {"name": "x", "tags": [{"key": "team", "value": "ml"}]}


def test_non_finite_metrics_are_sent_as_mlflow_reads_them():
    with serve([(200, b"{}"), (200, b"{}")]) as server:
        rest = client(server.url)
        rest.log_batch("abc123", [Metric("a", float("nan"), 1, 0), Metric("b", float("-inf"), 1, 0)])
        rest.log_metric("abc123", "c", float("inf"))
        batch, single = (json.loads(seen["body"]) for seen in server.seen)
    assert [m["value"] for m in batch["metrics"]] == ["NaN", "-Infinity"]
    assert single["value"] == "Infinity"


def test_more_params_than_mlflow_takes_at_once_go_in_several_requests():
    params = {f"p{i}": str(i) for i in range(150)}
    with serve([(200, b"{}")] * 3) as server:
        client(server.url).log_batch("abc123", [Metric("m", 1.0, 1, 0)], params, {"t": "v"})
        sent = [json.loads(seen["body"]) for seen in server.seen]
    shapes = [(len(b["metrics"]), len(b["params"]), len(b["tags"])) for b in sent]
    assert shapes == [(0, 100, 0), (0, 50, 0), (0, 0, 1), (1, 0, 0)]
    assert sum(len(b["params"]) for b in sent) == 150


def test_small_batches_stay_one_request():
    assert len(batches([{}] * 10, [{}] * 100, [{}] * 100)) == 1
    assert len(batches([{}] * 1000, [], [{}])) == 2


def test_log_batch_sends_metrics_params_and_tags_as_mlflow_reads_them():
    with serve([(200, b"{}")]) as server:
        client(server.url).log_batch("abc123", [Metric("acc", 0.5, 17, 2)], {"lr": "0.1"}, {"team": "ml"})
        sent = json.loads(server.seen[0]["body"])
    assert sent == {
        "run_id": "abc123",
        "metrics": [{"key": "acc", "value": 0.5, "timestamp": 17, "step": 2}],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "team", "value": "ml"}],
    }


def test_an_artifact_is_put_through_the_servers_artifact_proxy(tmp_path):
    local = tmp_path / "report.json"
    local.write_text('{"ok": true}')
    with serve([(200, body({"run": RUN})), (200, b"{}"), (200, b"{}")]) as server:
        rest = client(server.url)
        rest.log_artifact("abc123", str(local), "reports/daily")
        rest.log_text("abc123", "hello", "notes/readme.txt")
        put, text = server.seen[1], server.seen[2]
    assert (put["method"], put["path"]) == (
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/7/abc123/artifacts/reports/daily/report.json",
    )
    assert put["body"] == b'{"ok": true}'
    assert (text["path"], text["body"]) == (
        "/api/2.0/mlflow-artifacts/artifacts/7/abc123/artifacts/notes/readme.txt",
        b"hello",
    )


def test_listing_and_reading_artifacts_go_through_the_run():
    files = [{"path": "model", "is_dir": True}, {"path": "probe.json", "is_dir": False, "file_size": 5}]
    listing = body({"root_uri": "mlflow-artifacts:/7/abc123/artifacts", "files": files})
    with serve([(200, listing), (200, b"12345")]) as server:
        rest = client(server.url)
        files = rest.list_artifacts("abc123")
        content = rest.read_artifact("abc123", "probe.json")
        paths = [seen["path"] for seen in server.seen]
    assert [(f.path, f.is_dir, f.file_size) for f in files] == [("model", True, None), ("probe.json", False, 5)]
    assert content == b"12345"
    assert paths == ["/api/2.0/mlflow/artifacts/list?run_id=abc123", "/get-artifact?run_id=abc123&path=probe.json"]


@pytest.mark.parametrize(
    ("root", "location"),
    [
        ("mlflow-artifacts:/7/abc/artifacts", ("https://mlflow.example", "7/abc/artifacts")),
        ("mlflow-artifacts://other:5000/7/abc/artifacts", ("https://other:5000", "7/abc/artifacts")),
        ("http://other/api/2.0/mlflow-artifacts/artifacts/7/abc/artifacts", ("http://other", "7/abc/artifacts")),
        ("s3://bucket/7/abc/artifacts", None),
    ],
)
def test_proxied_artifact_roots_resolve_to_the_server_that_serves_them(root, location):
    assert proxied_artifact_location(root, "https://mlflow.example") == location


def test_registry_entities_keep_aliases_as_mlflow_does():
    model = {
        "name": "gw",
        "aliases": [{"alias": "champion", "version": "2"}],
        "latest_versions": [{"name": "gw", "version": "2", "current_stage": "Production", "status": "READY"}],
    }
    version = {"name": "gw", "version": "2", "source": "runs:/abc/model", "status": "READY", "aliases": ["champion"]}
    with serve([(200, body({"registered_model": model})), (200, body({"model_version": version}))]) as server:
        rest = client(server.url)
        as_dict = mlflow_api.registered_model_to_dict(rest.get_registered_model("gw"))
        by_alias = rest.get_model_version_by_alias("gw", "champion")
    assert as_dict["aliases"] == {"champion": "2"}
    assert as_dict["latest_versions"] == [{"version": "2", "current_stage": "Production"}]
    assert mlflow_api.model_version_to_dict(by_alias)["aliases"] == ["champion"]


def test_deletes_of_the_registry_carry_their_fields_in_the_body():
    with serve([(200, b"{}")]) as server:
        client(server.url).delete_registered_model_alias("gw", "champion")
        seen = server.seen[0]
    assert (seen["method"], seen["path"]) == ("DELETE", "/api/2.0/mlflow/registered-models/alias")
    assert json.loads(seen["body"]) == {"name": "gw", "alias": "champion"}


def test_no_answer_is_worded_as_a_server_that_does_not_answer():
    rest = MlflowRestClient("http://127.0.0.1:9", HttpSettings())
    with pytest.raises(MlflowApiError) as raised:
        rest.get_experiment("1")
    assert raised.value.status == 0
    message = mlflow_api.describe_error(raised.value, "http://127.0.0.1:9")
    assert "does not answer" in message and "http://127.0.0.1:9" in message


def test_an_answer_that_is_not_json_is_named_and_not_taken_for_no_answer():
    with (
        serve([(200, b"<html>proxy login</html>")]) as server,
        pytest.raises(MlflowApiError, match="no JSON") as raised,
    ):
        client(server.url).get_experiment("1")
    assert "does not answer" not in mlflow_api.describe_error(raised.value, server.url)


def test_status_not_numbers_in_the_message_decide_the_wording():
    error = MlflowApiError(
        "HTTP 404 RESOURCE_DOES_NOT_EXIST on GET x: No Experiment with id=403", "RESOURCE_DOES_NOT_EXIST", 404
    )
    assert mlflow_api.describe_error(error, "http://m") == str(error)
    assert "refused the credentials" in mlflow_api.describe_error(MlflowApiError("x", status=401), "http://m")


def test_the_artifact_proxys_detail_is_kept():
    answers = [(200, body({"run": RUN})), (503, body({"detail": "Artifact serving is disabled"}))]
    with serve(answers) as server, pytest.raises(MlflowApiError) as raised:
        client(server.url).log_text("abc123", "x", "x.txt")
    assert str(raised.value).startswith("HTTP 503 on PUT ")
    assert str(raised.value).endswith(": Artifact serving is disabled")


class RefuseMlflow(importlib.abc.MetaPathFinder):
    """An import finder that fails any import of mlflow, as on a host without it."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.split(".")[0] == "mlflow":
            raise ImportError(f"{name} imported")


@pytest.mark.parametrize(
    "name",
    [
        "mlflow_experiment",
        "mlflow_experiment_info",
        "mlflow_run",
        "mlflow_run_info",
        "mlflow_registered_model",
        "mlflow_model_version",
        "mlflow_platform_probe",
        "mlflow_model_check",
        "mlflow_user",
        "mlflow_permission",
    ],
)
def test_the_api_modules_import_without_mlflow(monkeypatch, name):
    """What makes them need only ansible-core, and spares each task about a second of CPU for the import."""
    for loaded in [key for key in sys.modules if key.split(".")[0] == "mlflow" or key.startswith(PLUGINS)]:
        monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setattr(sys, "meta_path", [RefuseMlflow(), *sys.meta_path])
    importlib.import_module(f"{PLUGINS}.modules.{name}")


def test_a_missing_alias_is_told_apart_from_a_failing_server():
    model = body({"registered_model": {"name": "gw"}})
    missing = body({"error_code": "INVALID_PARAMETER_VALUE", "message": "Registered model alias nope not found."})
    with serve([(200, model), (400, missing), (200, model), (500, b"boom")]) as server:
        rest = client(server.url)
        with pytest.raises(ModelUriError, match="has no alias 'nope'"):
            resolve_model_ref(rest, parse_model_uri("models:/gw@nope"))
        with pytest.raises(MlflowApiError, match="HTTP 500"):
            resolve_model_ref(rest, parse_model_uri("models:/gw@champion"))
