"""Pure logic of mlflow_user and mlflow_permission: what to change, which grant is the user's, how errors read."""

from __future__ import annotations

import base64
import json
import ssl

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import HttpSettings
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_auth import (
    AuthApi,
    AuthApiError,
    DesiredUser,
    Grant,
    Resource,
    describe_http_error,
    find_grant,
    needs_password_check,
    password_works,
    plan_permission,
    plan_user,
    refuse_self_lockout,
    user_view,
)
from ansible_collections.birtha.mlflow.plugins.modules.mlflow_user import predicted
from ansible_collections.birtha.mlflow.tests.unit.plugins.module_utils.loopback import self_signed, serve

ALICE = {"id": 3, "username": "alice", "is_admin": False}
EXPERIMENT = Resource("experiment", "7", "integration")


# ---- users ----


def test_new_user_is_created_and_made_admin_only_when_asked():
    assert plan_user(None, DesiredUser("present", "p" * 12)) == ["create"]
    assert plan_user(None, DesiredUser("present", "p" * 12, is_admin=False)) == ["create"]
    assert plan_user(None, DesiredUser("present", "p" * 12, is_admin=True)) == ["create", "make_admin"]


def test_existing_user_admin_flag_follows_the_task_and_is_left_alone_without_it():
    admin = {**ALICE, "is_admin": True}
    assert plan_user(ALICE, DesiredUser("present", is_admin=True)) == ["make_admin"]
    assert plan_user(admin, DesiredUser("present", is_admin=False)) == ["revoke_admin"]
    assert plan_user(admin, DesiredUser("present", is_admin=True)) == []
    assert plan_user(admin, DesiredUser("present")) == []


def test_password_of_existing_user_changes_only_with_always_and_only_when_it_does_not_log_in():
    on_create = DesiredUser("present", "new-password-1")
    always = DesiredUser("present", "new-password-1", update_password="always")
    assert not needs_password_check(ALICE, on_create)
    assert plan_user(ALICE, on_create, password_ok=False) == []
    assert needs_password_check(ALICE, always)
    assert plan_user(ALICE, always, password_ok=True) == []
    assert plan_user(ALICE, always, password_ok=False) == ["update_password"]


def test_no_password_check_for_a_new_or_deleted_user_or_without_a_password():
    always = DesiredUser("present", "new-password-1", update_password="always")
    assert not needs_password_check(None, always)
    assert not needs_password_check(ALICE, DesiredUser("absent", "new-password-1", update_password="always"))
    assert not needs_password_check(ALICE, DesiredUser("present", None, update_password="always"))


def test_absent_deletes_only_an_existing_user():
    assert plan_user(ALICE, DesiredUser("absent")) == ["delete"]
    assert plan_user(None, DesiredUser("absent")) == []


def test_module_refuses_to_lock_out_its_own_account():
    assert "Refusing to delete" in (refuse_self_lockout("admin", "admin", ["delete"]) or "")
    assert "Refusing to remove admin" in (refuse_self_lockout("admin", "admin", ["revoke_admin"]) or "")
    assert refuse_self_lockout("admin", "admin", ["update_password"]) is None
    assert refuse_self_lockout("alice", "admin", ["delete"]) is None


def test_predicted_user_for_check_mode():
    assert predicted("bob", None, ["create"]) == {"username": "bob", "id": None, "is_admin": False}
    assert predicted("bob", None, ["create", "make_admin"])["is_admin"] is True
    assert predicted("alice", ALICE, ["delete"]) is None
    assert predicted("bob", None, []) is None
    assert predicted("alice", ALICE, []) == ALICE


def test_user_view_never_carries_a_password_hash():
    view = user_view({**ALICE, "password_hash": "pbkdf2:..."})
    assert view == {"name": "alice", "id": 3, "is_admin": False}


# ---- permissions ----


@pytest.mark.parametrize(
    ("current", "desired", "action"),
    [
        (None, "READ", "grant"),
        ("READ", "READ", None),
        ("READ", "EDIT", "update"),
        ("DENY", "READ", "update"),
        ("READ", None, "revoke"),
        (None, None, None),
    ],
)
def test_permission_plan(current, desired, action):
    assert plan_permission(current, desired) == action


def test_only_the_grant_of_the_users_own_role_counts():
    rows = [
        # A role an admin assigned: not the module's to change.
        {
            "role_id": 1,
            "role_name": "readers",
            "resource_type": "experiment",
            "resource_pattern": "7",
            "permission": "EDIT",
        },
        {
            "role_id": 9,
            "role_name": "__user_4__",
            "resource_type": "experiment",
            "resource_pattern": "7",
            "permission": "MANAGE",
        },
        {
            "role_id": 5,
            "role_name": "__user_3__",
            "resource_type": "registered_model",
            "resource_pattern": "7",
            "permission": "EDIT",
        },
        {
            "role_id": 5,
            "role_name": "__user_3__",
            "resource_type": "experiment",
            "resource_pattern": "7",
            "permission": "READ",
        },
    ]
    assert find_grant(rows, 3, EXPERIMENT) == Grant(role_id=5, permission="READ")
    assert find_grant(rows, 3, Resource("experiment", "8", "other")) is None
    assert find_grant([], 3, EXPERIMENT) is None


def test_resource_is_returned_with_type_id_and_name():
    assert EXPERIMENT.to_dict() == {"type": "experiment", "id": "7", "name": "integration"}


# ---- connection ----


def test_errors_name_the_cause_and_the_fix():
    uri = "http://mlflow:5000"
    unauthorized = describe_http_error(401, "", "", uri, "admin", "create user 'bob'")
    assert "401" in unauthorized and "username/password" in unauthorized and "'admin'" in unauthorized
    forbidden = describe_http_error(403, "PERMISSION_DENIED", "denied", uri, "carol", "create user 'bob'")
    assert "403" in forbidden and "'carol' is not an admin" in forbidden
    no_auth_app = describe_http_error(404, "", "<!doctype html>", uri, "admin", "read user 'bob'")
    assert "--app-name basic-auth" in no_auth_app
    other = describe_http_error(
        400, "INVALID_PARAMETER_VALUE", "Password must be at least 12 characters.", uri, "a", "x"
    )
    assert "HTTP 400 INVALID_PARAMETER_VALUE: Password must be" in other


def api_at(url: str) -> AuthApi:
    return AuthApi({"tracking_uri": url + "/", "username": "admin", "password": "admin-password", "retries": 0})


def test_missing_user_is_none_but_other_errors_raise():
    missing = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "User with username=bob not found"}'
    with serve([(404, missing), (403, b"Permission denied")]) as server:
        assert api_at(server.url).get_user("bob") is None
        with pytest.raises(AuthApiError, match="is not an admin") as raised:
            api_at(server.url).get_user("bob")
        assert raised.value.status == 403
        assert server.seen[0]["path"] == "/api/2.0/mlflow/users/get?username=bob"


def test_a_server_that_does_not_answer():
    with pytest.raises(AuthApiError, match="does not answer"):
        api_at("http://127.0.0.1:9").get_user("bob")


def test_changing_ones_own_password_sends_the_current_one():
    with serve([(200, b"{}")]) as server:
        api_at(server.url).update_password("admin", "a-new-password")
        assert json.loads(server.seen[0]["body"]) == {
            "username": "admin",
            "password": "a-new-password",
            "current_password": "admin-password",
        }


@pytest.mark.parametrize(("status", "works"), [(200, True), (401, False)])
def test_password_works_is_a_login_attempt_as_that_user(status, works):
    with serve([(status, b"{}")]) as server:
        settings = HttpSettings(username="admin", password="admin-password")
        assert password_works(server.url, "alice", "secret-secret", settings) is works
        expected = "Basic " + base64.b64encode(b"alice:secret-secret").decode()
        assert server.seen[0]["authorization"] == expected


def test_a_certificate_that_does_not_verify_is_named_and_ca_bundle_fixes_it(tmp_path):
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    user = b'{"user": {"id": 1, "username": "bob", "is_admin": false}}'
    with serve([(200, user)], context) as server:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(AuthApiError, match=r"did not verify\. Set ca_bundle"):
            api_at(url).get_user("bob")
        trusted = AuthApi({"tracking_uri": url, "username": "admin", "password": "pw", "ca_bundle": cert})
        assert trusted.get_user("bob")["username"] == "bob"


def test_an_answer_that_is_not_json_is_named():
    page = b"<html>a login page of some proxy</html>"
    with serve([(200, page)]) as server, pytest.raises(AuthApiError, match="answered no JSON"):
        api_at(server.url).get_user("bob")
