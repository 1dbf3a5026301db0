# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The models:/ URIs a consumer would load a declared model by: its stage and each alias."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: model_uris
short_description: The models:/ URIs a declared model is served by
version_added: 0.2.0
description:
  - For each model declaration (C(name), optional C(stage), optional C(aliases)) returns pairs of
    C([declaration, uri]).
  - The URIs are V(models:/<name>/<stage>) when the stage is Staging or Production, and
    V(models:/<name>@<alias>) for each alias. A model with neither yields V(models:/<name>/latest).
options:
  _input:
    description: Model declarations, as C(model_registry_models) in C(playbooks/model_registry.yml).
    type: list
    elements: dict
    required: true
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
loop: "{{ model_registry_models | birtha.mlflow.model_uris }}"
# item.0 is the declaration, item.1 the URI
"""

RETURN = r"""
_value:
  description: Pairs of declaration and URI.
  type: list
  elements: list
"""

SERVING_STAGES = ("Staging", "Production")


def model_uris(models: list[dict[str, Any]]) -> list[list[Any]]:
    pairs: list[list[Any]] = []
    for model in models or []:
        if not isinstance(model, dict) or not model.get("name"):
            raise AnsibleFilterError(f"model_uris: each model needs a name, got {model!r}")
        name = model["name"]
        uris = [f"models:/{name}/{model['stage']}"] if model.get("stage") in SERVING_STAGES else []
        uris += [f"models:/{name}@{alias}" for alias in model.get("aliases") or []]
        pairs += [[model, uri] for uri in uris or [f"models:/{name}/latest"]]
    return pairs


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"model_uris": model_uris}
