"""The platform's kept state: supplied values are checked against it, never silently replace it."""

from __future__ import annotations

import os
import stat

from ansible_collections.birtha.mlflow.plugins.module_utils import platform_state as ps


def test_a_supplied_value_that_differs_is_a_mismatch_and_nothing_is_written():
    outcome = ps.plan(
        kept={"postgres_mlflow_password": "kept-value"},
        supply={"postgres_mlflow_password": "typo-value", "minio_root_password": "new"},
        replace=[],
        generate={},
        required=[],
        may_generate=True,
    )
    assert outcome.mismatched == ["postgres_mlflow_password"]
    assert outcome.write == {}
    assert outcome.values["postgres_mlflow_password"] == "kept-value"


def test_an_equal_value_with_a_trailing_newline_is_not_a_mismatch():
    outcome = ps.plan({"a": "secret"}, {"a": "secret\n"}, [], {}, [], True)
    assert outcome.mismatched == []
    assert outcome.write == {}


def test_a_controller_copy_never_overrides_the_platform():
    outcome = ps.plan({"a": "platform"}, {}, [], {}, [], True, fallback={"a": "stale copy", "b": "only here"})
    assert outcome.mismatched == []
    assert outcome.values == {"a": "platform", "b": "only here"}
    assert outcome.write == {"b": "only here"}


def test_replace_lets_a_renewed_certificate_through():
    outcome = ps.plan(
        {"tls/h.crt": "old", "tls/ca.crt": "ca"},
        {"tls/h.crt": "new", "tls/ca.crt": "other"},
        ["tls/h.crt"],
        {},
        [],
        True,
    )
    assert outcome.mismatched == ["tls/ca.crt"]
    outcome = ps.plan({"tls/h.crt": "old"}, {"tls/h.crt": "new"}, ["tls/*.crt"], {}, [], True)
    assert outcome.write == {"tls/h.crt": "new"}


def test_generation_only_when_allowed_and_missing_names_are_reported():
    allowed = ps.plan({}, {}, [], {"a": 32, "b": 40}, ["a", "b"], may_generate=True)
    assert sorted(allowed.generated) == ["a", "b"]
    assert len(allowed.values["a"]) == 32 and allowed.values["a"].isalnum()
    assert allowed.missing == []
    refused = ps.plan({}, {}, [], {"a": 32}, ["a", "c"], may_generate=False)
    assert refused.generated == [] and refused.write == {}
    assert refused.missing == ["a", "c"]


def test_generation_never_replaces_a_kept_value():
    outcome = ps.plan({"a": "kept"}, {}, [], {"a": 32}, ["a"], True)
    assert outcome.values["a"] == "kept"
    assert outcome.generated == []


def test_state_is_written_root_only_and_read_back(tmp_path):
    state = tmp_path / "state"
    ps.write_state(str(state), {"postgres_mlflow_password": "p", "tls/ca.key": "k"})
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "tls").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "tls" / "ca.key").st_mode) == 0o600
    assert ps.read_state(str(state)) == {"postgres_mlflow_password": "p", os.path.join("tls", "ca.key"): "k"}
    assert ps.remove_state(str(state), ["tls/ca.key", "absent"]) == ["tls/ca.key"]
    assert ps.read_state(str(state)) == {"postgres_mlflow_password": "p"}


def test_deployed_is_any_marker_present(tmp_path):
    (tmp_path / "15" / "main" / "conf.d").mkdir(parents=True)
    pattern = str(tmp_path / "*" / "main" / "conf.d" / "50-birtha.conf")
    assert not ps.is_deployed([pattern])
    (tmp_path / "15" / "main" / "conf.d" / "50-birtha.conf").write_text("")
    assert ps.is_deployed([pattern])


def test_a_deployed_platform_gets_no_new_required_secret_but_may_get_a_new_optional_one():
    outcome = ps.plan({"a": "kept"}, {}, [], {"b": 32, "c": 32}, ["a", "b"], may_generate=True, deployed=True)
    assert outcome.generated == ["c"]
    assert outcome.missing == ["b"]


def test_a_copy_fills_a_directory_only_where_the_platform_keeps_nothing_in_it():
    copies = {"tls/ca.crt": "CA", "tls/h.crt": "old certificate"}
    migrated = ps.plan({}, {}, [], {}, [], True, fallback=copies)
    assert migrated.write == copies
    # During a certificate rotation the platform keeps its CA but no host certificate: a stale copy stays out.
    rotating = ps.plan({"tls/ca.crt": "CA"}, {}, [], {}, [], True, fallback=copies)
    assert rotating.write == {}


def test_a_trailing_newline_never_becomes_part_of_a_secret(tmp_path):
    (tmp_path / "mlflow_admin_password").write_text("s3cret\n")
    assert ps.read_state(str(tmp_path)) == {"mlflow_admin_password": "s3cret"}
    assert ps.plan({}, {}, [], {}, [], True, fallback={"a": "from a copy\n"}).values == {"a": "from a copy"}


def test_names_outside_the_state_directory_are_refused(tmp_path):
    for name in ("../escape", "/etc/passwd", "tls/../../x"):
        try:
            ps.write_state(str(tmp_path), {name: "x"})
        except ValueError as error:
            assert name in str(error)
        else:
            raise AssertionError(f"{name} was written")


def test_a_write_interrupted_by_a_crash_is_never_read_as_state(tmp_path):
    ps.write_state(str(tmp_path), {"mlflow_admin_password": "kept", ".rotation-pending": "2026"})
    (tmp_path / ".mlflow_admin_password.abc123.tmp").write_text("half-writ")
    (tmp_path / ".tmp-old").write_text("half-writ")
    assert ps.read_state(str(tmp_path)) == {"mlflow_admin_password": "kept", ".rotation-pending": "2026"}
