#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Check one tier of the MLflow platform on this host and say, in plain words, what is wrong."""

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_health
short_description: Check one tier of the MLflow platform on this host (PostgreSQL, the S3 store, MLflow, the proxy)
version_added: 0.4.0
description:
  - Runs the runbook's health checks for one tier on the host it runs on and returns each check's result
    (V(ok), V(warn), V(fail) or V(skip)) with a plain-words detail and, for a failure, the playbook that fixes it.
  - O(tier=postgres) finds the cluster listening on O(port) with C(pg_lsclusters), checks its systemd unit,
    C(pg_isready), C(SELECT 1) in O(database) (through C(psql) as the cluster's owner, the runbook's own client),
    connections against C(max_connections), WAL archiving where it is on (C(archiving) - how many seconds the archive
    is behind, and whether the last attempt failed), and free disk space of the data directory. Under Patroni
    (O(patroni_url)) the unit is Patroni's, and it also checks etcd's majority and the cluster - one leader, every
    member running, no standby far behind.
  - O(tier=minio) checks the C(minio) unit, C(/minio/health/live), C(/minio/health/ready) and, with
    O(cluster=true), C(/minio/health/cluster) (write quorum of a distributed setup).
  - O(tier=seaweedfs) checks the C(seaweedfs) unit, the S3 gateway's C(/healthz) at O(url), and the servers inside
    C(weed server) on loopback, C(/readyz) of the master (a leader, not locked) at O(master_url), C(/healthz) of the
    volume server (heartbeating, no quarantined disk) at O(volume_url) and of the filer (its metadata store
    readable) at O(filer_url).
  - O(tier=mlflow) checks the C(mlflow) unit, C(/health), an authenticated search (which proves MLflow reaches its
    database), the artifact path end to end (a small object written, read back and deleted through MLflow's
    artifact proxy), and whether PostgreSQL and the artifact store accept the credentials in MLflow's own
    configuration files (so a wrong password is named even while MLflow cannot start).
  - O(tier=proxy) checks the C(haproxy) unit, C(/health) through the proxy's frontend at O(url) (answered by one of
    the tracking servers), and each server's state in O(backend), read through the admin socket O(stats_socket). It
    fails when no server takes requests and warns naming each server that is down, drained or in maintenance (a
    rolling restart that stopped half-way leaves one so).
  - For a failing service it returns the last journal lines, with secrets redacted.
  - The module does not fail when the platform is unhealthy; it reports. C(playbooks/health_check.yml) turns the
    reports into a summary and a non-zero exit.
options:
  tier:
    description: The tier to check on this host.
    type: str
    required: true
    choices: [postgres, minio, seaweedfs, mlflow, proxy]
  service:
    description:
      - systemd unit of the tier. Defaults to the cluster unit C(postgresql@<version>-<name>) found by
        C(pg_lsclusters) (C(patroni@<version>-<name>) with O(patroni_url)), C(minio), C(seaweedfs), C(mlflow), or
        C(haproxy).
    type: str
  patroni_url:
    description:
      - Patroni's REST API on this host, when Patroni runs PostgreSQL (O(tier=postgres), high availability). Adds the
        check C(patroni) - the cluster has one leader (fail otherwise), every member runs and no standby is more than
        O(max_lag_bytes) behind (warn otherwise) - and C(etcd) with O(etcd_url).
    type: str
    version_added: 0.7.0
  etcd_url:
    description: etcd's client URL on this host (O(patroni_url)); its C(/health) must say it has a majority.
    type: str
    version_added: 0.7.0
  max_lag_bytes:
    description: Warn when a standby is further behind the leader than this (O(patroni_url)).
    type: int
    default: 1048576
    version_added: 0.7.0
  port:
    description: PostgreSQL's port (O(tier=postgres)).
    type: int
    default: 5432
  database:
    description: Database the C(SELECT 1) check runs in (O(tier=postgres)); MLflow's tracking database.
    type: str
    default: mlflow_db
  url:
    description:
      - Base URL of the S3 endpoint (O(tier=minio), O(tier=seaweedfs)), of MLflow (O(tier=mlflow)) or of the proxy's
        frontend (O(tier=proxy)) as seen from this host.
    type: str
  master_url:
    description: Base URL of SeaweedFS's master server on this host (O(tier=seaweedfs)).
    type: str
    default: http://127.0.0.1:9333
  volume_url:
    description: Base URL of SeaweedFS's volume server on this host (O(tier=seaweedfs)).
    type: str
    default: http://127.0.0.1:8080
  filer_url:
    description: Base URL of SeaweedFS's filer on this host (O(tier=seaweedfs)).
    type: str
    default: http://127.0.0.1:8888
  stats_socket:
    description: HAProxy's admin socket, read with C(show stat) for each tracking server's state (O(tier=proxy)).
    type: path
    default: /run/haproxy/admin.sock
    version_added: 0.7.0
  backend:
    description: The HAProxy backend that holds the tracking servers (O(tier=proxy)).
    type: str
    default: mlflow
    version_added: 0.7.0
  username:
    description: MLflow user for the authenticated checks (O(tier=mlflow)); the admin sees every experiment.
    type: str
  password:
    description: Password of O(username).
    type: str
  env_file:
    description: MLflow's environment file, whose database URI and S3 keys are checked (O(tier=mlflow)).
    type: path
    default: /etc/mlflow/mlflow.env
  auth_config:
    description: MLflow's basic-auth configuration, whose C(database_uri) is checked (O(tier=mlflow)).
    type: path
    default: /etc/mlflow/basic_auth.ini
  s3_bucket:
    description: Artifact bucket MLflow's S3 keys must reach (O(tier=mlflow)).
    type: str
  artifact_check:
    description:
      - Write, read back and delete a small object under C(birtha-health/) through MLflow's artifact proxy
        (O(tier=mlflow)). Skipped in check mode, which writes nothing.
    type: bool
    default: true
  cluster:
    description: Also check C(/minio/health/cluster) (O(tier=minio)); for distributed MinIO.
    type: bool
    default: false
  connections_warn_percent:
    description: Warn when this share of C(max_connections) is in use (O(tier=postgres)).
    type: int
    default: 80
  archive_lag_warn_seconds:
    description:
      - Where the cluster archives its WAL (pgBackRest, C(platform_db_archiving)), the check C(archiving) warns when
        the oldest WAL segment waiting to be archived is older than this, or when the last attempt failed
        (C(pg_stat_archiver)) (O(tier=postgres)). Not reported where C(archive_mode) is off.
    type: int
    default: 300
    version_added: 0.7.0
  archive_lag_fail_seconds:
    description: The check C(archiving) fails when the archive is further behind than this (O(tier=postgres)).
    type: int
    default: 1800
    version_added: 0.7.0
  data_dirs:
    description: Directories whose filesystem must have free space (PostgreSQL's data directory is added itself).
    type: list
    elements: path
    default: []
  disk_warn_percent:
    description: Warn when a data directory's filesystem is this full.
    type: int
    default: 85
  disk_fail_percent:
    description: Fail when a data directory's filesystem is this full.
    type: int
    default: 95
  log_lines:
    description: Journal lines returned for a failing service; V(0) for none.
    type: int
    default: 15
  redact_values:
    description: Secret values masked in the returned journal lines (besides anything shaped like a secret).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds each network check waits.
    type: int
    default: 10
  ca_bundle:
    description:
      - CA certificate bundle that verifies the TLS certificate of O(url) (the store's or MLflow's), and of
        O(patroni_url) and O(etcd_url) when they are C(https).
      - If not set, the host's trust store is used, where the role C(birtha.mlflow.ssl_hardening) installs
        the platform's CA.
    type: path
  validate_certs:
    description:
      - Whether to verify the TLS certificates of O(url), O(patroni_url) and O(etcd_url). Turn off only for testing.
    type: bool
    default: true
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Every check runs as usual except the artifact round trip (an object written, read back and deleted
      through MLflow), which is reported as skipped.
  diff_mode:
    support: none
requirements:
  - systemd, and C(pg_lsclusters), C(pg_isready), C(psql) for O(tier=postgres) (Debian's PostgreSQL packages)
  - psycopg2 and boto3 for the credential checks of O(tier=mlflow) (MLflow's virtualenv has both); without
    them those two checks are skipped
notes:
  - Run it as root (C(become)); it reads MLflow's 0600 configuration files and runs C(psql) as the cluster's owner.
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check PostgreSQL on the database host
  birtha.mlflow.platform_health:
    tier: postgres
    port: 5432
  become: true
  register: postgres_health

- name: Check MLflow on the tracking host, with MLflow's own Python (it has psycopg2 and boto3)
  birtha.mlflow.platform_health:
    tier: mlflow
    url: http://127.0.0.1:5000
    username: admin
    password: "{{ vault_mlflow_admin_password }}"
    s3_bucket: mlflow-artifacts
  become: true
  vars:
    ansible_python_interpreter: /opt/mlflow/venv/bin/python
  register: mlflow_health

- name: Check the proxy in front of the tracking hosts, and each server behind it
  birtha.mlflow.platform_health:
    tier: proxy
    url: https://127.0.0.1:8000
    stats_socket: /run/haproxy/admin.sock
  become: true
  register: proxy_health

- name: Fail when anything is wrong
  ansible.builtin.assert:
    that: mlflow_health.healthy
    fail_msg: "{{ mlflow_health.checks | selectattr('status', 'eq', 'fail') | map(attribute='detail') | list }}"
"""

RETURN = r"""
healthy:
  description: No check failed (warnings allowed).
  returned: always
  type: bool
tier:
  description: The tier checked.
  returned: always
  type: str
checks:
  description: Every check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    tier:
      description: The tier.
      type: str
    check:
      description: Name of the check (service, patroni, etcd, pg_isready, select_1, connections, archiving, live, ready,
        cluster, master, volume, filer, health,
        api, artifacts, db_credentials, auth_db_credentials, s3_credentials, disk <path>).
      type: str
    status:
      description: V(ok), V(warn), V(fail) or V(skip).
      type: str
    detail:
      description: What was found, in plain words.
      type: str
    fix:
      description: What to run or do when the check is not ok.
      type: str
    data:
      description: Measured values (unit name, connection counts, disk figures, HTTP status).
      type: dict
  sample:
    - tier: postgres
      check: service
      status: fail
      detail: postgresql@15-main is stopped (inactive/dead)
      fix: ansible-playbook playbooks/troubleshoot_database_connection.yml (or emergency_outage.yml)
      data: {unit: postgresql@15-main}
journal:
  description: Last journal lines of the tier's service, redacted.
  returned: when a check of the tier failed and its service is installed
  type: list
  elements: str
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.health_checks import TIERS
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import FAIL, journal_tail
from ansible_collections.birtha.mlflow.plugins.module_utils.redact import Redactor


def argument_spec() -> dict[str, Any]:
    return {
        "tier": {"type": "str", "required": True, "choices": ["postgres", "minio", "seaweedfs", "mlflow", "proxy"]},
        "service": {"type": "str"},
        "patroni_url": {"type": "str"},
        "etcd_url": {"type": "str"},
        "max_lag_bytes": {"type": "int", "default": 1048576},
        "port": {"type": "int", "default": 5432},
        "database": {"type": "str", "default": "mlflow_db"},
        "url": {"type": "str"},
        "master_url": {"type": "str", "default": "http://127.0.0.1:9333"},
        "volume_url": {"type": "str", "default": "http://127.0.0.1:8080"},
        "filer_url": {"type": "str", "default": "http://127.0.0.1:8888"},
        "stats_socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
        "backend": {"type": "str", "default": "mlflow"},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "env_file": {"type": "path", "default": "/etc/mlflow/mlflow.env"},
        "auth_config": {"type": "path", "default": "/etc/mlflow/basic_auth.ini"},
        "s3_bucket": {"type": "str"},
        "artifact_check": {"type": "bool", "default": True},
        "cluster": {"type": "bool", "default": False},
        "connections_warn_percent": {"type": "int", "default": 80},
        "archive_lag_warn_seconds": {"type": "int", "default": 300},
        "archive_lag_fail_seconds": {"type": "int", "default": 1800},
        "data_dirs": {"type": "list", "elements": "path", "default": []},
        "disk_warn_percent": {"type": "int", "default": 85},
        "disk_fail_percent": {"type": "int", "default": 95},
        "log_lines": {"type": "int", "default": 15},
        "redact_values": {"type": "list", "elements": "str", "default": [], "no_log": True},
        "timeout": {"type": "int", "default": 10},
        "ca_bundle": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    checks, unit = TIERS[params["tier"]](module, params)
    result: dict[str, Any] = {
        "changed": False,
        "tier": params["tier"],
        "healthy": all(check.status != FAIL for check in checks),
        "checks": [check.as_dict() for check in checks],
    }
    if unit and not result["healthy"]:
        redactor = Redactor(params["redact_values"])
        result["journal"] = [redactor(line) for line in journal_tail(module.run_command, unit, params["log_lines"])]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
