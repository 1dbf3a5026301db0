# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Model-registry helpers shared by the registry modules and the mlflow_model lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    collect_pages,
    error_code,
    is_not_found,
    quote_filter_value,
)

STAGES = ("None", "Staging", "Production", "Archived")
# models:/<name>@<alias>, models:/<name>/<version|stage|latest>; names may contain '/'? MLflow forbids it.
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_PATH_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<ref>[^/@]+)$")


class ModelUriError(ValueError):
    """A models:/ URI that is malformed or points at nothing."""


@dataclass(frozen=True)
class ModelRef:
    """What a models:/ URI names: a version number, a stage, the latest version or an alias."""

    name: str
    kind: str  # version | stage | latest | alias
    value: str


def parse_model_uri(uri: str) -> ModelRef:
    """Parse models:/name/1, models:/name/Production, models:/name/latest or models:/name@alias."""
    if match := _ALIAS_URI.match(uri):
        return ModelRef(match["name"], "alias", match["alias"])
    if match := _PATH_URI.match(uri):
        ref = match["ref"]
        if ref.isdigit():
            return ModelRef(match["name"], "version", ref)
        if ref.lower() == "latest":
            return ModelRef(match["name"], "latest", ref)
        stage = next((stage for stage in STAGES if stage.lower() == ref.lower()), None)
        if stage is None:
            raise ModelUriError(
                f"{uri!r}: {ref!r} is neither a version number, 'latest' nor a stage ({', '.join(STAGES)})."
            )
        return ModelRef(match["name"], "stage", stage)
    raise ModelUriError(
        f"{uri!r} is not a model URI. Use models:/<name>/<version>, models:/<name>/<stage>, "
        "models:/<name>/latest or models:/<name>@<alias>."
    )


def get_registered_model(client: Any, name: str) -> Any:
    """The registered model, or None when there is none by that name."""
    try:
        return client.get_registered_model(name)
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def get_model_version(client: Any, name: str, version: str) -> Any:
    """The model version, or None when the model has no such version."""
    try:
        return client.get_model_version(name, str(version))
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def all_versions(client: Any, name: str) -> list[Any]:
    """Every version of a registered model, newest first."""
    filter_string = f"name = {quote_filter_value(name)}"
    versions = collect_pages(
        lambda token: client.search_model_versions(filter_string, max_results=1000, page_token=token)
    )
    return sorted(versions, key=lambda version: int(version.version), reverse=True)


def resolve_model_ref(client: Any, ref: ModelRef) -> Any:
    """The model version a ModelRef names; ModelUriError when it names nothing."""
    if get_registered_model(client, ref.name) is None:
        raise ModelUriError(f"there is no registered model named {ref.name!r}.")
    if ref.kind == "version":
        version = get_model_version(client, ref.name, ref.value)
        if version is None:
            raise ModelUriError(f"model {ref.name!r} has no version {ref.value}.")
        return version
    if ref.kind == "alias":
        try:
            return client.get_model_version_by_alias(ref.name, ref.value)
        except Exception as exc:
            # A missing alias is INVALID_PARAMETER_VALUE ("Registered model alias X not found."), not a 404.
            missing_alias = error_code(exc) == "INVALID_PARAMETER_VALUE" and "not found" in str(exc).lower()
            if is_not_found(exc) or missing_alias:
                raise ModelUriError(f"model {ref.name!r} has no alias {ref.value!r}.") from exc
            raise
    ready = [version for version in all_versions(client, ref.name) if version.status == "READY"]
    if ref.kind == "stage":
        ready = [version for version in ready if version.current_stage == ref.value]
    if not ready:
        where = "in stage " + ref.value if ref.kind == "stage" else "ready"
        raise ModelUriError(f"model {ref.name!r} has no version {where}.")
    return client.get_model_version(ref.name, ready[0].version)  # the search leaves aliases out
