#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Load a model with mlflow.pyfunc.load_model and, optionally, predict with it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_model_check
short_description: Prove a model loads with mlflow.pyfunc.load_model, and predicts
version_added: 0.2.0
description:
  - The runbook's "Get model for inference" step as a check. Loads O(model_uri) on the host that runs the module,
    exactly as a consumer would (C(mlflow.pyfunc.load_model)), downloads its artifacts through the tracking server,
    and when O(input) is given calls C(predict) on it.
  - For a C(models:/) URI, also returns the registry version the URI resolved to, so a play can assert that
    C(models:/<name>/Production) and C(models:/<name>@champion) serve the version it expects.
  - Reports C(changed=false) always; it only reads.
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
  - birtha.mlflow.mlflow.info_module
options:
  model_uri:
    description:
      - The model to load, for example V(models:/wrkhrs-gateway-model/Production),
        V(models:/wrkhrs-gateway-model@champion) or V(runs:/<run_id>/model).
    type: str
    required: true
  input:
    description:
      - Input passed to the loaded model's C(predict). Without it the model is only loaded.
    type: raw
  expected_output:
    description:
      - When given, the prediction must equal this value or the task fails.
    type: raw
attributes:
  check_mode:
    details: Loads the model and predicts as usual (its artifacts are downloaded into a local temporary directory);
      changes nothing on the server.
requirements:
  - mlflow (the full package, with the dependencies of the model's flavor) on the host that runs the module
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The production model loads and answers
  birtha.mlflow.mlflow_model_check:
    tracking_uri: http://127.0.0.1:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    model_uri: models:/wrkhrs-gateway-model/Production
    input: [[1.0, 2.0]]
  register: production

- name: The champion alias serves the same version
  birtha.mlflow.mlflow_model_check:
    model_uri: models:/wrkhrs-gateway-model@champion
  register: champion
  failed_when: champion.version != production.version
"""

RETURN = r"""
model_uri:
  description: The URI that was loaded.
  returned: always
  type: str
  sample: models:/wrkhrs-gateway-model/Production
version:
  description: Registry version the URI resolved to; empty for a URI outside the registry.
  returned: always
  type: str
  sample: "2"
run_id:
  description: Run the loaded model came from, as its MLmodel records it (or the registry version's run).
  returned: always
  type: str
  sample: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
flavors:
  description: Flavors of the loaded model.
  returned: always
  type: list
  elements: str
  sample: [python_function]
prediction:
  description: What C(predict) returned for O(input), converted to plain lists and numbers.
  returned: when O(input) is given
  type: raw
  sample: [0.95]
"""

import traceback
from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import MlflowModule
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    ModelUriError,
    parse_model_uri,
    resolve_model_ref,
)


def argument_spec() -> dict[str, dict[str, Any]]:
    return {
        "model_uri": {"type": "str", "required": True},
        "input": {"type": "raw"},
        "expected_output": {"type": "raw"},
    }


def plain(value: Any) -> Any:
    """numpy and pandas results as JSON-friendly lists and numbers."""
    for attribute in ("tolist", "to_dict"):
        if hasattr(value, attribute):
            return getattr(value, attribute)()
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def registry_version(module: MlflowModule, uri: str) -> Any:
    if not uri.startswith("models:/") or uri.startswith("models:/m-"):
        return None
    try:
        return resolve_model_ref(module.client, parse_model_uri(uri))
    except ModelUriError as exc:
        module.fail_json(msg=f"model_uri: {exc}")


def main() -> None:
    module = MlflowModule(argument_spec(), supports_check_mode=True)
    uri = module.params["model_uri"]
    # Built first for every URI: it also sets the environment mlflow.pyfunc.load_model takes its server,
    # credentials and TLS setting from.
    module.client  # noqa: B018
    version = None
    try:
        version = registry_version(module, uri)
    except Exception as exc:
        module.fail_mlflow(exc, f"resolve {uri}")
    try:
        import mlflow.pyfunc
    except ImportError:
        module.fail_json(msg=missing_required_lib("mlflow"), exception=traceback.format_exc())
    try:
        model = mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        module.fail_mlflow(exc, f"load {uri} with mlflow.pyfunc.load_model")
    metadata = model.metadata
    result: dict[str, Any] = {
        "changed": False,
        "model_uri": uri,
        "version": str(version.version) if version is not None else "",
        "run_id": (metadata.run_id or (version.run_id if version is not None else "")) or "",
        "flavors": sorted(metadata.flavors),
    }
    if module.params["input"] is not None:
        try:
            result["prediction"] = plain(model.predict(module.params["input"]))
        except Exception as exc:
            module.fail_json(
                msg=f"{uri} loaded but predict() failed: {exc}", exception=traceback.format_exc(), **result
            )
        expected = module.params["expected_output"]
        if expected is not None and result["prediction"] != expected:
            module.fail_json(msg=f"{uri} predicted {result['prediction']!r}, expected {expected!r}.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
