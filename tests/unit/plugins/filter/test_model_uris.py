"""The model_uris filter: the URIs a model is served under."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.birtha.mlflow.plugins.filter.model_uris import model_uris


def test_model_uris_cover_serving_stage_and_each_alias():
    model = {"name": "gw", "stage": "Production", "aliases": ["champion", "blue"]}
    archived = {"name": "old", "stage": "Archived"}
    assert [uri for _model, uri in model_uris([model, archived])] == [
        "models:/gw/Production",
        "models:/gw@champion",
        "models:/gw@blue",
        "models:/old/latest",
    ]
    with pytest.raises(AnsibleFilterError):
        model_uris([{"stage": "Production"}])
