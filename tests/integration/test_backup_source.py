"""Which database host a backup of a cluster dumps from (postgres_server entry point backup_source).

Renders the role's own expressions (roles/postgres_server/vars/main.yml) with ansible-playbook on this machine,
given /cluster answers shaped as Patroni 3.0.2 gives them: the molecule/ha scenario only ever sees two healthy
standbys, so the choices among lagging, stopped, unknown and unreachable members are proven here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE_VARS = REPO_ROOT / "roles" / "postgres_server" / "vars" / "main.yml"
MB = 1048576


def member(name: str, role: str, lag: object = 0, state: str = "running") -> dict:
    entry = {"name": name, "role": role, "state": state, "host": name, "port": 5432}
    if role != "leader":
        entry["lag"] = lag
    return entry


def chosen(tmp_path: Path, members: list[dict] | None, unreachable: tuple[str, ...] = (), max_lag_mb: int = 16) -> str:
    """The host __postgres_server_backup_source names, db1 being the primary."""
    hosts = {
        name: {
            "ansible_connection": "local",
            "__postgres_server_primary_probe": {"unreachable": True} if name in unreachable else {"status": 503},
        }
        for name in ("db1", "db2", "db3")
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    playbook = [
        {
            "hosts": "all",
            "gather_facts": False,
            "vars_files": [str(ROLE_VARS)],
            "vars": {
                # None: the task reading /cluster was skipped.
                "__postgres_server_backup_cluster": {"skipped": True}
                if members is None
                else {"json": {"members": members}},
                "postgres_server_backup_max_lag_mb": max_lag_mb,
            },
            "tasks": [
                {"ansible.builtin.add_host": {"name": "db1", "groups": "mlflow_db_primary"}, "run_once": True},
                {
                    "ansible.builtin.debug": {"msg": "SOURCE={{ __postgres_server_backup_source | trim }}"},
                    "run_once": True,
                },
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook))
    result = subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
        capture_output=True,
        text=True,
        check=False,
        env={"ANSIBLE_STDOUT_CALLBACK": "json", "PATH": str(Path(REPO_ROOT / ".venv" / "bin")) + ":/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tasks = json.loads(result.stdout)["plays"][0]["tasks"]
    message = next(host["msg"] for host in tasks[-1]["hosts"].values() if "msg" in host)
    return message.removeprefix("SOURCE=")


@pytest.mark.parametrize(
    ("members", "unreachable", "expected"),
    [
        # An asynchronous standby before the synchronous one (whose held-up replay would hold up commits).
        ([member("db1", "leader"), member("db2", "sync_standby"), member("db3", "replica", 4096)], (), "db3"),
        # Among equals, the least behind.
        ([member("db1", "leader"), member("db2", "replica", 8 * MB), member("db3", "replica", 4096)], (), "db3"),
        # Over the limit, lag unknown, stopped: none qualifies but the synchronous standby.
        ([member("db1", "leader"), member("db2", "sync_standby"), member("db3", "replica", 17 * MB)], (), "db2"),
        ([member("db1", "leader"), member("db2", "replica", "unknown"), member("db3", "sync_standby")], (), "db3"),
        ([member("db1", "leader"), member("db2", "replica", 0, "stopped"), member("db3", "sync_standby")], (), "db3"),
        # A standby this run cannot reach is passed over even though Patroni says it runs.
        ([member("db1", "leader"), member("db2", "sync_standby"), member("db3", "replica")], ("db3",), "db2"),
        # No standby at all: the primary.
        (
            [member("db1", "leader"), member("db2", "replica", 20 * MB), member("db3", "replica", 0, "stopped")],
            (),
            "db1",
        ),
    ],
)
def test_the_dump_reads_the_best_standby_else_the_primary(tmp_path, members, unreachable, expected):
    assert chosen(tmp_path, members, unreachable) == expected


def test_no_standby_answer_means_the_primary(tmp_path):
    # The task reading /cluster skipped (postgres_server_backup_from_standby false, or one database host).
    assert chosen(tmp_path, None) == "db1"
