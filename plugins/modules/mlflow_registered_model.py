#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Manage a registered model in the MLflow model registry."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_registered_model
short_description: Manage a registered model in the MLflow model registry
version_added: 0.2.0
description:
  - Creates a registered model, keeps its description, tags and aliases as declared, or deletes it.
  - Aliases (C(models:/<name>@champion)) are MLflow's recommended way to point consumers at a version;
    O(aliases) moves an alias to the declared version.
  - To register versions, see M(birtha.mlflow.mlflow_model_version).
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  name:
    description: Name of the registered model.
    type: str
    required: true
  state:
    description:
      - V(present) creates the model when it does not exist and applies the other options.
      - V(absent) deletes the model. MLflow deletes its versions with it, for good, so the task refuses
        when the model has versions unless O(delete_versions=true).
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Description of the model. Without it the description is left alone; V("") clears it.
    type: str
  tags:
    description: Tags the model must have. Without it the tags are left alone.
    type: dict
  purge_tags:
    description: Remove tags that are not in O(tags) (never C(mlflow.) system tags). Only with O(tags).
    type: bool
    default: false
  aliases:
    description:
      - "Aliases and the version each must point to, for example V({champion: 3})."
      - Every version named must exist. Without it the aliases are left alone.
    type: dict
  purge_aliases:
    description: Remove aliases that are not in O(aliases). Only with O(aliases).
    type: bool
    default: false
  delete_versions:
    description:
      - Confirms that O(state=absent) may delete a model that still has versions, and the versions with it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Reads the model and the versions its aliases would point to, and predicts C(changed), RV(actions) and
      the model after; creates, updates and deletes nothing.
  diff_mode:
    support: full
    details: Shows the model (or V(absent)) with its description, tags and aliases before and after.
seealso:
  - module: birtha.mlflow.mlflow_model_version
  - plugin: birtha.mlflow.mlflow_model
    plugin_type: lookup
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The runbook's model, described and tagged
  birtha.mlflow.mlflow_registered_model:
    tracking_uri: http://mlflow.example.com:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    name: wrkhrs-gateway-model
    description: WrkHrs Gateway AI Model
    tags:
      owner: platform

- name: Point the champion alias at version 3 and drop every other alias
  birtha.mlflow.mlflow_registered_model:
    name: wrkhrs-gateway-model
    aliases:
      champion: 3
    purge_aliases: true

- name: Delete a model and all its versions
  birtha.mlflow.mlflow_registered_model:
    name: scratch-model
    state: absent
    delete_versions: true
"""

RETURN = r"""
model:
  description: The registered model after the task (as it would be, in check mode).
  returned: when the model exists or would exist
  type: dict
  contains:
    name: {description: Name, type: str, sample: wrkhrs-gateway-model}
    description: {description: Description, type: str, sample: WrkHrs Gateway AI Model}
    tags: {description: Tags, type: dict, sample: {owner: platform}}
    aliases: {description: Alias to version, type: dict, sample: {champion: "3"}}
    latest_versions:
      description: Latest version per stage
      type: list
      elements: dict
      sample: [{version: "3", current_stage: Production}]
    creation_timestamp: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
    last_updated_timestamp: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create model wrkhrs-gateway-model", "set alias champion -> 3"]
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    MlflowModule,
    plan_tags,
    registered_model_to_dict,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    all_versions,
    get_model_version,
    get_registered_model,
)


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "description": {"type": "str"},
        "tags": {"type": "dict"},
        "purge_tags": {"type": "bool", "default": False},
        "aliases": {"type": "dict"},
        "purge_aliases": {"type": "bool", "default": False},
        "delete_versions": {"type": "bool", "default": False},
    }


def plan_aliases(
    current: dict[str, str], desired: dict[str, Any] | None, purge: bool
) -> tuple[dict[str, str], list[str]]:
    """Aliases to (re)point and aliases to delete."""
    if desired is None:
        return {}, []
    wanted = {str(alias): str(version) for alias, version in desired.items()}
    to_set = {alias: version for alias, version in wanted.items() if current.get(alias) != version}
    to_delete = sorted(alias for alias in current if alias not in wanted) if purge else []
    return to_set, to_delete


def require_versions_exist(module: MlflowModule, name: str, model_exists: bool, aliases: dict[str, str]) -> None:
    """An alias must name a real version: fail before changing anything."""
    for alias, version in aliases.items():
        exists = model_exists and get_model_version(module.client, name, version) is not None
        if not exists:
            module.fail_json(msg=f"aliases.{alias}: model {name!r} has no version {version}. Register it first.")


def diff_view(model: dict[str, Any] | None) -> dict[str, Any]:
    if model is None:
        return {"state": "absent"}
    return {"description": model["description"], "tags": model["tags"], "aliases": model["aliases"]}


def ensure_absent(module: MlflowModule, current: Any) -> dict[str, Any]:
    if current is None:
        return {"changed": False, "actions": [], "after": None}
    name = current.name
    versions = all_versions(module.client, name)
    if versions and not module.params["delete_versions"]:
        module.fail_json(
            msg=(
                f"Model {name!r} has {len(versions)} version(s) ({', '.join(v.version for v in versions)}); deleting "
                "the model deletes them for good. Set delete_versions=true to confirm, or delete the versions first."
            )
        )
    if not module.check_mode:
        module.client.delete_registered_model(name)
    return {"changed": True, "actions": [f"delete model {name} with {len(versions)} version(s)"], "after": None}


def ensure_present(module: MlflowModule, current: Any) -> dict[str, Any]:
    params = module.params
    name = params["name"]
    client = module.client
    before = registered_model_to_dict(current) if current is not None else None
    state = before or {"name": name, "description": "", "tags": {}, "aliases": {}, "latest_versions": []}
    tags_set, tags_delete = plan_tags(state["tags"], params["tags"], params["purge_tags"])
    aliases_set, aliases_delete = plan_aliases(state["aliases"], params["aliases"], params["purge_aliases"])
    require_versions_exist(module, name, current is not None, aliases_set)
    new_description = params["description"]
    describe = new_description is not None and new_description != state["description"]

    actions = [f"create model {name}"] if current is None else []
    actions += [f"set description of {name}"] if describe else []
    actions += [f"set tag {key}" for key in tags_set] + [f"delete tag {key}" for key in tags_delete]
    actions += [f"set alias {alias} -> {version}" for alias, version in aliases_set.items()]
    actions += [f"delete alias {alias}" for alias in aliases_delete]

    if not module.check_mode and actions:
        if current is None:
            client.create_registered_model(name, tags=params["tags"], description=new_description)
            tags_set = {}
        elif describe:
            client.update_registered_model(name, description=new_description)
        for key, value in tags_set.items():
            client.set_registered_model_tag(name, key, value)
        for key in tags_delete:
            client.delete_registered_model_tag(name, key)
        for alias, version in aliases_set.items():
            client.set_registered_model_alias(name, alias, version)
        for alias in aliases_delete:
            client.delete_registered_model_alias(name, alias)
        return {
            "changed": True,
            "actions": actions,
            "after": registered_model_to_dict(client.get_registered_model(name)),
        }

    after_tags = {k: v for k, v in {**state["tags"], **tags_set}.items() if k not in tags_delete}
    after_aliases = {k: v for k, v in {**state["aliases"], **aliases_set}.items() if k not in aliases_delete}
    after = {
        **state,
        "description": new_description if describe else state["description"],
        "tags": after_tags,
        "aliases": after_aliases,
    }
    return {"changed": bool(actions), "actions": actions, "after": after}


def main() -> None:
    module = MlflowModule(argument_spec(), supports_check_mode=True)
    name = module.params["name"]
    try:
        current = get_registered_model(module.client, name)
        before = registered_model_to_dict(current) if current is not None else None
        if module.params["state"] == "absent":
            outcome = ensure_absent(module, current)
        else:
            outcome = ensure_present(module, current)
    except Exception as exc:
        module.fail_mlflow(exc, f"manage the registered model {name!r}")
    result: dict[str, Any] = {"changed": outcome["changed"], "actions": outcome["actions"]}
    if outcome["after"] is not None:
        result["model"] = outcome["after"]
    if module._diff:
        result["diff"] = {"before": diff_view(before), "after": diff_view(outcome["after"])}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
