"""The staged_artifacts filter: artifacts logged from the copy staged on the host."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.birtha.mlflow.plugins.filter.staged_artifacts import staged_artifacts


def test_staged_artifacts_point_at_the_staging_copy():
    staged = staged_artifacts([{"src": "/ctl/files/reference_model/", "artifact_path": "model"}], "/var/tmp/s/run")
    assert staged == [{"src": "/var/tmp/s/run/reference_model", "artifact_path": "model"}]
    with pytest.raises(AnsibleFilterError):
        staged_artifacts([{"artifact_path": "x"}], "/tmp")
