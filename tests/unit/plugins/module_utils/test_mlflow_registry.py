"""Pure logic of the MLflow modules: tag and alias plans, paging, models:/ URIs, source URIs, playbook filters."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.birtha.mlflow.plugins.filter.model_uris import model_uris
from ansible_collections.birtha.mlflow.plugins.filter.staged_artifacts import staged_artifacts
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    collect_pages,
    plan_tags,
    quote_filter_value,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    ModelRef,
    ModelUriError,
    parse_model_uri,
)
from ansible_collections.birtha.mlflow.plugins.modules.mlflow_model_version import SourceError, parse_runs_uri
from ansible_collections.birtha.mlflow.plugins.modules.mlflow_registered_model import plan_aliases


def test_tags_plan_sets_only_differences_and_purges_only_user_tags():
    current = {"team": "platform", "old": "x", "mlflow.note.content": "keep"}
    to_set, to_delete = plan_tags(current, {"team": "platform", "rank": 1}, purge=True)
    assert to_set == {"rank": "1"}
    assert to_delete == ["old"]


def test_tags_left_alone_when_not_declared():
    assert plan_tags({"a": "1"}, None, purge=True) == ({}, [])


def test_aliases_plan_moves_and_purges():
    to_set, to_delete = plan_aliases({"champion": "1", "old": "1"}, {"champion": 2}, purge=True)
    assert to_set == {"champion": "2"} and to_delete == ["old"]
    assert plan_aliases({"champion": "2"}, {"champion": "2"}, purge=False) == ({}, [])


class Page(list):
    def __init__(self, items, token):
        super().__init__(items)
        self.token = token


def test_paging_follows_tokens_and_stops_at_the_limit():
    pages = {None: Page([1, 2], "t1"), "t1": Page([3, 4], "t2"), "t2": Page([5], None)}
    assert collect_pages(lambda token: pages[token]) == [1, 2, 3, 4, 5]
    assert collect_pages(lambda token: pages[token], limit=3) == [1, 2, 3]


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/gw/3", ModelRef("gw", "version", "3")),
        ("models:/gw/production", ModelRef("gw", "stage", "Production")),
        ("models:/gw/latest", ModelRef("gw", "latest", "latest")),
        ("models:/gw@champion", ModelRef("gw", "alias", "champion")),
    ],
)
def test_model_uris_parse(uri, ref):
    assert parse_model_uri(uri) == ref


@pytest.mark.parametrize("uri", ["models:/gw/Prod", "runs:/abc/model", "models:/gw", "models:/gw@a/b"])
def test_bad_model_uris_say_what_is_accepted(uri):
    with pytest.raises(ModelUriError):
        parse_model_uri(uri)


def test_runs_uri_needs_run_and_path():
    assert parse_runs_uri("runs:/abc123/model/sub") == ("abc123", "model/sub")
    with pytest.raises(SourceError, match="run ID and the model's path"):
        parse_runs_uri("runs:/abc123")


def test_filter_values_refuse_quotes_mlflow_cannot_escape():
    assert quote_filter_value("a b") == "'a b'"
    with pytest.raises(ValueError, match="single quote"):
        quote_filter_value("it's")


def test_model_uris_cover_serving_stage_and_each_alias():
    model = {"name": "gw", "stage": "Production", "aliases": ["champion", "blue"]}
    archived = {"name": "old", "stage": "Archived"}
    assert [uri for _, uri in model_uris([model, archived])] == [
        "models:/gw/Production",
        "models:/gw@champion",
        "models:/gw@blue",
        "models:/old/latest",
    ]
    with pytest.raises(AnsibleFilterError):
        model_uris([{"stage": "Production"}])


def test_staged_artifacts_point_at_the_staging_copy():
    staged = staged_artifacts([{"src": "/ctl/files/reference_model/", "artifact_path": "model"}], "/var/tmp/s/run")
    assert staged == [{"src": "/var/tmp/s/run/reference_model", "artifact_path": "model"}]
    with pytest.raises(AnsibleFilterError):
        staged_artifacts([{"artifact_path": "x"}], "/tmp")
