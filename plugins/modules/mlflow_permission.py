#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Give a user of MLflow's basic-auth app a permission on an experiment or a registered model."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_permission
short_description: Give a user a permission on an MLflow experiment or registered model
version_added: 0.6.0
description:
  - Sets, changes or removes the permission a user of MLflow's basic-auth app (C(mlflow server --app-name basic-auth))
    has on one experiment or one registered model.
  - This is the user's direct grant, the one MLflow's C(users/permissions/grant) API writes (MLflow 3.17 keeps it in
    the user's own role C(__user_<id>__)). Permissions that come from other roles are not changed; what the user
    can actually do is returned as RV(effective_permission).
  - The module connects as an admin of the auth app (O(username) and O(password)).
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  user:
    description: Name of the user. The user must exist (see M(birtha.mlflow.mlflow_user)).
    type: str
    required: true
  experiment_name:
    description:
      - Name of the experiment. It must exist when O(state=present); with O(state=absent) a missing experiment means
        there is nothing to remove.
      - Exactly one of O(experiment_name), O(experiment_id) and O(registered_model) is required.
    type: str
  experiment_id:
    description: ID of the experiment.
    type: str
  registered_model:
    description: Name of the registered model.
    type: str
  permission:
    description:
      - V(READ) reads the resource; V(USE) reads and uses it (the level MLflow's AI gateway resources check before
        use); V(EDIT) also updates it; V(MANAGE) also deletes it and manages who may use it; V(DENY) blocks the user
        even where another role would allow.
      - MLflow 3.17 no longer accepts C(NO_PERMISSIONS) on a resource. To block a user use V(DENY); to fall back to
        the server's C(default_permission) remove the grant with O(state=absent).
      - Required when O(state=present).
    type: str
    choices: [READ, USE, EDIT, MANAGE, DENY]
  state:
    description:
      - V(present) gives the user O(permission) on the resource, creating or changing the grant.
      - V(absent) removes the grant; the user then has what other roles or the server's C(default_permission) give.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Reads the user, the resource and the grant and predicts C(changed); writes nothing, and leaves out
      RV(effective_permission) when it predicts a change.
  diff_mode:
    support: full
    details: Shows the granted permission before and after (null for none).
notes:
  - Admins may do everything whatever their grants say; the module warns when O(user) is an admin.
  - Grants are written in the server's active workspace (C(default) unless MLflow's workspaces are enabled).
  - MLflow removes a resource's grants when the resource is deleted for good.
seealso:
  - module: birtha.mlflow.mlflow_user
  - name: MLflow authentication
    description: MLflow's basic-auth app, its users and permissions.
    link: https://mlflow.org/docs/latest/auth/
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Alice may read the integration experiment
  birtha.mlflow.mlflow_permission:
    tracking_uri: https://mlflow.example.com
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    user: alice
    experiment_name: WrkHrs_Birtha_Integration
    permission: READ

- name: Set the connection once for every module of the collection
  module_defaults:
    group/birtha.mlflow.mlflow:
      tracking_uri: https://mlflow.example.com
      username: admin
      password: "{{ vault_mlflow_admin_password }}"
  block:
    - name: The CI account registers versions of the model
      birtha.mlflow.mlflow_permission:
        user: ci
        registered_model: churn-classifier
        permission: EDIT

    - name: Bob may not see experiment 7 even though the server's default permission is READ
      birtha.mlflow.mlflow_permission:
        user: bob
        experiment_id: "7"
        permission: DENY

    - name: Back to the server's default for Bob
      birtha.mlflow.mlflow_permission:
        user: bob
        experiment_id: "7"
        state: absent
"""

RETURN = r"""
permission:
  description: The grant after the task (as it would be, in check mode).
  returned: always
  type: dict
  contains:
    user: {description: User name, type: str, sample: alice}
    resource:
      description: What the grant is on.
      type: dict
      contains:
        type: {description: V(experiment) or V(registered_model), type: str, sample: experiment}
        id: {description: Experiment ID or registered model name, type: str, sample: "7"}
        name:
          description: Experiment or registered model name, or the experiment ID, as the task gave it.
          type: str
          sample: WrkHrs_Birtha_Integration
    permission:
      description: The granted permission; V(null) when there is no grant.
      type: str
      sample: READ
effective_permission:
  description:
    - The permission MLflow resolves for the user on the resource after the task, from the grant, other roles and
      the server's C(default_permission).
    - Not returned in check mode when the task would change the grant, nor when the resource does not exist.
  returned: when known
  type: str
  sample: READ
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["grant READ to alice on experiment WrkHrs_Birtha_Integration"]
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import MlflowModule
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_auth import (
    GRANTABLE_PERMISSIONS,
    AuthApi,
    AuthApiError,
    PermissionAction,
    Resource,
    fail_auth,
    plan_permission,
)

RESOURCE_OPTIONS = ("experiment_name", "experiment_id", "registered_model")
ACTION_TEXT: dict[PermissionAction, str] = {
    "grant": "grant {permission} to {user} on {resource}",
    "update": "change the permission of {user} on {resource} from {before} to {permission}",
    "revoke": "revoke the {before} permission of {user} on {resource}",
}


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "user": {"type": "str", "required": True},
        "experiment_name": {"type": "str"},
        "experiment_id": {"type": "str"},
        "registered_model": {"type": "str"},
        "permission": {"type": "str", "choices": list(GRANTABLE_PERMISSIONS)},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }


def resolve_resource(module: MlflowModule, api: AuthApi) -> Resource | None:
    """The resource the task names, None when it does not exist and state=absent (nothing to revoke)."""
    params = module.params
    present = params["state"] == "present"
    if params["experiment_name"] is not None:
        name = params["experiment_name"]
        experiment_id = api.experiment_id(name)
        if experiment_id is None:
            if present:
                module.fail_json(
                    msg=f"Experiment {name!r} does not exist on {params['tracking_uri']}: create it first."
                )
            return None
        return Resource("experiment", experiment_id, name)
    if params["experiment_id"] is not None:
        resource = Resource("experiment", params["experiment_id"], params["experiment_id"])
    else:
        resource = Resource("registered_model", params["registered_model"], params["registered_model"])
    # MLflow grants on IDs and names it does not know; a typo would give a silent no-op grant.
    if present and not api.resource_exists(resource):
        label = "Experiment with ID" if resource.type == "experiment" else "Registered model"
        module.fail_json(msg=f"{label} {resource.id!r} does not exist on {params['tracking_uri']}: create it first.")
    return resource


def describe(action: PermissionAction, user: str, resource: Resource, before: str | None, after: str | None) -> str:
    where = f"{resource.type} {resource.label}"
    return ACTION_TEXT[action].format(permission=after, user=user, resource=where, before=before)


def main() -> None:
    module = MlflowModule(
        argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[RESOURCE_OPTIONS],
        required_one_of=[RESOURCE_OPTIONS],
        required_if=[("state", "present", ["permission"])],
    )
    params = module.params
    user_name = params["user"]
    desired = params["permission"] if params["state"] == "present" else None
    api = AuthApi(params)
    before: str | None = None
    action: PermissionAction | None = None
    effective: str | None = None
    resource: Resource | None = None
    try:
        user = api.get_user(user_name)
        if user is None and desired is not None:
            module.fail_json(msg=f"User {user_name!r} does not exist: create it first with birtha.mlflow.mlflow_user.")
        if user is not None and user.get("is_admin"):
            module.warn(f"User {user_name!r} is an admin: MLflow lets admins do everything whatever their grants say.")
        resource = resolve_resource(module, api)
        if user is not None and resource is not None:
            grant = api.get_permission(resource, user)
            before = grant.permission if grant else None
            action = plan_permission(before, desired)
            if action is not None and not module.check_mode:
                if action == "revoke":
                    api.delete_permission(resource, user_name)
                else:
                    api.set_permission(resource, user_name, desired or "", grant)
            if action is None or not module.check_mode:
                effective = api.effective_permission(resource, user_name)
    except AuthApiError as exc:
        fail_auth(module, exc)

    label = params["experiment_name"] or params["experiment_id"] or params["registered_model"]
    shown = resource or Resource("experiment" if params["registered_model"] is None else "registered_model", "", label)
    after = desired if action is not None else before
    result: dict[str, Any] = {
        "changed": action is not None,
        "actions": [describe(action, user_name, shown, before, after)] if action else [],
        "permission": {"user": user_name, "resource": shown.to_dict(), "permission": after},
    }
    if effective is not None:
        result["effective_permission"] = effective
    if module._diff:
        result["diff"] = {"before": {"permission": before}, "after": {"permission": after}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
