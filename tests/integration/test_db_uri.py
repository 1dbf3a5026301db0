"""MLflow's database URIs as mlflow_server renders them: one server unchanged, several in libpq's multi-host form.

Renders the role's own defaults and vars with ansible-playbook against local aliases (nothing runs on a host).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2.extensions
import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.health_checks import libpq_params

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES = REPO_ROOT / "roles"
PLAY = """
- name: Render MLflow's database URIs
  hosts: tracking
  gather_facts: false
  vars_files:
    - {roles}/platform/defaults/main.yml
    - {roles}/mlflow_server/defaults/main.yml
    - {roles}/mlflow_server/vars/main.yml
  tasks:
    - name: Show them
      ansible.builtin.debug:
        msg: "{{{{ {{'backend': __mlflow_server_backend_uri, 'auth': __mlflow_server_auth_db_uri}} }}}}"
"""
# TLS on, without the certificates a real deployment issues (only the URIs are rendered).
TLS = {"platform_tls": True, "platform_host_tls_cert": "", "mlflow_server_tls_cert": ""}


def render(tmp_path: Path, db_hosts: dict[str, dict[str, str]], extra: dict[str, object]) -> dict[str, str]:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "children": {
                "mlflow_db": {"hosts": db_hosts},
                "tracking": {"hosts": {"tracking": local}},
                "mlflow_tracking": {"hosts": {"tracking": {}}},
                "mlflow_artifacts": {"hosts": {"tracking": {}}},
            }
        }
    }
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(PLAY.format(roles=ROLES))
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps({"mlflow_server_db_password": "p@ss/w0rd", **extra}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(tmp_path / "hosts.json"),
            str(tmp_path / "play.yml"),
            "-e",
            f"@{extra_file}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report["plays"][0]["tasks"][0]["hosts"]["tracking"]["msg"]


def test_one_database_server_keeps_todays_uri(tmp_path):
    uris = render(tmp_path, {"db1": {"ansible_host": "10.0.0.5"}}, {})
    assert uris["backend"] == "postgresql+psycopg2://mlflow:p%40ss%2Fw0rd@10.0.0.5:5432/mlflow_db"
    assert uris["auth"] == "postgresql+psycopg2://mlflow:p%40ss%2Fw0rd@10.0.0.5:5432/mlflow_auth"


def test_tls_adds_verification_to_one_server(tmp_path):
    ca = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"
    uris = render(tmp_path, {"db1": {}}, TLS)
    base = "postgresql+psycopg2://mlflow:p%40ss%2Fw0rd@db1:5432/mlflow_db"
    assert uris["backend"] == f"{base}?sslmode=verify-full&sslrootcert={ca}"


def test_several_servers_give_libpqs_multi_host_form(tmp_path):
    hosts = {"db1": {"ansible_host": "10.0.0.1"}, "db2": {}, "db3": {"ansible_host": "10.0.0.3"}}
    uris = render(tmp_path, hosts, {"platform_db_ha": True})
    assert uris["backend"] == (
        "postgresql+psycopg2://mlflow:p%40ss%2Fw0rd@/mlflow_db?host=10.0.0.1:5432&host=db2:5432&host=10.0.0.3:5432"
        "&target_session_attrs=read-write&connect_timeout=3"
    )
    params = libpq_params(uris["auth"])
    expected = ("10.0.0.1,db2,10.0.0.3", "mlflow_auth", "p@ss/w0rd")
    assert (params["host"], params["dbname"], params["password"]) == expected
    # libpq's own parser takes every setting the URI carries.
    psycopg2.extensions.parse_dsn(psycopg2.extensions.make_dsn(**params))


@pytest.mark.parametrize("tls", [False, True])
def test_an_explicit_server_list_is_used_as_given(tmp_path, tls):
    extra = {"mlflow_server_db_hosts": ["a.example", "b.example"], "mlflow_server_db_port": 6432}
    if tls:
        extra |= TLS
    uri = render(tmp_path, {"db1": {}}, extra)["backend"]
    assert uri.startswith(
        "postgresql+psycopg2://mlflow:p%40ss%2Fw0rd@/mlflow_db?host=a.example:6432&host=b.example:6432&"
    )
    assert uri.endswith("&sslrootcert=/usr/local/share/ca-certificates/birtha-mlflow-ca.crt") == tls
