"""The shared MLflow connection layer: what reaches MLflow's client, and how failures are worded."""

from __future__ import annotations

import os

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils import mlflow_api
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_rest import MlflowApiError


def params(**overrides: object) -> dict[str, object]:
    base = {
        "tracking_uri": "http://mlflow.example:5000",
        "username": None,
        "password": None,
        "token": None,
        "ca_bundle": None,
        "validate_certs": True,
        "timeout": 30,
        "retries": 2,
    }
    return {**base, **overrides}


def test_credentials_and_tls_settings_reach_the_client_environment():
    env = mlflow_api.client_environment(params(username="ops", password="s3cret-value", ca_bundle="/etc/ca.pem"))
    assert env["MLFLOW_TRACKING_USERNAME"] == "ops"
    assert env["MLFLOW_TRACKING_PASSWORD"] == "s3cret-value"
    assert env["MLFLOW_TRACKING_SERVER_CERT_PATH"] == "/etc/ca.pem"
    assert env["MLFLOW_TRACKING_INSECURE_TLS"] == "false"
    assert env["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"


def test_unset_credentials_are_left_out_and_insecure_tls_is_explicit():
    env = mlflow_api.client_environment(params(validate_certs=False))
    assert "MLFLOW_TRACKING_USERNAME" not in env and "MLFLOW_TRACKING_PASSWORD" not in env
    assert env["MLFLOW_TRACKING_INSECURE_TLS"] == "true"


def test_argument_spec_hides_secrets_and_falls_back_to_mlflow_variables():
    spec = mlflow_api.mlflow_argument_spec()
    assert spec["password"]["no_log"] and spec["token"]["no_log"]
    assert spec["tracking_uri"]["fallback"][1] == ["MLFLOW_TRACKING_URI"]
    assert spec["username"]["fallback"][1] == ["MLFLOW_TRACKING_USERNAME"]


class FakeMlflowError(Exception):
    def __init__(self, message: str, error_code: str = "") -> None:
        super().__init__(message)
        self.error_code = error_code


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FakeMlflowError("API request failed with code 401", "UNAUTHENTICATED"), "refused the credentials"),
        (FakeMlflowError("denied", "PERMISSION_DENIED"), "lacks permission"),
        (FakeMlflowError("HTTPConnectionPool: Max retries exceeded (Connection refused)"), "does not answer"),
    ],
)
def test_errors_name_the_cause_and_the_fix(error, expected):
    message = mlflow_api.describe_error(error, "http://mlflow.example:5000")
    assert expected in message
    assert "http://mlflow.example:5000" in message


def test_a_client_never_sets_the_environment_for_the_lookup(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    rest = mlflow_api.rest_client(params(username="ops", password="s3cret-value"))
    assert rest.settings.username == "ops"
    assert "MLFLOW_TRACKING_PASSWORD" not in os.environ
    assert "s3cret-value" not in repr(rest.settings)


def test_a_certificate_that_did_not_verify_names_ca_bundle():
    error = MlflowApiError("no answer to GET /x: CERTIFICATE_VERIFY_FAILED", tls_failure=True)
    assert "Set ca_bundle" in mlflow_api.describe_error(error, "https://mlflow.example")


def test_tags_plan_sets_only_differences_and_purges_only_user_tags():
    current = {"team": "platform", "old": "x", "mlflow.note.content": "keep"}
    to_set, to_delete = mlflow_api.plan_tags(current, {"team": "platform", "rank": 1}, purge=True)
    assert to_set == {"rank": "1"}
    assert to_delete == ["old"]


def test_tags_left_alone_when_not_declared():
    assert mlflow_api.plan_tags({"a": "1"}, None, purge=True) == ({}, [])


class Page(list):
    def __init__(self, items, token):
        super().__init__(items)
        self.token = token


def test_paging_follows_tokens_and_stops_at_the_limit():
    pages = {None: Page([1, 2], "t1"), "t1": Page([3, 4], "t2"), "t2": Page([5], None)}
    assert mlflow_api.collect_pages(lambda token: pages[token]) == [1, 2, 3, 4, 5]
    assert mlflow_api.collect_pages(lambda token: pages[token], limit=3) == [1, 2, 3]


def test_filter_values_refuse_quotes_mlflow_cannot_escape():
    assert mlflow_api.quote_filter_value("a b") == "'a b'"
    with pytest.raises(ValueError, match="single quote"):
        mlflow_api.quote_filter_value("it's")


class ListingModule:
    """The part of a module search_limit reads and calls."""

    def __init__(self, max_results: int) -> None:
        self.params = {"max_results": max_results}

    def fail_json(self, msg: str) -> None:
        raise SystemExit(msg)


def test_max_results_zero_means_all_and_a_negative_number_is_refused():
    assert mlflow_api.search_limit(ListingModule(0)) is None
    assert mlflow_api.search_limit(ListingModule(25)) == 25
    with pytest.raises(SystemExit, match="max_results must be 0 \\(all\\) or a positive number"):
        mlflow_api.search_limit(ListingModule(-1))


def test_pages_are_as_large_as_mlflow_allows_or_the_limit():
    assert [mlflow_api.page_size(limit) for limit in (None, 25, 5000)] == [1000, 25, 1000]
