#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Create, tag, delete or restore an MLflow experiment."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_experiment
short_description: Create, tag, delete or restore an MLflow experiment
version_added: 0.2.0
description:
  - Makes an experiment on an MLflow tracking server look the way the task says, the declarative form of the
    runbook's C(mlflow.create_experiment) and C(mlflow.set_experiment).
  - MLflow keeps a deleted experiment's name reserved until the experiment is purged. When O(name) belongs to a
    deleted experiment, O(state=present) fails and says so; O(state=restored) brings it back with its runs.
  - Tags under C(mlflow.) are MLflow's own; O(purge_tags) never removes them.
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  name:
    description: Name of the experiment.
    type: str
    required: true
  state:
    description:
      - V(present) creates the experiment when it does not exist and applies O(tags).
      - V(absent) soft-deletes the experiment (MLflow moves it, with its runs, to the C(deleted) lifecycle stage;
        C(mlflow gc) or the purge in this collection removes it for good). Nothing happens when it does not exist.
      - V(restored) restores a deleted experiment, or creates it when it does not exist, then applies O(tags).
    type: str
    choices: [present, absent, restored]
    default: present
  artifact_location:
    description:
      - Where the runs of a new experiment store their artifacts. Without it the server's default
        (its C(--default-artifact-root)) is used.
      - MLflow cannot move an existing experiment's artifacts; if the experiment exists with a different
        location the task fails rather than pretend.
    type: str
  tags:
    description:
      - Tags the experiment must have. Values are stored as strings.
      - Without it the experiment's tags are left alone.
    type: dict
  purge_tags:
    description: Remove tags that are not in O(tags) (never the C(mlflow.) system tags). Only with O(tags).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Reads the experiment and predicts C(changed) and RV(actions); creates, restores, tags and deletes
      nothing (a new experiment's RV(experiment_id) is empty).
  diff_mode:
    support: full
    details: Shows the experiment's state (V(absent), V(active) or V(deleted)), artifact location and tags before
      and after.
seealso:
  - module: birtha.mlflow.mlflow_experiment_info
  - module: birtha.mlflow.mlflow_run_info
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Create the runbook's integration experiment with its tags
  birtha.mlflow.mlflow_experiment:
    tracking_uri: http://mlflow.example.com:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    name: WrkHrs_Birtha_Integration
    tags:
      team: platform
      purpose: integration
  register: experiment

- name: Set the connection once for every module of the collection
  module_defaults:
    group/birtha.mlflow.mlflow:
      tracking_uri: http://mlflow.example.com:5000
      username: admin
      password: "{{ vault_mlflow_admin_password }}"
  block:
    - name: Tags exactly as listed, others removed
      birtha.mlflow.mlflow_experiment:
        name: WrkHrs_Birtha_Integration
        tags: {team: platform}
        purge_tags: true

    - name: Bring back an experiment someone deleted
      birtha.mlflow.mlflow_experiment:
        name: WrkHrs_Birtha_Archive
        state: restored

    - name: Delete (soft) an experiment
      birtha.mlflow.mlflow_experiment:
        name: scratch-experiment
        state: absent
"""

RETURN = r"""
experiment_id:
  description:
    - ID of the experiment.
    - Empty when O(state=absent) and it never existed, or when check mode would create it.
  returned: always
  type: str
  sample: "3"
experiment:
  description: The experiment as the server has it after the task (as it would be, in check mode).
  returned: when the experiment exists or would exist
  type: dict
  contains:
    experiment_id: {description: ID, type: str, sample: "3"}
    name: {description: Name, type: str, sample: WrkHrs_Birtha_Integration}
    artifact_location: {description: Artifact root of its runs, type: str, sample: "mlflow-artifacts:/3"}
    lifecycle_stage: {description: V(active) or V(deleted), type: str, sample: active}
    tags: {description: Tags, type: dict, sample: {team: platform}}
    creation_time: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
    last_update_time: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create experiment WrkHrs_Birtha_Integration", "set tag team"]
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    MlflowModule,
    experiment_to_dict,
    plan_tags,
)


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent", "restored"], "default": "present"},
        "artifact_location": {"type": "str"},
        "tags": {"type": "dict"},
        "purge_tags": {"type": "bool", "default": False},
    }


def find_experiment(module: MlflowModule, name: str) -> Any:
    try:
        return module.client.get_experiment_by_name(name)
    except Exception as exc:
        module.fail_mlflow(exc, f"look up the experiment {name!r}")


def diff_view(experiment: dict[str, Any] | None) -> dict[str, Any]:
    if experiment is None:
        return {"state": "absent"}
    return {
        "state": experiment["lifecycle_stage"],
        "artifact_location": experiment["artifact_location"],
        "tags": experiment["tags"],
    }


def ensure_absent(module: MlflowModule, current: Any) -> dict[str, Any]:
    if current is None or current.lifecycle_stage == "deleted":
        return {"changed": False, "actions": []}
    actions = [f"delete experiment {current.name} ({current.experiment_id})"]
    if not module.check_mode:
        try:
            module.client.delete_experiment(current.experiment_id)
        except Exception as exc:
            module.fail_mlflow(exc, f"delete the experiment {current.name!r}")
    after = {**experiment_to_dict(current), "lifecycle_stage": "deleted"}
    return {"changed": True, "actions": actions, "after": after}


def check_artifact_location(module: MlflowModule, current: Any) -> None:
    wanted = module.params["artifact_location"]
    if wanted and current is not None and wanted.rstrip("/") != (current.artifact_location or "").rstrip("/"):
        module.fail_json(
            msg=(
                f"Experiment {current.name!r} exists with artifact_location {current.artifact_location!r}, not "
                f"{wanted!r}. MLflow cannot move an experiment's artifacts: drop artifact_location from the task, "
                "or create a new experiment under another name."
            ),
            experiment_id=current.experiment_id,
        )


def refuse_deleted(module: MlflowModule, current: Any) -> None:
    module.fail_json(
        msg=(
            f"Experiment {current.name!r} exists but is deleted (id {current.experiment_id}); MLflow keeps the name "
            "until the experiment is purged. Use state=restored to bring it back with its runs, or purge it "
            "before creating a new one with this name."
        ),
        experiment_id=current.experiment_id,
    )


def ensure_present(module: MlflowModule, current: Any) -> dict[str, Any]:
    params = module.params
    name = params["name"]
    check_artifact_location(module, current)
    actions: list[str] = []
    experiment_id = ""
    if current is None:
        actions.append(f"create experiment {name}")
        tags = {str(key): str(value) for key, value in (params["tags"] or {}).items()}
        after = {
            "experiment_id": "",
            "name": name,
            "artifact_location": params["artifact_location"] or "",
            "lifecycle_stage": "active",
            "tags": tags,
        }
        if not module.check_mode:
            try:
                experiment_id = module.client.create_experiment(
                    name, artifact_location=params["artifact_location"], tags=tags
                )
                after = experiment_to_dict(module.client.get_experiment(experiment_id))
            except Exception as exc:
                module.fail_mlflow(exc, f"create the experiment {name!r}")
        return {"changed": True, "actions": actions, "after": after}

    experiment_id = current.experiment_id
    if current.lifecycle_stage == "deleted":
        if params["state"] != "restored":
            refuse_deleted(module, current)
        actions.append(f"restore experiment {name} ({experiment_id})")
        if not module.check_mode:
            try:
                module.client.restore_experiment(experiment_id)
            except Exception as exc:
                module.fail_mlflow(exc, f"restore the experiment {name!r}")

    before_tags = experiment_to_dict(current)["tags"]
    to_set, to_delete = plan_tags(before_tags, params["tags"], params["purge_tags"])
    actions += [f"set tag {key}" for key in to_set] + [f"delete tag {key}" for key in to_delete]
    if not module.check_mode:
        try:
            for key, value in to_set.items():
                module.client.set_experiment_tag(experiment_id, key, value)
            for key in to_delete:
                module.client.delete_experiment_tag(experiment_id, key)
        except Exception as exc:
            module.fail_mlflow(exc, f"update the tags of the experiment {name!r}")

    after_tags = {key: value for key, value in {**before_tags, **to_set}.items() if key not in to_delete}
    after = {**experiment_to_dict(current), "lifecycle_stage": "active", "tags": after_tags}
    return {"changed": bool(actions), "actions": actions, "after": after}


def main() -> None:
    module = MlflowModule(argument_spec(), supports_check_mode=True)
    current = find_experiment(module, module.params["name"])
    before = experiment_to_dict(current) if current is not None else None
    absent = module.params["state"] == "absent"
    outcome = ensure_absent(module, current) if absent else ensure_present(module, current)
    after = outcome.get("after", before)
    result: dict[str, Any] = {
        "changed": outcome["changed"],
        "actions": outcome["actions"],
        "experiment_id": (after or {}).get("experiment_id", ""),
    }
    if after is not None:
        result["experiment"] = after
    if module._diff:
        result["diff"] = {"before": diff_view(before), "after": diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
