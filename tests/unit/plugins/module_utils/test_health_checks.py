"""platform_health's HTTP checks against a real server on loopback: what each answer turns into."""

from __future__ import annotations

import json
import socket

from ansible_collections.birtha.mlflow.plugins.module_utils.health_checks import (
    api_check,
    artifact_check,
    endpoint_check,
    seaweedfs_checks,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import FAIL, OK, SKIP
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
