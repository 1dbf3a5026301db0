# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Connection options shared by every birtha.mlflow module that talks to the MLflow API."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  tracking_uri:
    description:
      - URL of the MLflow tracking server, for example V(http://mlflow.example.com:5000).
      - If not set, the E(MLFLOW_TRACKING_URI) environment variable is used.
    type: str
    required: true
  username:
    description:
      - User name for MLflow's basic-auth app.
      - If not set, the E(MLFLOW_TRACKING_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - Password for O(username).
      - If not set, the E(MLFLOW_TRACKING_PASSWORD) environment variable is used.
    type: str
  token:
    description:
      - Bearer token, an alternative to O(username) and O(password).
      - If not set, the E(MLFLOW_TRACKING_TOKEN) environment variable is used.
    type: str
  ca_bundle:
    description:
      - CA certificate bundle used to verify the tracking server's TLS certificate.
      - If not set, the E(MLFLOW_TRACKING_SERVER_CERT_PATH) environment variable is used.
    type: path
  validate_certs:
    description:
      - Whether to verify the tracking server's TLS certificate. Turn off only for testing.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each HTTP request to the tracking server.
    type: int
    default: 30
  retries:
    description:
      - How many times a failed request is sent again, waiting 1, 2, 4... seconds between tries. Kept low so
        that a server that does not answer fails the task quickly.
      - Reads (and searches) are retried after a connection failure or a 502, 503 or 504 answer; a write only
        when no server received it, so that a create is never done twice. A request that timed out after it
        was sent is not sent again, since the server is there but hung. A redirect is not followed; the task
        fails and names the address to use.
      - Where MLflow's own code runs (M(birtha.mlflow.mlflow_model_check) loading a model, an artifact root
        the server does not proxy), MLflow's client takes this count but applies its own rule.
    type: int
    default: 2
requirements:
  - Nothing beyond ansible-core for the calls to MLflow's REST API. M(birtha.mlflow.mlflow_model_check)
    needs mlflow where it runs; artifact roots the tracking server does not proxy (C(mlflow server)
    without C(--serve-artifacts)) need mlflow-skinny, and boto3 for S3, where the module runs.
notes:
  - Set the connection options once for all modules with C(module_defaults) and the action group
    C(group/birtha.mlflow.mlflow).
"""

    # What check_mode and diff_mode mean, for every module; each module says in its details what it does in them.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode (C(--check)), where it predicts C(changed) and changes nothing on the target.
  diff_mode:
    description: Returns what changed (in check mode, what would change) as C(diff) when run with C(--diff).
"""

    # Attributes of the read-only *_info modules (with ATTRIBUTES).
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: none
"""

    # The same connection options for the lookup plugins, which read them from variables' environment.
    LOOKUP = r"""
options:
  tracking_uri:
    description: URL of the MLflow tracking server.
    type: str
    env: [{name: MLFLOW_TRACKING_URI}]
  username:
    description: User name for MLflow's basic-auth app.
    type: str
    env: [{name: MLFLOW_TRACKING_USERNAME}]
  password:
    description: Password for O(username).
    type: str
    env: [{name: MLFLOW_TRACKING_PASSWORD}]
  token:
    description: Bearer token, an alternative to O(username) and O(password).
    type: str
    env: [{name: MLFLOW_TRACKING_TOKEN}]
  ca_bundle:
    description: CA certificate bundle used to verify the tracking server's TLS certificate.
    type: path
    env: [{name: MLFLOW_TRACKING_SERVER_CERT_PATH}]
  validate_certs:
    description: Whether to verify the tracking server's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each HTTP request to the tracking server.
    type: int
    default: 30
  retries:
    description:
      - How many times a failed read is sent again (after no answer, or a 502, 503 or 504), waiting 1, 2, 4...
        seconds.
    type: int
    default: 2
"""

    # Options of the modules that read or write backup files.
    BACKUP_ENCODING = r"""
options:
  compress:
    description: The file is (to be) compressed with zstd.
    type: bool
    default: true
  zstd_level:
    description: zstd compression level when writing (1 fastest, 19 smallest).
    type: int
    default: 3
  zstd_threads:
    description: zstd worker threads when writing; V(0) uses every core.
    type: int
    default: 0
  passphrase:
    description:
      - gpg AES256 passphrase the file is (to be) encrypted with. Without it the file is not encrypted.
      - It reaches gpg through a pipe, never a command line or a file.
    type: str
"""
