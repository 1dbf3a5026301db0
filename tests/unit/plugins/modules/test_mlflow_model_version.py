"""mlflow_model_version's runs:/ source URIs."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.modules.mlflow_model_version import SourceError, parse_runs_uri


def test_runs_uri_needs_run_and_path():
    assert parse_runs_uri("runs:/abc123/model/sub") == ("abc123", "model/sub")
    with pytest.raises(SourceError, match="run ID and the model's path"):
        parse_runs_uri("runs:/abc123")
