#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Create, update or delete a user of MLflow's basic-auth app."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_user
short_description: Create, update or delete a user of MLflow's basic-auth app
version_added: 0.6.0
description:
  - Makes a user of an MLflow tracking server that runs MLflow's basic-auth app (C(mlflow server --app-name basic-auth))
    look the way the task says.
  - The module connects as an admin of that app (O(username) and O(password)); MLflow answers 403 to anyone else.
  - MLflow stores only a hash of a password. To change a password only when it differs, the module tries to log in as
    the user with O(user_password) (an authenticated read that changes nothing); the password is never written to
    a file, the result or the log.
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  name:
    description: Name of the user.
    type: str
    required: true
  user_password:
    description:
      - Password of the user. MLflow wants at least 12 characters.
      - Required when O(state=present) and the user does not exist yet.
      - When the user exists, it is used only with O(update_password=always).
    type: str
  is_admin:
    description:
      - Whether the user is an admin (an admin may do everything, including managing users and permissions).
      - Without it a new user is not an admin and an existing user's admin flag is left alone.
    type: bool
  update_password:
    description:
      - V(on_create) sets O(user_password) only when the module creates the user.
      - V(always) also changes the password of an existing user when O(user_password) does not log in as that user,
        so a task that runs again reports no change.
    type: str
    choices: [on_create, always]
    default: on_create
  state:
    description:
      - V(present) creates the user when missing and applies O(is_admin) and, with O(update_password=always), the
        password.
      - V(absent) deletes the user, with the user's permissions. Nothing happens when there is no such user.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Reads the user and, with O(update_password=always), tries whether O(user_password) logs in; predicts
      C(changed) and RV(actions) and changes nothing.
  diff_mode:
    support: full
    details: Shows whether the user exists and its admin flag before and after; never the password.
notes:
  - The module refuses to delete the user it connects as, or to take admin away from it; MLflow would leave it
    unable to manage users. Connect as another admin for that.
  - With the server's C(auth_cache_ttl_seconds) above 0, a worker that recently accepted a replaced password may
    accept it until its cache entry expires, so O(update_password=always) may see an old password as current for
    that long.
  - Use M(birtha.mlflow.mlflow_permission) to give the user access to experiments and registered models.
seealso:
  - module: birtha.mlflow.mlflow_permission
  - name: MLflow authentication
    description: MLflow's basic-auth app, its users and permissions.
    link: https://mlflow.org/docs/latest/auth/
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: A data scientist who logs runs
  birtha.mlflow.mlflow_user:
    tracking_uri: https://mlflow.example.com
    ca_bundle: /etc/pki/tls/certs/birtha-ca.pem
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    name: alice
    user_password: "{{ vault_mlflow_alice_password }}"
  no_log: true

- name: Set the connection once for every module of the collection
  module_defaults:
    group/birtha.mlflow.mlflow:
      tracking_uri: https://mlflow.example.com
      username: admin
      password: "{{ vault_mlflow_admin_password }}"
  block:
    - name: Rotate the CI account's password (changed only when the vault holds a new one)
      birtha.mlflow.mlflow_user:
        name: ci
        user_password: "{{ vault_mlflow_ci_password }}"
        update_password: always
      no_log: true

    - name: A second admin, so that the first can be rotated or removed
      birtha.mlflow.mlflow_user:
        name: ops
        user_password: "{{ vault_mlflow_ops_password }}"
        is_admin: true
      no_log: true

    - name: Someone who left
      birtha.mlflow.mlflow_user:
        name: bob
        state: absent
"""

RETURN = r"""
user:
  description:
    - The user after the task (as it would be, in check mode). Never the password.
    - Absent when O(state=absent).
  returned: when the user exists or would exist
  type: dict
  contains:
    name: {description: User name, type: str, sample: alice}
    id: {description: MLflow's ID of the user; V(null) when check mode would create it, type: int, sample: 3}
    is_admin: {description: Whether the user is an admin, type: bool, sample: false}
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create user alice", "change the password of ci"]
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import MlflowModule
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_auth import (
    MIN_PASSWORD_LENGTH,
    AuthApi,
    AuthApiError,
    DesiredUser,
    UserAction,
    fail_auth,
    needs_password_check,
    password_works,
    plan_user,
    refuse_self_lockout,
    user_view,
)

ACTION_TEXT: dict[UserAction, str] = {
    "create": "create user {name}",
    "make_admin": "make {name} an admin",
    "revoke_admin": "take admin away from {name}",
    "update_password": "change the password of {name}",
    "delete": "delete user {name}",
}


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "name": {"type": "str", "required": True},
        "user_password": {"type": "str", "no_log": True},
        "is_admin": {"type": "bool"},
        "update_password": {"type": "str", "choices": ["on_create", "always"], "default": "on_create", "no_log": False},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }


def desired_user(params: dict[str, Any]) -> DesiredUser:
    return DesiredUser(
        state=params["state"],
        password=params["user_password"],
        is_admin=params["is_admin"],
        update_password=params["update_password"],
    )


def check_password_given(module: MlflowModule, current: dict[str, Any] | None, desired: DesiredUser) -> None:
    """Fail before any change when the task cannot create the user or MLflow would refuse the password."""
    if desired.state != "present":
        return
    if current is None and not desired.password:
        module.fail_json(msg=f"User {module.params['name']!r} does not exist: user_password is needed to create it.")
    will_set = current is None or desired.update_password == "always"
    if will_set and desired.password is not None and len(desired.password) < MIN_PASSWORD_LENGTH:
        module.fail_json(msg=f"user_password is too short: MLflow wants at least {MIN_PASSWORD_LENGTH} characters.")


def apply(api: AuthApi, name: str, desired: DesiredUser, actions: list[UserAction]) -> None:
    for action in actions:
        if action == "create":
            api.create_user(name, desired.password or "")
        elif action in ("make_admin", "revoke_admin"):
            api.set_admin(name, action == "make_admin")
        elif action == "update_password":
            api.update_password(name, desired.password or "")
        elif action == "delete":
            api.delete_user(name)


def predicted(name: str, current: dict[str, Any] | None, actions: list[UserAction]) -> dict[str, Any] | None:
    """The user as the actions leave it, for check mode and for when a write answers nothing."""
    if "delete" in actions:
        return None
    user = dict(current) if current is not None else {"username": name, "id": None, "is_admin": False}
    if "make_admin" in actions:
        user["is_admin"] = True
    if "revoke_admin" in actions:
        user["is_admin"] = False
    return user if current is not None or "create" in actions else None


def diff_view(user: dict[str, Any] | None) -> dict[str, Any]:
    if user is None:
        return {"state": "absent"}
    return {"state": "present", "is_admin": bool(user.get("is_admin"))}


def main() -> None:
    module = MlflowModule(argument_spec(), supports_check_mode=True)
    params = module.params
    name = params["name"]
    desired = desired_user(params)
    api = AuthApi(params)
    try:
        current = api.get_user(name)
        check_password_given(module, current, desired)
        password_ok = None
        if needs_password_check(current, desired):
            password_ok = password_works(params["tracking_uri"], name, desired.password or "", api.settings)
        actions = plan_user(current, desired, password_ok)
        refusal = refuse_self_lockout(name, params["username"], actions)
        if refusal:
            module.fail_json(msg=refusal)
        after = predicted(name, current, actions)
        if actions and not module.check_mode:
            apply(api, name, desired, actions)
            # Read back what the server has, except after changing the password the module logs in with.
            own_password_changed = name == params["username"] and "update_password" in actions
            if after is not None and not own_password_changed:
                after = api.get_user(name)
    except AuthApiError as exc:
        fail_auth(module, exc)

    result: dict[str, Any] = {
        "changed": bool(actions),
        "actions": [ACTION_TEXT[action].format(name=name) for action in actions],
    }
    if after is not None:
        result["user"] = user_view(after)
    if module._diff:
        result["diff"] = {"before": diff_view(current), "after": diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
