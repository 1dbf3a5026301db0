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


def test_a_write_counts_a_revision_and_a_rerun_does_not(tmp_path, capsys):
    state = str(tmp_path / "state")
    assert run_module(capsys, path=state)["revision"] == 0
    first = run_module(capsys, path=state, supply={"a": "one"}, write=True)
    again = run_module(capsys, path=state, supply={"a": "one"}, write=True)
    assert (first["changed"], first["revision"]) == (True, 1)
    assert (again["changed"], again["revision"]) == (False, 1)
    assert ".revision" not in again["entries"]


def test_check_mode_says_the_next_revision_and_keeps_the_old(tmp_path, capsys):
    state = tmp_path / "state"
    run_module(capsys, path=str(state), supply={"a": "one"}, write=True)
    checked = run_module(capsys, path=str(state), supply={"b": "two"}, write=True, _ansible_check_mode=True)
    assert (checked["changed"], checked["revision"]) == (True, 2)
    assert (state / ".revision").read_text() == "1\n"
    assert not (state / "b").exists()


def test_state_kept_before_revisions_counts_as_revision_one(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "a").write_text("one")
    assert run_module(capsys, path=str(state))["revision"] == 1
    assert run_module(capsys, path=str(state), supply={"b": "two"}, write=True)["revision"] == 2


def test_a_mirror_makes_an_exact_copy_once(tmp_path, capsys):
    state = tmp_path / "state"
    run_module(capsys, path=str(state), supply={"a": "stale", "gone": "removed upstream"}, write=True)
    source = {"a": "new", "tls/ca.crt": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"}
    mirrored = run_module(capsys, path=str(state), mirror=source, revision=5)
    assert (mirrored["changed"], mirrored["removed"], mirrored["written"]) == (True, ["gone"], ["a", "tls/ca.crt"])
    assert run_module(capsys, path=str(state))["entries"] == source
    assert (state / ".revision").read_text() == "5\n"
    assert oct((state / "tls").stat().st_mode & 0o777) == "0o700"
    assert oct((state / "tls" / "ca.crt").stat().st_mode & 0o777) == "0o600"
    assert run_module(capsys, path=str(state), mirror=source, revision=5)["changed"] is False


def test_a_mirror_never_overwrites_a_newer_copy(tmp_path, capsys):
    state = tmp_path / "state"
    run_module(capsys, path=str(state), supply={"a": "one"}, write=True)
    run_module(capsys, path=str(state), supply={"b": "two"}, write=True)
    refused = run_module(capsys, path=str(state), mirror={"a": "older"}, revision=1)
    assert refused["failed"] is True
    assert "holds revision 2, newer than the copy to mirror (revision 1)" in refused["msg"]
    assert (state / "a").read_text() == "one"
    assert (state / "b").read_text() == "two"


def test_a_mirror_takes_no_values_of_its_own(tmp_path, capsys):
    refused = run_module(capsys, path=str(tmp_path / "state"), mirror={"a": "x"}, revision=1, supply={"a": "y"})
    assert "mutually exclusive" in refused["msg"]
    assert not (tmp_path / "state").exists()


def test_a_mirror_never_replaces_other_values_under_the_same_revision(tmp_path, capsys):
    state = tmp_path / "state"
    run_module(capsys, path=str(state), supply={"a": "written here"}, write=True)
    refused = run_module(capsys, path=str(state), mirror={"a": "written elsewhere"}, revision=1)
    assert "other values under the same revision as the copy to mirror (revision 1)" in refused["msg"]
    assert (state / "a").read_text() == "written here"
    assert run_module(capsys, path=str(state), mirror={"a": "written here"}, revision=1)["changed"] is False


def test_a_controllers_copy_gets_the_values_and_nothing_else(tmp_path, capsys):
    copy = tmp_path / "credentials"
    written = run_module(capsys, path=str(copy), supply={"a": "one"}, replace=["*"], write=True, revisions=False)
    assert written["changed"] is True
    assert sorted(entry.name for entry in copy.iterdir()) == ["a"]
