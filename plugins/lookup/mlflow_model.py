# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Resolve models:/ URIs to the model version they name."""

from __future__ import annotations

DOCUMENTATION = r"""
name: mlflow_model
short_description: Resolve a models:/ URI to its version, run and source
version_added: 0.2.0
description:
  - Resolves V(models:/<name>/<stage>), V(models:/<name>@<alias>), V(models:/<name>/<version>) or
    V(models:/<name>/latest) to the model version it names, as C(mlflow.pyfunc.load_model()) would.
  - A stage resolves to the newest version in it; V(latest) to the newest ready version.
  - Runs on the controller, which must reach the tracking server; it needs nothing beyond ansible-core.
  - A URI that names nothing fails the task with the reason (no such model, version, stage or alias).
options:
  _terms:
    description: One or more models:/ URIs.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - birtha.mlflow.mlflow.lookup
requirements:
  - nothing beyond ansible-core (the lookup calls MLflow's REST API itself)
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Which version serves production?
  ansible.builtin.debug:
    msg: >-
      {{ lookup('birtha.mlflow.mlflow_model', 'models:/wrkhrs-gateway-model/Production',
                tracking_uri='http://mlflow.example.com:5000', username='admin',
                password=vault_mlflow_admin_password).version }}

- name: Run and source behind the champion alias (connection from MLFLOW_TRACKING_* variables)
  ansible.builtin.set_fact:
    champion: "{{ lookup('birtha.mlflow.mlflow_model', 'models:/wrkhrs-gateway-model@champion') }}"
"""

RETURN = r"""
_raw:
  description: For each URI, the model version it resolves to.
  type: list
  elements: dict
  contains:
    name: {description: Registered model, type: str, sample: wrkhrs-gateway-model}
    version: {description: Version number, type: str, sample: "2"}
    run_id: {description: Run the version came from, type: str, sample: 0f1e2d3c4b5a69788796a5b4c3d2e1f0}
    source:
      description: Source as stored by the registry
      type: str
      sample: "mlflow-artifacts:/1/0f1e.../artifacts/model"
    current_stage: {description: Stage, type: str, sample: Production}
    aliases: {description: Aliases of the version, type: list, elements: str, sample: [champion]}
    status: {description: Registration status, type: str, sample: READY}
    description: {description: Description, type: str, sample: WrkHrs Gateway AI Model}
    tags: {description: Tags, type: dict, sample: {}}
"""

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    describe_error,
    model_version_to_dict,
    rest_client,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_registry import (
    ModelUriError,
    parse_model_uri,
    resolve_model_ref,
)

CONNECTION_OPTIONS = (
    "tracking_uri",
    "username",
    "password",
    "token",
    "ca_bundle",
    "validate_certs",
    "timeout",
    "retries",
)


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        self.set_options(var_options=variables, direct=kwargs)
        params = {name: self.get_option(name) for name in CONNECTION_OPTIONS}
        if not params["tracking_uri"]:
            raise AnsibleLookupError("mlflow_model: set tracking_uri (or MLFLOW_TRACKING_URI).")
        client = rest_client(params)
        return [self.resolve(client, str(term), params["tracking_uri"]) for term in terms]

    @staticmethod
    def resolve(client: Any, uri: str, tracking_uri: str) -> dict[str, Any]:
        try:
            version = resolve_model_ref(client, parse_model_uri(uri))
        except ModelUriError as exc:
            raise AnsibleLookupError(f"mlflow_model: {uri} resolves to nothing: {exc}") from exc
        except Exception as exc:
            raise AnsibleLookupError(
                f"mlflow_model: could not resolve {uri}: {describe_error(exc, tracking_uri)}"
            ) from exc
        return model_version_to_dict(version)
