# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Connection options shared by every birtha.mlflow module that talks to the S3 artifact store."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  endpoint_url:
    description: S3 endpoint of the artifact store, for example V(http://127.0.0.1:9000).
    type: str
    required: true
  access_key:
    description: Access key.
    type: str
    required: true
  secret_key:
    description: Secret key for O(access_key).
    type: str
    required: true
  bucket:
    description: Bucket.
    type: str
    required: true
  region:
    description: Region name sent with the requests (MinIO accepts any).
    type: str
    default: us-east-1
  ca_bundle:
    description: CA bundle that verifies the endpoint's TLS certificate.
    type: path
  validate_certs:
    description: Whether to verify the endpoint's TLS certificate.
    type: bool
    default: true
requirements:
  - boto3 on the host that runs the module
notes:
  - Set the S3 options once for all modules with C(module_defaults) and the action group
    C(group/birtha.mlflow.s3).
"""
