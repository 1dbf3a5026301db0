"""mlflow_registered_model's alias plan."""

from __future__ import annotations

from ansible_collections.birtha.mlflow.plugins.modules.mlflow_registered_model import plan_aliases


def test_aliases_plan_moves_and_purges():
    to_set, to_delete = plan_aliases({"champion": "1", "old": "1"}, {"champion": 2}, purge=True)
    assert to_set == {"champion": "2"} and to_delete == ["old"]
    assert plan_aliases({"champion": "2"}, {"champion": "2"}, purge=False) == ({}, [])
