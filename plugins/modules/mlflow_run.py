#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Log a named MLflow run with params, metrics, tags and artifacts, once."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_run
short_description: Log a named MLflow run with params, metrics, tags and artifacts, once
version_added: 0.2.0
description:
  - The runbook's "Logging Runs" (C(mlflow.start_run), C(log_params), C(log_metrics), C(log_artifact),
    C(log_dict)) as a declarative task. The run is identified by O(run_name) within its experiment, so running
    the task again finds the run instead of logging another one.
  - Params are immutable in MLflow. A param the run already has with another value fails the task; log a new
    run under another name instead.
  - A metric whose latest value differs from the declared one gets the new value logged as the next step,
    keeping the history.
  - Artifacts are uploaded when a file is missing under the run or its size differs (MLflow keeps no checksum).
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  experiment_name:
    description: Name of the experiment the run belongs to. It must exist (see M(birtha.mlflow.mlflow_experiment)).
    type: str
  experiment_id:
    description: ID of the experiment, instead of O(experiment_name).
    type: str
  run_name:
    description: Name that identifies the run within the experiment. Two active runs with this name fail the task.
    type: str
    required: true
  state:
    description:
      - V(present) logs the run, or brings an existing one up to date.
      - V(absent) soft-deletes the run, as C(mlflow.delete_run) does.
    type: str
    choices: [present, absent]
    default: present
  params:
    description: Parameters. Values are stored as strings.
    type: dict
  metrics:
    description: Metrics, name to number.
    type: dict
  tags:
    description: Tags. Values are stored as strings.
    type: dict
  artifacts:
    description: Files or directories on the host that runs the module, to upload as artifacts.
    type: list
    elements: dict
    suboptions:
      src:
        description: Local file or directory.
        type: path
        required: true
      artifact_path:
        description: Directory under the run's artifact root; the run's root when not set.
        type: str
  dicts:
    description:
      - Dictionaries to store as JSON artifacts, file name to content, as C(mlflow.log_dict()) does.
    type: dict
  status:
    description: Status of a run this task creates.
    type: str
    choices: [FINISHED, FAILED, KILLED]
    default: FINISHED
attributes:
  check_mode:
    support: full
    details: Reads the run and its artifacts and predicts C(changed) and RV(actions); creates, logs, uploads and
      deletes nothing (a new run's RV(run_id) is empty). An experiment or artifact source that does not exist yet is
      taken as made by an earlier task, with a warning.
  diff_mode:
    support: none
seealso:
  - module: birtha.mlflow.mlflow_run_info
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The runbook's test-run, once
  birtha.mlflow.mlflow_run:
    tracking_uri: http://mlflow.example.com:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    experiment_name: WrkHrs_Birtha_Integration
    run_name: test-run
    params: {model_type: gpt-3.5-turbo, temperature: 0.7, max_tokens: 1000}
    metrics: {accuracy: 0.95, latency: 150.5}
    artifacts:
      - src: /srv/models/gateway
        artifact_path: model
    dicts:
      config.json: {config: value}
  register: run

- name: Register what it logged
  birtha.mlflow.mlflow_model_version:
    name: wrkhrs-gateway-model
    source: "runs:/{{ run.run_id }}/model"
"""

RETURN = r"""
run_id:
  description: ID of the run; empty when check mode would create it.
  returned: when the run exists or would exist
  type: str
  sample: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
experiment_id:
  description: ID of the run's experiment.
  returned: always
  type: str
  sample: "1"
artifact_uri:
  description: Artifact root of the run.
  returned: when the run exists
  type: str
  sample: mlflow-artifacts:/1/0f1e2d3c4b5a69788796a5b4c3d2e1f0/artifacts
created:
  description: Whether the task created the run.
  returned: always
  type: bool
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create run test-run", "log param temperature", "upload model/MLmodel"]
"""

import json
import os
import posixpath
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    MlflowModule,
    collect_pages,
    quote_filter_value,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_rest import Metric, MlflowRestClient


@dataclass
class Plan:
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    uploads: list[tuple[str, str | None]] = field(default_factory=list)  # (local file, artifact dir)
    dicts: dict[str, Any] = field(default_factory=dict)

    def actions(self) -> list[str]:
        return (
            [f"log param {key}" for key in self.params]
            + [f"log metric {key}" for key in self.metrics]
            + [f"set tag {key}" for key in self.tags]
            + [f"upload {posixpath.join(d or '', os.path.basename(f))}" for f, d in self.uploads]
            + [f"write {name}" for name in self.dicts]
        )


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "experiment_name": {"type": "str"},
        "experiment_id": {"type": "str"},
        "run_name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "params": {"type": "dict"},
        "metrics": {"type": "dict"},
        "tags": {"type": "dict"},
        "artifacts": {
            "type": "list",
            "elements": "dict",
            "options": {"src": {"type": "path", "required": True}, "artifact_path": {"type": "str"}},
        },
        "dicts": {"type": "dict"},
        "status": {"type": "str", "choices": ["FINISHED", "FAILED", "KILLED"], "default": "FINISHED"},
    }


def resolve_experiment_id(module: MlflowModule) -> str | None:
    """The experiment's ID; None in check mode when it does not exist yet (an earlier task would create it)."""
    params = module.params
    if params["experiment_id"]:
        return params["experiment_id"]
    experiment = module.client.get_experiment_by_name(params["experiment_name"])
    if experiment is None and module.check_mode:
        module.warn(f"experiment {params['experiment_name']!r} does not exist yet; check mode assumes it will.")
        return None
    if experiment is None or experiment.lifecycle_stage != "active":
        module.fail_json(
            msg=f"experiment_name: no active experiment is named {params['experiment_name']!r}. "
            "Create it first with birtha.mlflow.mlflow_experiment."
        )
    return experiment.experiment_id


def find_run(module: MlflowModule, experiment_id: str) -> Any:
    name = module.params["run_name"]
    runs = collect_pages(
        lambda token: module.client.search_runs(
            [experiment_id], f"attributes.run_name = {quote_filter_value(name)}", max_results=100, page_token=token
        )
    )
    if len(runs) > 1:
        ids = ", ".join(run.info.run_id for run in runs)
        module.fail_json(
            msg=f"run_name: {len(runs)} active runs are named {name!r} ({ids}); rename or delete all but one."
        )
    return runs[0] if runs else None


def local_files(src: str) -> list[tuple[str, str]]:
    """(local file, path relative to src's parent for a file, or to src for a directory)."""
    if os.path.isfile(src):
        return [(src, os.path.basename(src))]
    found = []
    for root, _dirs, files in os.walk(src):
        for name in sorted(files):
            full = os.path.join(root, name)
            found.append((full, os.path.relpath(full, src)))
    return found


def remote_sizes(client: MlflowRestClient, run: Any, path: str | None) -> dict[str, int]:
    """Artifact path -> size of the run's own artifacts under path, recursively."""
    sizes: dict[str, int] = {}
    pending = [path]
    while pending:
        for item in client.list_artifacts(run.info.run_id, pending.pop()):
            if item.is_dir:
                pending.append(item.path)
            else:
                sizes[item.path] = item.file_size or 0
    return sizes


def plan_uploads(module: MlflowModule, run: Any) -> list[tuple[str, str | None]]:
    uploads: list[tuple[str, str | None]] = []
    for spec in module.params["artifacts"] or []:
        src, base = spec["src"], (spec["artifact_path"] or "").strip("/") or None
        if not os.path.exists(src):
            if module.check_mode:  # an earlier task in the play (a copy, say) would have created it
                module.warn(f"artifacts: {src} does not exist yet; check mode assumes it will be uploaded.")
                uploads.append((src, base))
                continue
            module.fail_json(msg=f"artifacts: {src} does not exist on {os.uname().nodename}.")
        existing = remote_sizes(module.client, run, base) if run is not None else {}
        for full, rel in local_files(src):
            target = posixpath.join(base or "", rel.replace(os.sep, "/"))
            if existing.get(target) != os.path.getsize(full):
                uploads.append((full, posixpath.dirname(target) or None))
    return uploads


def plan_run(module: MlflowModule, run: Any) -> Plan:
    params = module.params
    have_params = dict(run.data.params) if run else {}
    have_metrics = dict(run.data.metrics) if run else {}
    have_tags = dict(run.data.tags) if run else {}
    plan = Plan()
    for key, value in (params["params"] or {}).items():
        if key in have_params and have_params[key] != str(value):
            module.fail_json(
                msg=f"params.{key}: run {params['run_name']!r} already has {key}={have_params[key]!r}; MLflow params "
                f"cannot change. Log a new run (another run_name) for {value!r}."
            )
        if key not in have_params:
            plan.params[key] = str(value)
    for key, value in (params["metrics"] or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            module.fail_json(msg=f"metrics.{key}: {value!r} is not a number.")
        if have_metrics.get(key) != number:
            plan.metrics[key] = number
    plan.tags = {k: str(v) for k, v in (params["tags"] or {}).items() if have_tags.get(k) != str(v)}
    plan.uploads = plan_uploads(module, run)
    existing = remote_sizes(module.client, run, None) if run and params["dicts"] else {}
    for name, content in (params["dicts"] or {}).items():
        if existing.get(name) != len(json.dumps(content, indent=2).encode()):
            plan.dicts[name] = content
    return plan


def next_steps(module: MlflowModule, run_id: str, metrics: dict[str, float]) -> dict[str, int]:
    steps = {}
    for key in metrics:
        history = module.client.get_metric_history(run_id, key)
        steps[key] = max((m.step for m in history), default=-1) + 1
    return steps


def apply_plan(module: MlflowModule, run_id: str, plan: Plan) -> None:
    client = module.client
    now = int(time.time() * 1000)
    steps = next_steps(module, run_id, plan.metrics)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, now, steps[key]) for key, value in plan.metrics.items()],
        params=plan.params,
        tags=plan.tags,
    )
    for local, artifact_dir in plan.uploads:
        client.log_artifact(run_id, local, artifact_dir)
    if plan.dicts:
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in plan.dicts.items():
                path = os.path.join(tmp, os.path.basename(name))
                with open(path, "w", encoding="utf-8") as handle:
                    json.dump(content, handle, indent=2)
                client.log_artifact(run_id, path, posixpath.dirname(name) or None)


def ensure_present(module: MlflowModule, experiment_id: str, run: Any) -> dict[str, Any]:
    plan = plan_run(module, run)
    actions = ([] if run else [f"create run {module.params['run_name']}"]) + plan.actions()
    result: dict[str, Any] = {"changed": bool(actions), "actions": actions, "created": run is None}
    if run is not None:
        result.update(run_id=run.info.run_id, artifact_uri=run.info.artifact_uri)
    if module.check_mode or not actions:
        result.setdefault("run_id", "")
        return result
    created = run is None
    if created:
        run = module.client.create_run(experiment_id, run_name=module.params["run_name"])
    run_id = run.info.run_id
    try:
        apply_plan(module, run_id, plan)
        if created:
            module.client.set_terminated(run_id, module.params["status"])
    except Exception as exc:
        if created:  # a run without what was declared is worse than none: a re-run would take it as done
            try:
                module.client.delete_run(run_id)
            except Exception as cleanup:
                module.warn(f"could not delete the incomplete run {run_id}: {cleanup}")
        module.fail_mlflow(exc, f"log the run {module.params['run_name']!r} ({run_id}, deleted again)")
    result.update(run_id=run_id, artifact_uri=run.info.artifact_uri)
    return result


def main() -> None:
    module = MlflowModule(
        argument_spec(),
        supports_check_mode=True,
        required_one_of=[("experiment_name", "experiment_id")],
        mutually_exclusive=[("experiment_name", "experiment_id")],
    )
    try:
        experiment_id = resolve_experiment_id(module)
        run = find_run(module, experiment_id) if experiment_id is not None else None
        experiment_id = experiment_id or ""
        if module.params["state"] == "absent":
            changed = run is not None
            if changed and not module.check_mode:
                module.client.delete_run(run.info.run_id)
            actions = [f"delete run {run.info.run_id}"] if changed else []
            module.exit_json(changed=changed, actions=actions, created=False, experiment_id=experiment_id)
        result = ensure_present(module, experiment_id, run)
    except Exception as exc:
        module.fail_mlflow(exc, f"log the run {module.params['run_name']!r}")
    module.exit_json(experiment_id=experiment_id, **result)


if __name__ == "__main__":
    main()
