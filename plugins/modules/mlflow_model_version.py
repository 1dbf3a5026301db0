#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Register a model version and manage its description, tags, aliases and stage."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_model_version
short_description: Register an MLflow model version and manage its description, tags, aliases and stage
version_added: 0.2.0
description:
  - Registers a version of a registered model from a source, the runbook's C(mlflow.register_model()), and keeps
    its description, tags, aliases and stage as declared (C(mlflow.update_model_version()),
    C(transition_model_version_stage()), C(set_registered_model_alias())).
  - Idempotent by source. A version already registered from the same run and source is reused, never registered
    twice.
  - The source is checked before anything is written. A run that does not exist, or a path with no model at it,
    fails the task and leaves nothing behind. If a later step fails, the version (and the registered model, if
    this task created it) is deleted again.
  - Stages are deprecated upstream in favour of aliases, but still work in MLflow 3 and are what the runbook uses.
    Prefer O(aliases) for new consumers (C(models:/<name>@champion)).
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  name:
    description: Name of the registered model. It is created when it does not exist.
    type: str
    required: true
  source:
    description:
      - Where the model is. V(runs:/<run_id>/<path>) (the runbook's form), a logged model V(models:/m-<id>),
        or an artifact URI such as V(mlflow-artifacts:/1/<run_id>/artifacts/model) or V(s3://bucket/path).
      - A run source must hold an MLflow model (an C(MLmodel) file) at the path, or have a logged model of
        that name.
      - One of O(source) and O(version) is required. With both, the version's source must match.
    type: str
  version:
    description:
      - Number of an existing version to manage. Fails when the model has no such version.
    type: str
  state:
    description:
      - V(present) registers the version if needed and applies the other options.
      - V(absent) deletes the version (found by O(version), or by O(source)). Its aliases go with it.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Description of the version. Without it the description is left alone; V("") clears it.
    type: str
  tags:
    description: Tags the version must have. Without it the tags are left alone.
    type: dict
  purge_tags:
    description: Remove tags that are not in O(tags) (never C(mlflow.) system tags). Only with O(tags).
    type: bool
    default: false
  aliases:
    description:
      - Aliases that must point to this version. An alias that points to another version is moved here.
    type: list
    elements: str
  purge_aliases:
    description: Remove aliases of this version that are not in O(aliases). Only with O(aliases).
    type: bool
    default: false
  stage:
    description:
      - Stage the version must be in. Without it the stage is left alone.
    type: str
    choices: [None, Staging, Production, Archived]
  archive_existing_versions:
    description:
      - When moving to V(Staging) or V(Production), move the other versions in that stage to V(Archived).
      - Also applied when this version is already in the stage but others are too.
    type: bool
    default: false
  await_registration:
    description: Seconds to wait for a new version to become C(READY).
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    details: Checks the source, reads the model and its versions, and predicts C(changed), RV(actions) and the
      version after; registers, updates and deletes nothing (a new version's number is empty).
  diff_mode:
    support: full
    details: Shows the version (or V(absent)) with its source, stage, description, tags and aliases before and after.
seealso:
  - module: birtha.mlflow.mlflow_registered_model
  - plugin: birtha.mlflow.mlflow_model
    plugin_type: lookup
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Register the runbook's model from a run, describe it and make it the champion in Production
  birtha.mlflow.mlflow_model_version:
    tracking_uri: http://mlflow.example.com:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    name: wrkhrs-gateway-model
    source: "runs:/{{ run_id }}/model"
    description: WrkHrs Gateway AI Model
    aliases: [champion]
    stage: Production
    archive_existing_versions: true
  register: registered

- name: Retire version 1
  birtha.mlflow.mlflow_model_version:
    name: wrkhrs-gateway-model
    version: "1"
    stage: Archived
"""

RETURN = r"""
version:
  description: The version number; empty when check mode would register a new one.
  returned: when the version exists or would exist
  type: str
  sample: "2"
created:
  description: Whether the task registered a new version.
  returned: always
  type: bool
model_version:
  description: The version after the task (as it would be, in check mode).
  returned: when the version exists or would exist
  type: dict
  contains:
    name: {description: Registered model, type: str, sample: wrkhrs-gateway-model}
    version: {description: Version number, type: str, sample: "2"}
    source:
      description: Source as stored by the registry
      type: str
      sample: "mlflow-artifacts:/1/0f1e.../artifacts/model"
    run_id: {description: Run the version came from, type: str, sample: 0f1e2d3c4b5a69788796a5b4c3d2e1f0}
    status: {description: "V(READY), V(PENDING_REGISTRATION) or V(FAILED_REGISTRATION)", type: str, sample: READY}
    current_stage: {description: Stage, type: str, sample: Production}
    description: {description: Description, type: str, sample: WrkHrs Gateway AI Model}
    tags: {description: Tags, type: dict, sample: {validated: "true"}}
    aliases: {description: Aliases pointing to this version, type: list, elements: str, sample: [champion]}
    creation_timestamp: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
    last_updated_timestamp: {description: Milliseconds since the epoch, type: int, sample: 1764000000000}
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["register version from runs:/0f1e.../model", "set alias champion", "move to stage Production"]
"""

import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    MlflowModule,
    collect_pages,
    describe_error,
    is_not_found,
    model_version_to_dict,
    plan_tags,
    quote_filter_value,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    all_versions,
    get_model_version,
    get_registered_model,
)

MLMODEL = "MLmodel"


@dataclass(frozen=True)
class Source:
    """A source checked against the server: what the registry stores for it."""

    given: str
    stored: tuple[str, ...]  # the forms the registry may have stored for this source
    run_id: str | None
    model_id: str | None


class SourceError(Exception):
    """The source cannot be registered; the message names why."""


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "name": {"type": "str", "required": True},
        "source": {"type": "str"},
        "version": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "description": {"type": "str"},
        "tags": {"type": "dict"},
        "purge_tags": {"type": "bool", "default": False},
        "aliases": {"type": "list", "elements": "str"},
        "purge_aliases": {"type": "bool", "default": False},
        "stage": {"type": "str", "choices": ["None", "Staging", "Production", "Archived"]},
        "archive_existing_versions": {"type": "bool", "default": False},
        "await_registration": {"type": "int", "default": 300},
    }


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """runs:/<run_id>/<path> -> (run_id, path)."""
    body = uri[len("runs:/") :].lstrip("/")
    run_id, _slash, path = body.partition("/")
    if not run_id or not path:
        raise SourceError(f"{uri!r} is not runs:/<run_id>/<path>: the run ID and the model's path are both needed.")
    return run_id, path.strip("/")


def logged_models_of_run(client: Any, run: Any, name: str) -> list[Any]:
    """Logged models (MLflow 3) named name that the run produced, as mlflow.register_model looks them up."""
    filter_string = f"name = {quote_filter_value(name)}"
    found = collect_pages(
        lambda token: client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=filter_string, page_token=token
        )
    )
    return [model for model in found if model.source_run_id == run.info.run_id]


def fetched(get: Callable[[], Any], missing: str) -> Any:
    """get(), with MLflow's not-found error turned into a SourceError that says what is missing."""
    try:
        return get()
    except Exception as exc:
        if is_not_found(exc):
            raise SourceError(missing) from exc
        raise


def check_run_source(client: Any, uri: str) -> Source:
    run_id, path = parse_runs_uri(uri)
    run = fetched(lambda: client.get_run(run_id), f"run {run_id} does not exist (source {uri}).")
    # Only the run's own artifacts count, as in mlflow.register_model: a model logged with MLflow 3's
    # log_model lives under the logged model, and registering the run path would register nothing.
    listing = client.list_artifacts(run.info.run_id, path)
    if MLMODEL in {posixpath.basename(item.path) for item in listing}:
        underlying = posixpath.join(run.info.artifact_uri.rstrip("/"), path)
        return Source(uri, (underlying, uri), run_id, None)
    models = logged_models_of_run(client, run, path)
    if len(models) == 1:
        model_id = models[0].model_id
        return Source(uri, (f"models:/{model_id}", uri), run_id, model_id)
    if len(models) > 1:
        raise SourceError(f"run {run_id} has {len(models)} logged models named {path!r}; use models:/<model_id>.")
    what = "nothing" if not listing else "no MLmodel file"
    raise SourceError(
        f"source {uri} is not readable as a model: run {run_id} has {what} at {path!r} and no logged model "
        f"named {path!r}. Check the path the model was logged under (client.list_artifacts('{run_id}'))."
    )


def check_logged_model_source(client: Any, uri: str) -> Source:
    model_id = uri[len("models:/") :]
    model = fetched(
        lambda: client.get_logged_model(model_id), f"logged model {model_id} does not exist (source {uri})."
    )
    return Source(uri, (uri,), model.source_run_id, model_id)


def check_artifact_source(uri: str) -> Source:
    # A location outside the tracking server's runs and logged models: only MLflow's own code can list it.
    try:
        from mlflow.artifacts import list_artifacts
    except ImportError as exc:
        raise SourceError(
            f"source {uri}: checking an artifact location needs mlflow-skinny where the module runs; register from "
            "runs:/<run_id>/<path> or models:/<model_id>, which need only ansible-core."
        ) from exc
    try:
        listing = list_artifacts(artifact_uri=uri)
    except Exception as exc:
        raise SourceError(f"source {uri} is not readable: {exc}") from exc
    if MLMODEL not in {posixpath.basename(item.path) for item in listing or []}:
        raise SourceError(f"source {uri} is not readable as a model: there is no MLmodel file at it.")
    return Source(uri, (uri.rstrip("/"),), None, None)


def check_source(client: Any, uri: str) -> Source:
    """Check that the source holds a model, before anything is written."""
    if uri.startswith("runs:/"):
        return check_run_source(client, uri)
    if uri.startswith("models:/m-"):
        return check_logged_model_source(client, uri)
    if uri.startswith("models:/"):
        raise SourceError(
            f"source {uri}: register from the run or artifact location of a model, not from another registered "
            "model's URI (look its source up with the birtha.mlflow.mlflow_model lookup)."
        )
    return check_artifact_source(uri)


def find_registered(client: Any, name: str, source: Source, model_exists: bool) -> Any:
    """The newest usable version already registered from this source, if any."""
    if not model_exists:
        return None
    for version in all_versions(client, name):
        same_run = source.run_id is None or version.run_id == source.run_id
        if same_run and version.source.rstrip("/") in source.stored and version.status != "FAILED_REGISTRATION":
            # search_model_versions leaves aliases out; the version itself has them.
            return client.get_model_version(name, version.version)
    return None


@dataclass
class Plan:
    actions: list[str]
    describe: bool
    tags_set: dict[str, str]
    tags_delete: list[str]
    aliases_set: list[str]
    aliases_delete: list[str]
    stage: str | None


def plan_changes(module: MlflowModule, state: dict[str, Any], model_aliases: dict[str, str], others: list[Any]) -> Plan:
    params = module.params
    describe = params["description"] is not None and params["description"] != state["description"]
    tags_set, tags_delete = plan_tags(state["tags"], params["tags"], params["purge_tags"])
    wanted_aliases = params["aliases"]
    aliases_set = [a for a in wanted_aliases or [] if model_aliases.get(a) != state["version"] or not state["version"]]
    aliases_delete = (
        sorted(a for a in state["aliases"] if a not in wanted_aliases)
        if wanted_aliases is not None and params["purge_aliases"]
        else []
    )
    stage = params["stage"]
    archive_others = (
        params["archive_existing_versions"]
        and stage in ("Staging", "Production")
        and any(version.current_stage == stage for version in others)
    )
    if stage is None or (stage == state["current_stage"] and not archive_others):
        stage = None
    actions = ["set description"] if describe else []
    actions += [f"set tag {key}" for key in tags_set] + [f"delete tag {key}" for key in tags_delete]
    actions += [f"set alias {alias}" for alias in aliases_set] + [f"delete alias {alias}" for alias in aliases_delete]
    if stage is not None:
        archived = " (archiving the other versions in it)" if archive_others else ""
        actions.append(f"move to stage {stage}{archived}")
    return Plan(actions, describe, tags_set, tags_delete, aliases_set, aliases_delete, stage)


ACTIVE_STAGES = ("Staging", "Production")


def apply_plan(module: MlflowModule, name: str, version: str, plan: Plan, undo: list[tuple[str, str, str]]) -> None:
    """Apply the plan. Alias moves and stage changes of other versions are recorded in undo, so that a
    failure can put consumers (models:/name@alias, models:/name/Production) back where they were."""
    client = module.client
    if plan.describe:
        client.update_model_version(name, version, description=module.params["description"])
    for key, value in plan.tags_set.items():
        client.set_model_version_tag(name, version, key, value)
    for key in plan.tags_delete:
        client.delete_model_version_tag(name, version, key)
    if plan.stage is not None:
        archive = module.params["archive_existing_versions"] and plan.stage in ACTIVE_STAGES
        if archive:
            for other in all_versions(client, name):
                if other.current_stage == plan.stage and str(other.version) != version:
                    undo.append(("stage", str(other.version), plan.stage))
        client.transition_model_version_stage(name, version, plan.stage, archive_existing_versions=archive)
    model = client.get_registered_model(name)
    previous = {alias: str(target) for alias, target in (model.aliases or {}).items()}
    for alias in plan.aliases_set:
        if alias in previous:
            undo.append(("alias", alias, previous[alias]))
        client.set_registered_model_alias(name, alias, version)
    for alias in plan.aliases_delete:
        undo.append(("alias", alias, version))
        client.delete_registered_model_alias(name, alias)


def register(module: MlflowModule, source: Source, created: list[str]) -> Any:
    """Create the version (its number goes into created at once), then wait until it is READY."""
    client = module.client
    name = module.params["name"]
    version = client.create_model_version(name, source.stored[0], run_id=source.run_id, model_id=source.model_id)
    created.append(str(version.version))
    deadline = time.monotonic() + module.params["await_registration"]
    while version.status == "PENDING_REGISTRATION" and time.monotonic() < deadline:
        time.sleep(1)
        version = client.get_model_version(name, version.version)
    if version.status != "READY":
        raise RuntimeError(
            f"version {version.version} is {version.status} after {module.params['await_registration']} s "
            f"({version.status_message or 'no message'})"
        )
    return version


def roll_back(
    module: MlflowModule, version: str | None, created_model: bool, undo: list[tuple[str, str, str]]
) -> list[str]:
    """Put moved aliases and archived versions back, then delete what this task created, so a failure
    leaves nothing half-registered."""
    client = module.client
    name = module.params["name"]
    undone = []
    for kind, key, value in reversed(undo):
        try:
            if kind == "alias":
                client.set_registered_model_alias(name, key, value)
                undone.append(f"alias {key} back to version {value}")
            else:
                client.transition_model_version_stage(name, key, value)
                undone.append(f"version {key} back to {value}")
        except Exception as exc:  # report, but keep the original failure as the message
            undone.append(f"could not put {kind} {key} back: {exc}")
    try:
        if created_model:
            client.delete_registered_model(name)
            undone.append(f"deleted model {name}")
        elif version:
            client.delete_model_version(name, version)
            undone.append(f"deleted version {version}")
    except Exception as exc:
        undone.append(f"could not delete what was created: {exc}")
    return undone


def locate(module: MlflowModule, model_exists: bool) -> tuple[Source | None, Any]:
    """The checked source (if given) and the existing version it or O(version) names (or None)."""
    params = module.params
    name, wanted_version = params["name"], params["version"]
    source = None
    if params["source"]:
        try:
            source = check_source(module.client, params["source"])
        except SourceError:
            if params["state"] == "present":
                raise
            # Deleting by source: the run may be gone already; match the source as given.
            source = Source(params["source"], (params["source"].rstrip("/"),), None, None)
    if wanted_version is None:
        return source, find_registered(module.client, name, source, model_exists)
    existing = get_model_version(module.client, name, wanted_version) if model_exists else None
    if existing is None:
        module.fail_json(msg=f"version: model {name!r} has no version {wanted_version}.")
    if source is not None and existing.source.rstrip("/") not in source.stored:
        module.fail_json(
            msg=f"version {wanted_version} of {name!r} was registered from {existing.source}, not {params['source']}."
        )
    return source, existing


def ensure_absent(module: MlflowModule, existing: Any) -> dict[str, Any]:
    if existing is None:
        return {"changed": False, "actions": [], "created": False}
    if not module.check_mode:
        module.client.delete_model_version(existing.name, existing.version)
    return {"changed": True, "actions": [f"delete version {existing.version}"], "created": False}


def ensure_present(module: MlflowModule, source: Source | None, existing: Any, model: Any) -> dict[str, Any]:
    client = module.client
    name = module.params["name"]
    model_aliases = {alias: str(version) for alias, version in ((model.aliases if model else None) or {}).items()}
    if existing is not None:
        state = model_version_to_dict(existing)
        others = [v for v in all_versions(client, name) if v.version != existing.version]
    else:
        state = {
            "name": name,
            "version": "",
            "source": source.stored[0] if source else "",
            "run_id": source.run_id or "",
            "status": "READY",
            "current_stage": "None",
            "description": "",
            "tags": {},
            "aliases": [],
        }
        others = all_versions(client, name) if model is not None else []
    plan = plan_changes(module, state, model_aliases, others)
    actions = (
        [] if existing is not None else [f"register a version of {name} from {module.params['source']}"]
    ) + plan.actions
    if module.check_mode or not actions:
        return {
            "changed": bool(actions),
            "actions": actions,
            "created": existing is None,
            "after": predict(state, plan, module),
        }

    created_model = False
    created: list[str] = []
    undo: list[tuple[str, str, str]] = []
    try:
        if existing is None:
            if model is None:  # as mlflow.register_model does
                client.create_registered_model(name)
                created_model = True
            state = model_version_to_dict(register(module, source, created))
        apply_plan(module, name, state["version"], plan, undo)
    except Exception as exc:
        undone = roll_back(module, created[0] if created else None, created_model, undo)
        module.fail_json(
            msg=f"Could not register or update model {name!r}: {describe_error(exc, module.params['tracking_uri'])}",
            rolled_back=undone,
        )
    after = model_version_to_dict(client.get_model_version(name, state["version"]))
    return {"changed": True, "actions": actions, "created": existing is None, "after": after}


def predict(state: dict[str, Any], plan: Plan, module: MlflowModule) -> dict[str, Any]:
    """The version as check mode predicts it."""
    tags = {k: v for k, v in {**state["tags"], **plan.tags_set}.items() if k not in plan.tags_delete}
    aliases = sorted({*state["aliases"], *plan.aliases_set} - set(plan.aliases_delete))
    return {
        **state,
        "description": module.params["description"] if plan.describe else state["description"],
        "tags": tags,
        "aliases": aliases,
        "current_stage": plan.stage or state["current_stage"],
    }


def diff_view(version: dict[str, Any] | None) -> dict[str, Any]:
    if version is None:
        return {"state": "absent"}
    keys = ("version", "source", "current_stage", "description", "tags", "aliases")
    return {key: version[key] for key in keys}


def main() -> None:
    module = MlflowModule(
        argument_spec(),
        supports_check_mode=True,
        required_one_of=[("source", "version")],
    )
    name = module.params["name"]
    try:
        model = get_registered_model(module.client, name)
        source, existing = locate(module, model is not None)
        before = model_version_to_dict(existing) if existing is not None else None
        if module.params["state"] == "absent":
            outcome = ensure_absent(module, existing)
            outcome["after"] = None
        else:
            outcome = ensure_present(module, source, existing, model)
    except SourceError as exc:
        module.fail_json(msg=f"source: {exc}")
    except Exception as exc:
        module.fail_mlflow(exc, f"manage a version of the registered model {name!r}")
    after = outcome["after"]
    result: dict[str, Any] = {
        "changed": outcome["changed"],
        "actions": outcome["actions"],
        "created": outcome["created"],
    }
    if after is not None:
        result["model_version"] = after
        result["version"] = after["version"]
    if module._diff:
        result["diff"] = {"before": diff_view(before), "after": diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
