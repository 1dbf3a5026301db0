# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""MLflow's basic-auth app (``mlflow server --app-name basic-auth``, MLflow 3.17): users and per-user grants.

The endpoints, as MLflow 3.17.2 serves them (mlflow/server/auth/routes.py):

- ``/api/2.0/mlflow/users/{create,get,current,update-password,update-admin,delete}``
- ``/api/3.0/mlflow/users/permissions/{grant,revoke,get,list}``: one user's grant on one resource. 3.17
  replaced the per-resource ``experiments/permissions/*`` endpoints of MLflow 2 with these; a grant is a
  row of the user's synthetic role ``__user_<id>__``.
- ``/api/3.0/mlflow/roles/permissions/{list,update}``: to change a grant in place, since ``grant``
  refuses a second row for the same resource and revoke-then-grant would open a window in which the
  user falls back to the server's ``default_permission``.

The collection's HTTP client (http_client) rather than MLflow's ``AuthServiceClient``: that client lives in
``mlflow.server``, which imports Flask, so it needs the full ``mlflow`` package; and its ``RestException`` drops
the HTTP status, which is what tells a wrong password (401) from a non-admin (403) from a server without the
auth app (404 without a JSON body). So mlflow_user and mlflow_permission need nothing beyond ansible-core.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import Answer, HttpSettings, request
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_rest import error_body

# Resource-level grants MLflow 3.17 accepts (permissions.RESOURCE_GRANTABLE_PERMISSIONS). NO_PERMISSIONS
# is no longer grantable on a resource: DENY blocks a user, and no grant means default_permission.
GRANTABLE_PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "DENY")
# MLflow's own minimum (mlflow.utils.validation._validate_password), checked here so check mode does not
# predict a create the server would refuse.
MIN_PASSWORD_LENGTH = 12
# The grants the module manages are rows of this per-user role (sqlalchemy_store._synthetic_user_role_name).
SYNTHETIC_ROLE = "__user_{user_id}__"

ResourceType = Literal["experiment", "registered_model"]
UserAction = Literal["create", "make_admin", "revoke_admin", "update_password", "delete"]
PermissionAction = Literal["grant", "update", "revoke"]


@dataclass(frozen=True)
class Resource:
    """What a grant is on: an experiment by ID, or a registered model by name (MLflow's resource_id)."""

    type: ResourceType
    id: str
    label: str  # how messages and the result name it

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id, "name": self.label}


@dataclass(frozen=True)
class Grant:
    """A user's direct grant on a resource: the row in their synthetic role."""

    role_id: int
    permission: str


class AuthApiError(Exception):
    """A failed call, with what MLflow said and the wording an operator needs."""

    def __init__(self, message: str, status: int | None = None, error_code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


def describe_http_error(
    status: int, error_code: str, detail: str, tracking_uri: str, username: str | None, action: str
) -> str:
    """A message naming the cause and the fix for a non-2xx answer of the auth app."""
    if status == 401:
        return (
            f"Could not {action}: MLflow at {tracking_uri} refused the credentials (401). The admin credentials "
            f"given in username/password (user {username!r}) are wrong or missing; check them (or "
            "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)."
        )
    if status == 403:
        return (
            f"Could not {action}: MLflow at {tracking_uri} denied it (403): user {username!r} is not an admin. "
            "Managing users and permissions needs an admin account in username/password."
        )
    if status == 404 and not error_code:
        # Flask's own 404 page: the route does not exist, so the auth app is not loaded.
        return (
            f"Could not {action}: MLflow at {tracking_uri} has no basic-auth endpoints (404). Start the server "
            "with --app-name basic-auth (mlflow_server_auth_enabled in the mlflow_server role)."
        )
    return f"Could not {action}: MLflow at {tracking_uri} answered HTTP {status} {error_code}: {detail}".rstrip(": ")


def describe_connection_error(answer: Answer, tracking_uri: str, action: str) -> str:
    first_line = (answer.reason.splitlines() or ["no answer"])[0]
    if answer.tls_failure:
        return (
            f"Could not {action}: the TLS certificate of MLflow at {tracking_uri} did not verify. Set ca_bundle to "
            f"the CA that signed it (validate_certs=false only for testing). ({first_line})"
        )
    return (
        f"Could not {action}: MLflow tracking server at {tracking_uri} does not answer. Check that the server "
        f"runs and that tracking_uri is right. ({first_line})"
    )


class AuthApi:
    """The basic-auth endpoints, called as the admin given in the connection options."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.tracking_uri: str = params["tracking_uri"].rstrip("/")
        self.settings = HttpSettings.from_params(params)
        self.username: str | None = self.settings.username

    def call(
        self, method: str, path: str, action: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        """One request; the decoded JSON answer, or AuthApiError worded for the operator."""
        answer = request(method, self.tracking_uri + path, self.settings, query=params, json_body=body)
        if not answer.answered:
            raise AuthApiError(describe_connection_error(answer, self.tracking_uri, action))
        if answer.status >= 400:
            code, detail = error_body(answer)
            message = describe_http_error(answer.status, code, detail, self.tracking_uri, self.username, action)
            raise AuthApiError(message, answer.status, code)
        try:
            return answer.json()
        except ValueError as exc:
            raise AuthApiError(f"Could not {action}: MLflow at {self.tracking_uri} answered no JSON.") from exc

    # ---- users ----

    def get_user(self, name: str) -> dict[str, Any] | None:
        """{id, username, is_admin}, or None when there is no such user."""
        try:
            answer = self.call("GET", "/api/2.0/mlflow/users/get", f"read user {name!r}", params={"username": name})
        except AuthApiError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return answer["user"]

    def create_user(self, name: str, password: str) -> dict[str, Any]:
        body = {"username": name, "password": password}
        return self.call("POST", "/api/2.0/mlflow/users/create", f"create user {name!r}", body=body)["user"]

    def update_password(self, name: str, password: str) -> None:
        body = {"username": name, "password": password}
        if name == self.username:
            # MLflow treats a change of one's own password as self-service and wants the current one.
            body["current_password"] = self.settings.password or ""
        self.call("PATCH", "/api/2.0/mlflow/users/update-password", f"change the password of {name!r}", body=body)

    def set_admin(self, name: str, is_admin: bool) -> None:
        body = {"username": name, "is_admin": is_admin}
        self.call("PATCH", "/api/2.0/mlflow/users/update-admin", f"set is_admin of {name!r}", body=body)

    def delete_user(self, name: str) -> None:
        self.call("DELETE", "/api/2.0/mlflow/users/delete", f"delete user {name!r}", body={"username": name})

    # ---- resources ----

    def experiment_id(self, name: str) -> str | None:
        """The ID of the experiment called name (active or deleted), None when there is none."""
        try:
            answer = self.call(
                "GET",
                "/api/2.0/mlflow/experiments/get-by-name",
                f"look up experiment {name!r}",
                params={"experiment_name": name},
            )
        except AuthApiError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return str(answer["experiment"]["experiment_id"])

    def resource_exists(self, resource: Resource) -> bool:
        """Whether the experiment ID or registered model exists: MLflow grants on IDs it does not know."""
        if resource.type == "experiment":
            path, params = "/api/2.0/mlflow/experiments/get", {"experiment_id": resource.id}
        else:
            path, params = "/api/2.0/mlflow/registered-models/get", {"name": resource.id}
        try:
            self.call("GET", path, f"look up {resource.type} {resource.label!r}", params=params)
        except AuthApiError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        return True

    # ---- permissions ----

    def get_permission(self, resource: Resource, user: dict[str, Any]) -> Grant | None:
        """The user's direct grant on the resource (not the effective permission), None without one."""
        answer = self.call(
            "GET",
            "/api/3.0/mlflow/users/permissions/list",
            f"list the permissions of {user['username']!r}",
            params={"username": user["username"]},
        )
        return find_grant(answer.get("permissions", []), user["id"], resource)

    def set_permission(self, resource: Resource, user: str, permission: str, current: Grant | None) -> None:
        action = f"give {user!r} {permission} on {resource.type} {resource.label!r}"
        if current is None:
            body = {
                "username": user,
                "resource_type": resource.type,
                "resource_id": resource.id,
                "permission": permission,
            }
            self.call("POST", "/api/3.0/mlflow/users/permissions/grant", action, body=body)
            return
        row_id = self.role_permission_id(current.role_id, resource, action)
        body = {"role_permission_id": row_id, "permission": permission}
        self.call("PATCH", "/api/3.0/mlflow/roles/permissions/update", action, body=body)

    def delete_permission(self, resource: Resource, user: str) -> None:
        body = {"username": user, "resource_type": resource.type, "resource_id": resource.id}
        action = f"revoke the permission of {user!r} on {resource.type} {resource.label!r}"
        self.call("POST", "/api/3.0/mlflow/users/permissions/revoke", action, body=body)

    def effective_permission(self, resource: Resource, user: str) -> str:
        """What the server resolves for the user: the grant, else roles, else default_permission."""
        params = {"username": user, "resource_type": resource.type, "resource_id": resource.id}
        action = f"read the effective permission of {user!r} on {resource.type} {resource.label!r}"
        return str(self.call("GET", "/api/3.0/mlflow/users/permissions/get", action, params=params)["permission"])

    def role_permission_id(self, role_id: int, resource: Resource, action: str) -> int:
        answer = self.call("GET", "/api/3.0/mlflow/roles/permissions/list", action, params={"role_id": str(role_id)})
        for row in answer.get("role_permissions", []):
            if row["resource_type"] == resource.type and str(row["resource_pattern"]) == resource.id:
                return int(row["id"])
        raise AuthApiError(f"Could not {action}: the grant disappeared while the task ran; run it again.")


def find_grant(rows: list[dict[str, Any]], user_id: int, resource: Resource) -> Grant | None:
    """The row of the user's synthetic role for resource among users/permissions/list's rows.

    Rows of other roles the user holds are left out: the module manages only the direct grant, the one
    users/permissions/grant writes.
    """
    role_name = SYNTHETIC_ROLE.format(user_id=user_id)
    for row in rows:
        if (
            row.get("role_name") == role_name
            and row.get("resource_type") == resource.type
            and str(row.get("resource_pattern")) == resource.id
        ):
            return Grant(role_id=int(row["role_id"]), permission=str(row["permission"]))
    return None


def password_works(tracking_uri: str, user: str, password: str, settings: HttpSettings) -> bool:
    """Whether user can log in with password, so a password is compared without being stored anywhere.

    users/current answers any authenticated user and changes nothing, so this is safe in check mode. With
    the server's auth_cache_ttl_seconds on, a worker may still accept a replaced password until its cache
    entry expires.
    """
    as_user = replace(settings, username=user, password=password, token=None, retries=min(settings.retries, 1))
    action = f"check the password of {user!r}"
    answer = request("GET", tracking_uri.rstrip("/") + "/api/2.0/mlflow/users/current", as_user)
    if not answer.answered:
        raise AuthApiError(describe_connection_error(answer, tracking_uri, action))
    if answer.status == 401:
        return False
    if answer.status >= 400:
        code, detail = error_body(answer)
        raise AuthApiError(
            describe_http_error(answer.status, code, detail, tracking_uri, user, action), answer.status, code
        )
    return True


# ---- plans: what to change, from what is and what the task says (pure, unit-tested) ----


@dataclass(frozen=True)
class DesiredUser:
    state: Literal["present", "absent"]
    password: str | None = None
    is_admin: bool | None = None
    update_password: Literal["on_create", "always"] = "on_create"


def needs_password_check(current: dict[str, Any] | None, desired: DesiredUser) -> bool:
    """Only an existing user with update_password=always has a password to compare."""
    return (
        current is not None
        and desired.state == "present"
        and desired.password is not None
        and desired.update_password == "always"
    )


def plan_user(
    current: dict[str, Any] | None, desired: DesiredUser, password_ok: bool | None = None
) -> list[UserAction]:
    """The actions that make the user as desired; password_ok is password_works() when it was asked."""
    if desired.state == "absent":
        return ["delete"] if current is not None else []
    if current is None:
        return ["create", "make_admin"] if desired.is_admin else ["create"]
    actions: list[UserAction] = []
    if desired.is_admin is not None and desired.is_admin != bool(current.get("is_admin")):
        actions.append("make_admin" if desired.is_admin else "revoke_admin")
    if needs_password_check(current, desired) and password_ok is False:
        actions.append("update_password")
    return actions


def refuse_self_lockout(name: str, auth_user: str | None, actions: list[UserAction]) -> str | None:
    """Why the actions would lock the module's own account out, or None when they would not."""
    if name != auth_user:
        return None
    if "delete" in actions:
        return (
            f"Refusing to delete user {name!r}: the module authenticates as that user (username). Connect as "
            "another admin to delete it."
        )
    if "revoke_admin" in actions:
        return (
            f"Refusing to remove admin from user {name!r}: the module authenticates as that user (username) "
            "and would lose the right to manage users. Connect as another admin to demote it."
        )
    return None


def plan_permission(current: str | None, desired: str | None) -> PermissionAction | None:
    """grant, update or revoke so that the direct grant is desired (None: no grant); None when it is."""
    if current == desired:
        return None
    if desired is None:
        return "revoke"
    return "grant" if current is None else "update"


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    """What the module returns about a user: never a password or its hash."""
    return {"name": user["username"], "id": user.get("id"), "is_admin": bool(user.get("is_admin"))}


def fail_auth(module: AnsibleModule, exc: AuthApiError) -> NoReturn:
    details = {"status": exc.status, "error_code": exc.error_code}
    module.fail_json(msg=str(exc), **{key: value for key, value in details.items() if value})
    raise AssertionError("fail_json returned")  # pragma: no cover - fail_json exits
