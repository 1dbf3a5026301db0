"""models:/ URIs: which forms are accepted and what each names."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    ModelRef,
    ModelUriError,
    parse_model_uri,
)


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
