"""platform_state as a module: a state host rebuilt while the cluster's other members run gets no new secret."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.birtha.mlflow.plugins.modules import platform_state


def run_module(capsys: pytest.CaptureFixture[str], **args: object) -> dict:
    with patch_module_args(args), pytest.raises(SystemExit):
        platform_state.main()
    return json.loads(capsys.readouterr().out)


def test_a_new_state_host_generates_what_it_lacks(tmp_path, capsys):
    result = run_module(capsys, path=str(tmp_path / "state"), generate={"a": 32}, required=["a"], write=True)
    assert result["generated"] == ["a"]
    assert len(result["entries"]["a"]) == 32
    assert (tmp_path / "state" / "a").read_text() == result["entries"]["a"]


def test_a_rebuilt_state_host_of_a_running_cluster_generates_nothing(tmp_path, capsys):
    result = run_module(
        capsys,
        path=str(tmp_path / "state"),
        generate={"a": 32},
        required=["a"],
        deployed_elsewhere=True,
        write=True,
    )
    assert result["deployed"] is True
    assert result["generated"] == []
    assert result["missing"] == ["a"]
    assert not (tmp_path / "state").exists()


def test_a_rebuilt_state_host_takes_the_controllers_copy(tmp_path, capsys):
    result = run_module(
        capsys,
        path=str(tmp_path / "state"),
        fallback={"a": "the cluster's value"},
        generate={"a": 32},
        required=["a"],
        deployed_elsewhere=True,
        write=True,
    )
    assert result["missing"] == []
    assert (tmp_path / "state" / "a").read_text() == "the cluster's value"
