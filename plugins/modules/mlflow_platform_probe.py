#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Prove an MLflow platform works end to end, as an authenticated client would use it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_platform_probe
short_description: Prove an MLflow platform works end to end
version_added: 0.1.0
description:
  - Acts as an authenticated MLflow client. Creates (or reuses) a probe experiment, logs a run with a
    parameter, a metric and an artifact, and reads all three back through the tracking server.
  - When the S3 options are given, also reads the artifact straight from the artifact bucket and
    compares its SHA-256, which proves the server stored it in MinIO and not somewhere else.
  - Any step that fails fails the task with the step named, so the message says which tier is at fault.
  - Probe runs are written to their own experiment only. The module reports C(changed=false) because
    the platform's configuration and the user's data are left as they were; older probe runs beyond
    O(keep_runs) are soft-deleted.
extends_documentation_fragment:
  - birtha.mlflow.mlflow
  - birtha.mlflow.mlflow.attributes
options:
  experiment_name:
    description: Experiment the probe runs are logged to; created when missing.
    type: str
    default: birtha-platform-probe
  keep_runs:
    description: How many probe runs to keep; older ones are soft-deleted. V(0) keeps all.
    type: int
    default: 5
  s3_endpoint_url:
    description: S3 endpoint of the artifact store (MinIO). Without it the direct bucket check is skipped.
    type: str
  s3_bucket:
    description: Bucket the server proxies artifacts to (its C(--artifacts-destination)).
    type: str
  s3_prefix:
    description: Key prefix under O(s3_bucket) of the server's artifacts destination.
    type: str
    default: ""
  s3_access_key:
    description: Access key for O(s3_endpoint_url).
    type: str
  s3_secret_key:
    description: Secret key for O(s3_endpoint_url).
    type: str
  s3_region:
    description: The region the bucket check signs its request for (an AWS bucket's region).
    type: str
    default: us-east-1
  s3_ca_bundle:
    description:
      - CA bundle the store's certificate is verified against (an external store with its own CA).
      - Default O(ca_bundle), the platform's CA.
    type: path
attributes:
  check_mode:
    support: partial
    details: Only the read-only checks run (authentication, experiment lookup); no experiment is created or
      restored, no run logged and none deleted.
  diff_mode:
    support: none
requirements:
  - boto3, only for the direct bucket check (O(s3_endpoint_url)); the calls to MLflow need only ansible-core
    where the server proxies artifacts (C(mlflow server --serve-artifacts), as the platform runs it)
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Prove the platform end to end, the artifact included
  birtha.mlflow.mlflow_platform_probe:
    tracking_uri: http://127.0.0.1:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    s3_endpoint_url: http://127.0.0.1:9000
    s3_bucket: mlflow-artifacts
    s3_access_key: mlflow
    s3_secret_key: "{{ vault_minio_mlflow_secret_key }}"
  register: probe

- name: Show where the probe run lives
  ansible.builtin.debug:
    msg: "run {{ probe.run_id }} in experiment {{ probe.experiment_id }}"
"""

RETURN = r"""
experiment_id:
  description: ID of the probe experiment.
  returned: success
  type: str
  sample: "1"
run_id:
  description: ID of the run the probe logged; empty in check mode.
  returned: success
  type: str
  sample: 6f1c7d3c2d4b4c5e9c1d2e3f4a5b6c7d
artifact_uri:
  description: Artifact URI of the probe run.
  returned: success and not in check mode
  type: str
  sample: mlflow-artifacts:/1/6f1c7d3c2d4b4c5e9c1d2e3f4a5b6c7d/artifacts
artifact_key:
  description: Object key of the probe artifact in O(s3_bucket).
  returned: when the S3 options are given and not in check mode
  type: str
  sample: 1/6f1c7d3c2d4b4c5e9c1d2e3f4a5b6c7d/artifacts/probe.json
checks:
  description: Each step of the probe and whether it passed.
  returned: always
  type: dict
  sample: {authenticate: true, experiment: true, log_run: true, read_params: true, read_metrics: true,
           read_artifact: true, artifact_in_bucket: true}
deleted_runs:
  description: Older probe runs soft-deleted to respect O(keep_runs).
  returned: success
  type: list
  elements: str
"""

import hashlib
import json
import os
import secrets
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_api import (
    fail_with_error,
    mlflow_argument_spec,
    mlflow_client,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.mlflow_rest import MlflowApiError, MlflowRestClient
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import BOTO3_IMPORT_ERROR, new_s3_client
from ansible_collections.birtha.mlflow.plugins.module_utils.trust import tls_verify

ARTIFACT_NAME = "probe.json"
PROBE_TAG = "birtha.probe"


def argument_spec() -> dict[str, dict[str, Any]]:
    spec = mlflow_argument_spec()
    spec.update(
        experiment_name={"type": "str", "default": "birtha-platform-probe"},
        keep_runs={"type": "int", "default": 5},
        s3_endpoint_url={"type": "str"},
        s3_bucket={"type": "str"},
        s3_prefix={"type": "str", "default": ""},
        s3_access_key={"type": "str", "no_log": False},
        s3_secret_key={"type": "str", "no_log": True},
        s3_region={"type": "str", "default": "us-east-1"},
        s3_ca_bundle={"type": "path"},
    )
    return spec


def find_experiment_id(client: MlflowRestClient, name: str) -> tuple[str | None, str | None]:
    """The experiment's id and lifecycle stage, or (None, None) when it does not exist."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return None, None
    return experiment.experiment_id, experiment.lifecycle_stage


def log_probe_run(client: MlflowRestClient, experiment_id: str, payload: dict[str, Any]) -> Any:
    """Log a run with a parameter, a metric and an artifact; returns the finished run."""
    run = client.create_run(experiment_id, run_name=f"probe-{int(time.time())}", tags={PROBE_TAG: "true"})
    run_id = run.info.run_id
    client.log_param(run_id, "probe_token", payload["token"])
    client.log_metric(run_id, "probe_value", payload["value"])
    client.log_text(run_id, json.dumps(payload, sort_keys=True), ARTIFACT_NAME)
    client.set_terminated(run_id, "FINISHED")
    return client.get_run(run_id)


def artifact_key(artifact_uri: str, prefix: str) -> str:
    """Object key of the probe artifact for a proxied (mlflow-artifacts:) or s3:// artifact URI."""
    if artifact_uri.startswith("s3://"):
        path = artifact_uri.split("/", 3)[3] if artifact_uri.count("/") >= 3 else ""
    else:
        path = artifact_uri.split(":", 1)[1].lstrip("/")
        path = "/".join(part for part in (prefix.strip("/"), path) if part)
    return f"{path}/{ARTIFACT_NAME}"


def read_bucket_object(params: dict[str, Any], key: str) -> bytes:
    s3 = new_s3_client(
        params["s3_endpoint_url"],
        params["s3_access_key"],
        params["s3_secret_key"],
        region=params["s3_region"],
        verify=tls_verify(params.get("s3_ca_bundle") or params.get("ca_bundle"), params["validate_certs"]),
        attempts=2,
    )
    return s3.get_object(Bucket=params["s3_bucket"], Key=key)["Body"].read()


def prune_probe_runs(client: MlflowRestClient, experiment_id: str, keep: int) -> list[str]:
    """Soft-delete probe runs beyond the newest `keep`."""
    if keep <= 0:
        return []
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{PROBE_TAG}` = 'true'",
        order_by=["attributes.start_time DESC"],
        max_results=keep + 50,
    )
    stale = [run.info.run_id for run in runs[keep:]]
    for run_id in stale:
        client.delete_run(run_id)
    return stale


def run_probe(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    checks: dict[str, bool] = {}
    result: dict[str, Any] = {"changed": False, "checks": checks, "run_id": "", "deleted_runs": []}
    client = mlflow_client(module)

    try:
        client.search_experiments(max_results=1)
    except MlflowApiError as exc:  # also a connection failure: no answer is an MlflowApiError
        fail_with_error(module, exc, "authenticate to the tracking server and query its database")
    checks["authenticate"] = True

    try:
        experiment_id, stage = find_experiment_id(client, params["experiment_name"])
        if stage == "deleted" and not module.check_mode:
            client.restore_experiment(experiment_id)
        if experiment_id is None and not module.check_mode:
            experiment_id = client.create_experiment(params["experiment_name"])
    except MlflowApiError as exc:
        fail_with_error(module, exc, f"find or create the experiment {params['experiment_name']!r}")
    checks["experiment"] = True
    result["experiment_id"] = experiment_id or ""
    if module.check_mode:
        return result

    payload = {"token": secrets.token_hex(8), "value": round(secrets.randbelow(10**6) / 1000, 3)}
    try:
        run = log_probe_run(client, experiment_id, payload)
    except Exception as exc:  # MLflow's own code writes an artifact root the server does not proxy
        fail_with_error(module, exc, "log a run (parameter, metric and artifact)")
    checks["log_run"] = True
    result.update(run_id=run.info.run_id, artifact_uri=run.info.artifact_uri)

    checks["read_params"] = run.data.params.get("probe_token") == payload["token"]
    checks["read_metrics"] = run.data.metrics.get("probe_value") == payload["value"]
    expected = json.dumps(payload, sort_keys=True).encode()
    try:
        checks["read_artifact"] = client.read_artifact(run.info.run_id, ARTIFACT_NAME) == expected
    except Exception as exc:  # the artifact path spans MLflow and S3; any failure is the finding
        fail_with_error(module, exc, "read the probe artifact back through the tracking server")

    if params["s3_endpoint_url"]:
        if BOTO3_IMPORT_ERROR is not None:
            module.fail_json(msg=missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
        key = artifact_key(run.info.artifact_uri, params["s3_prefix"])
        result["artifact_key"] = key
        try:
            stored = read_bucket_object(params, key)
        except Exception as exc:  # botocore raises many types; the message carries the cause
            module.fail_json(
                msg=f"The probe artifact is not readable in bucket {params['s3_bucket']!r} at {key!r} on "
                f"{params['s3_endpoint_url']}: {exc}. Check the server's --artifacts-destination and "
                "MinIO credentials.",
                **result,
            )
        checks["artifact_in_bucket"] = hashlib.sha256(stored).digest() == hashlib.sha256(expected).digest()

    try:
        result["deleted_runs"] = prune_probe_runs(client, experiment_id, params["keep_runs"])
    except MlflowApiError as exc:
        fail_with_error(module, exc, "delete older probe runs")
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_together=[("s3_endpoint_url", "s3_bucket", "s3_access_key", "s3_secret_key")],
        mutually_exclusive=[("token", "password")],
        supports_check_mode=True,
    )
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    result = run_probe(module)
    failed = sorted(name for name, passed in result["checks"].items() if not passed)
    if failed:
        module.fail_json(msg=f"The platform probe failed these checks: {', '.join(failed)}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
