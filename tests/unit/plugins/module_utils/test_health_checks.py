"""platform_health's HTTP checks against a real server on loopback: what each answer turns into."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import psycopg2.extensions
import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.health_checks import (
    api_check,
    archiving_verdict,
    artifact_check,
    database_uri_check,
    endpoint_check,
    libpq_params,
    patroni_checks,
    patroni_cluster_check,
    proxy_checks,
    seaweedfs_checks,
    server_states,
    servers_check,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import FAIL, OK, SKIP, WARN
from ansible_collections.birtha.mlflow.tests.unit.plugins.module_utils.loopback import serve


def params(**overrides: object) -> dict[str, object]:
    return {"username": "admin", "password": "s3cret-s3cret", "timeout": 5, "retries": 0, **overrides}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_health_endpoint_is_asked_without_credentials():
    with serve([(200, b"OK")]) as server:
        check = endpoint_check("mlflow", "health", server.url + "/health", params(), "fix it")
        assert server.seen[0]["authorization"] is None
    assert (check.status, check.fix) == (OK, "")


def test_an_error_answer_fails_with_what_the_server_said_and_the_fix():
    with serve([(503, b"database unavailable")]) as server:
        check = endpoint_check("mlflow", "health", server.url + "/health", params(), "run troubleshoot")
    assert (check.status, check.fix, check.data["http_status"]) == (FAIL, "run troubleshoot", 503)
    assert "answered 503: database unavailable" in check.detail


def test_no_answer_is_said_on_one_line():
    url = f"http://127.0.0.1:{free_port()}/health"
    check = endpoint_check("minio", "health", url, params(), "start MinIO")
    assert check.status == FAIL and "does not answer" in check.detail
    assert "\n" not in check.detail and "refused" in check.detail.lower()


def test_the_api_check_is_an_authenticated_search_and_names_a_wrong_password():
    denied = json.dumps({"error_code": "UNAUTHENTICATED"}).encode()
    with serve([(200, b'{"experiments": []}'), (401, denied)]) as server:
        passed = api_check(server.url, params())
        refused = api_check(server.url, params(username="ops"))
        first = server.seen[0]
    assert (first["method"], first["path"]) == ("POST", "/api/2.0/mlflow/experiments/search")
    assert str(first["authorization"]).startswith("Basic ")
    assert passed.status == OK
    assert refused.status == FAIL and "user ops (401)" in refused.detail


def test_the_artifact_check_writes_reads_back_and_deletes_one_object():
    with serve([(200, b"{}"), (200, b"something else"), (200, b"{}")]) as server:
        check = artifact_check(server.url, params(), check_mode=False)
        methods = [seen["method"] for seen in server.seen]
        written = server.seen[0]["body"]
    assert methods == ["PUT", "GET"]  # a wrong read-back stops before the delete
    assert check.status == FAIL and "differs" in check.detail
    assert written.startswith(b"birtha health check ")


def test_the_artifact_check_names_the_step_that_failed_and_writes_nothing_in_check_mode():
    with serve([(403, b"Permission denied")]) as server:
        failed = artifact_check(server.url, params(), check_mode=False)
    assert (failed.status, failed.data["step"], failed.data["http_status"]) == (FAIL, "write", 403)
    assert artifact_check("http://127.0.0.1:9", params(), check_mode=True).status == SKIP


class RunningUnit:
    """Stands in for AnsibleModule: systemctl says the unit runs (the real systemctl is not what is tested here)."""

    def run_command(self, args: list[str], **_kwargs: object) -> tuple[int, str, str]:
        return 0, "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nNRestarts=0\n", ""


def test_seaweedfs_checks_each_server_and_says_what_a_failing_one_means():
    # Answers in request order: the S3 gateway, the master (no leader yet), the volume server, the filer.
    with serve([(200, b""), (503, b""), (200, b""), (200, b"")]) as server:
        checks, unit = seaweedfs_checks(
            RunningUnit(),
            params(
                service=None,
                url=server.url,
                master_url=server.url,
                volume_url=server.url,
                filer_url=server.url,
                data_dirs=[],
                disk_warn_percent=85,
                disk_fail_percent=95,
            ),
        )
        paths = [seen["path"] for seen in server.seen]
    assert paths == ["/healthz", "/readyz", "/healthz", "/healthz"]
    assert unit == "seaweedfs"
    assert [(c.check, c.status) for c in checks] == [
        ("service", OK),
        ("live", OK),
        ("master", FAIL),
        ("volume", OK),
        ("filer", OK),
    ]
    assert "answered 503" in checks[2].detail and "no leader" in checks[2].detail
    assert all(c.tier == "seaweedfs" for c in checks)


# HAProxy 2.6's `show stat` header and rows, cut after the status column (the 18th); the reader takes that column.
STAT_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status"


def stat_row(proxy: str, server: str, status: str) -> str:
    return ",".join([proxy, server] + ["0"] * 15 + [status])


@contextlib.contextmanager
def stats_socket(tmp_path, text: str) -> Iterator[tuple[str, list[bytes]]]:
    """A unix socket that answers one command per connection, as HAProxy's admin socket does; records commands."""
    path, seen = str(tmp_path / "admin.sock"), []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer() -> None:
        conn, _address = server.accept()
        with conn:
            seen.append(conn.recv(1024))
            conn.sendall(text.encode())

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield path, seen
    finally:
        thread.join(5)
        server.close()


def proxy_params(url: str, socket_path: str) -> dict[str, object]:
    return params(service=None, url=url, stats_socket=socket_path, backend="mlflow")


def test_the_proxy_tier_reads_each_server_through_the_admin_socket_and_warns_naming_one_out(tmp_path):
    stats = "\n".join(
        [
            STAT_HEADER,
            stat_row("mlflow", "FRONTEND", "OPEN"),
            stat_row("mlflow", "app1", "UP"),
            stat_row("mlflow", "app2", "MAINT"),
            stat_row("mlflow", "BACKEND", "UP"),
            stat_row("stats", "app9", "DOWN"),
        ]
    )
    with serve([(200, b"OK")]) as server, stats_socket(tmp_path, stats) as (path, seen):
        checks, unit = proxy_checks(RunningUnit(), proxy_params(server.url, path))
        asked = server.seen[0]["path"]
    assert (unit, asked, seen) == ("haproxy", "/health", [b"show stat\n"])
    assert [(c.tier, c.check, c.status) for c in checks] == [
        ("proxy", "service", OK),
        ("proxy", "health", OK),
        ("proxy", "servers", WARN),
    ]
    # Another backend's server is not one of MLflow's.
    assert checks[2].data["servers"] == {"app1": "UP", "app2": "MAINT"}
    assert "1 of 2" in checks[2].detail and "app2 MAINT" in checks[2].detail
    assert "rolling_restart.yml" in checks[2].fix


def test_the_proxy_tier_fails_when_no_server_is_up_or_the_socket_does_not_answer(tmp_path):
    stats = "\n".join([STAT_HEADER, stat_row("mlflow", "app1", "DOWN"), stat_row("mlflow", "app2", "UP 1/2")])
    with serve([(503, b"No server is available")]) as server, stats_socket(tmp_path, stats) as (path, _seen):
        checks, _unit = proxy_checks(RunningUnit(), proxy_params(server.url, path))
    assert [(c.check, c.status) for c in checks] == [("service", OK), ("health", FAIL), ("servers", FAIL)]
    assert "no MLflow server takes requests" in checks[2].detail and "app2 UP 1/2" in checks[2].detail
    with serve([(200, b"OK")]) as server:
        checks, _unit = proxy_checks(RunningUnit(), proxy_params(server.url, str(tmp_path / "missing.sock")))
    assert checks[2].status == FAIL and "missing.sock does not answer" in checks[2].detail


def test_every_server_up_is_ok_and_a_backend_without_servers_fails():
    stats = "\n".join([STAT_HEADER, stat_row("mlflow", "app1", "UP"), stat_row("mlflow", "app2", "UP")])
    passed = servers_check(server_states(stats, "mlflow"), "mlflow")
    assert (passed.status, passed.detail) == (OK, "all 2 MLflow servers are UP: app1, app2")
    empty = servers_check(server_states(stats, "other"), "other")
    assert empty.status == FAIL and "no servers in backend other" in empty.detail


def test_a_single_server_uri_gives_its_host_and_port():
    uri = "postgresql+psycopg2://mlflow:p%40ss%2Fw@127.0.0.1:5433/mlflow_db?sslmode=verify-full&sslrootcert=/ca.crt"
    assert libpq_params(uri) == {
        "host": "127.0.0.1",
        "port": "5433",
        "user": "mlflow",
        "password": "p@ss/w",
        "dbname": "mlflow_db",
        "sslmode": "verify-full",
        "sslrootcert": "/ca.crt",
    }


def test_a_multi_host_uri_gives_libpqs_host_and_port_lists():
    uri = (
        "postgresql+psycopg2://mlflow:pw@/mlflow_db?host=10.0.0.1:5432&host=db2:6432&host=db3"
        "&target_session_attrs=read-write&connect_timeout=3"
    )
    params = libpq_params(uri)
    assert (params["host"], params["port"]) == ("10.0.0.1,db2,db3", "5432,6432,5432")
    assert params["target_session_attrs"] == "read-write"
    # The check's own timeout applies, not the URI's.
    assert "connect_timeout" not in params
    # libpq's own parser accepts every keyword.
    assert "target_session_attrs=read-write" in psycopg2.extensions.make_dsn(**params)


def test_an_invalid_port_is_an_error():
    with pytest.raises(ValueError):
        libpq_params("postgresql+psycopg2://mlflow:pw@db:notaport/mlflow_db")


def test_no_server_of_several_answering_names_them_all():
    first, second = free_port(), free_port()
    uri = f"postgresql+psycopg2://mlflow:Zq9-s3cret@/mlflow_db?host=127.0.0.1:{first}&host=127.0.0.1:{second}"
    check = database_uri_check("db_credentials", uri, "mlflow.env", 2)
    assert check.status == FAIL and check.data["cause"] == "unreachable"
    assert check.data["target"] == f"127.0.0.1:{first},127.0.0.1:{second}/mlflow_db"
    assert "Zq9-s3cret" not in check.detail


def member(name: str, role: str, state: str = "running", lag: object = 0) -> dict[str, object]:
    """A member as Patroni 3.0's GET /cluster lists it (the leader has no lag)."""
    return {"name": name, "role": role, "state": state, **({} if role == "leader" else {"lag": lag})}


def test_a_healthy_cluster_names_its_leader_and_each_standby():
    view = {"members": [member("db1", "leader"), member("db2", "sync_standby"), member("db3", "replica", lag=512)]}
    check = patroni_cluster_check(view, 1 << 20)
    assert (check.check, check.status, check.data["leader"]) == ("patroni", OK, "db1")
    assert check.detail == "db1 leads; db2 (sync_standby, running, lag 0 bytes), db3 (replica, running, lag 512 bytes)"


def test_no_leader_fails_and_a_stopped_far_or_unmeasured_standby_warns():
    leaderless = patroni_cluster_check({"members": [member("db2", "replica"), member("db3", "replica")]}, 1 << 20)
    assert leaderless.status == FAIL and "no leader" in leaderless.detail and leaderless.data["leader"] is None
    view = {
        "members": [
            member("db1", "leader"),
            member("db2", "replica", state="stopped", lag="unknown"),
            member("db3", "replica", lag=5 << 20),
        ]
    }
    check = patroni_cluster_check(view, 1 << 20)
    assert check.status == WARN
    assert "db2 (replica, stopped, lag unknown) is not running" in check.detail
    assert "db3 (replica, running, lag 5242880 bytes) is more than 1048576 bytes behind" in check.detail
    # A member already named as not running is not named again for its lag.
    assert check.detail.count("db2") == 1


def test_patroni_checks_ask_etcd_then_the_cluster_without_credentials():
    view = {"members": [member("db1", "leader"), member("db2", "replica")]}
    with serve([(200, b'{"health":"true"}'), (200, json.dumps(view).encode())]) as server:
        checks = patroni_checks(params(etcd_url=server.url, patroni_url=server.url, max_lag_bytes=1 << 20))
        assert [seen["path"] for seen in server.seen] == ["/health", "/cluster"]
        assert all(seen["authorization"] is None for seen in server.seen)
    assert [(c.check, c.status) for c in checks] == [("etcd", OK), ("patroni", OK)]


def test_etcd_without_a_majority_and_a_silent_patroni_fail():
    with serve([(503, b'{"health":"false"}')]) as server:
        checks = patroni_checks(
            params(etcd_url=server.url, patroni_url=f"http://127.0.0.1:{free_port()}", max_lag_bytes=1 << 20)
        )
    assert [(c.check, c.status) for c in checks] == [("etcd", FAIL), ("patroni", FAIL)]
    assert "no majority" in checks[0].detail
    assert "does not answer" in checks[1].detail and "\n" not in checks[1].detail


ARCHIVER = {"mode": "on", "failed_count": 0, "last_archived_wal": "000000010000000000000007", "failing": False}


def test_an_archive_keeping_up_is_ok_and_says_how_far_behind():
    status, detail = archiving_verdict({**ARCHIVER, "lag_seconds": 12}, 300, 1800)
    assert (status, detail) == (OK, "WAL archive 12 s behind; last archived 000000010000000000000007")


def test_a_failing_archiver_warns_naming_the_segment_even_before_it_falls_behind():
    failing = {
        **ARCHIVER,
        "lag_seconds": 0,
        "failing": True,
        "failed_count": 3,
        "last_failed_wal": "000000010000000000000008",
        "last_failed_time": "2026-12-07T18:00:00Z",
    }
    status, detail = archiving_verdict(failing, 300, 1800)
    assert status == WARN
    assert "the last attempt failed (000000010000000000000008 at 2026-12-07T18:00:00Z, 3 failures" in detail


def test_an_archive_behind_the_levels_warns_then_fails():
    assert archiving_verdict({**ARCHIVER, "lag_seconds": 301}, 300, 1800)[0] == WARN
    status, detail = archiving_verdict({**ARCHIVER, "lag_seconds": 1801}, 300, 1800)
    assert status == FAIL and "more than 1800 s" in detail
