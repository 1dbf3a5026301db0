"""The proxy (role mlflow_proxy) in front of three tracking servers on the hardened ha scenario: HAProxy on
birtha-ha-proxy, MLflow on birtha-ha1..3 (each also a database and store member). A bounded client
(files/proxy_load.py) on birtha-ha1 writes runs through the proxy from several threads while a server is killed and
while the servers are restarted one at a time (playbooks/rolling_restart.yml). Each fault's failed requests, client
retries and lost runs are printed (the scenario's log keeps them)."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from runbook_harness import PLAYBOOKS, other_host

from ansible_collections.birtha.mlflow.plugins.module_utils.health_checks import server_states as parse_states

HERE = Path(__file__).resolve().parent
LOAD = HERE / "files" / "proxy_load.py"
LOAD_ON_HOST = "/root/proxy_load.py"
PROXY_HOST = "birtha-ha-proxy"
SERVERS = ["birtha-ha1", "birtha-ha2", "birtha-ha3"]
# The client runs on a tracking host (it reads the admin's login there); the faults hit another.
CLIENT, VICTIM = SERVERS[0], SERVERS[-1]
ALL_UP = dict.fromkeys(SERVERS, "UP")
PROXY_URL = f"https://{PROXY_HOST}:8000"
CA_FILE = "/usr/local/share/ca-certificates/birtha-mlflow-ca.crt"
SOCKET = "/run/haproxy/admin.sock"

pytestmark = pytest.mark.skipif(
    os.environ.get("MOLECULE_SCENARIO_NAME") != "ha",
    reason="needs the ha scenario's proxy and three tracking hosts",
)

testinfra_hosts = [f"ansible://{CLIENT}"]


def admin(proxy, command: str) -> str:
    """One command through the proxy's admin socket, as root on the proxy host; its answer."""
    script = (
        "import socket; s = socket.socket(socket.AF_UNIX); s.connect('" + SOCKET + "'); "
        "s.sendall(b'" + command + "\\n'); data = b''\n"
        "while chunk := s.recv(65536): data += chunk\n"
        "print(data.decode())"
    )
    result = proxy.run(f'python3 -c "{script}"')
    assert result.rc == 0, result.stderr
    return result.stdout


def server_states(proxy) -> dict[str, str]:
    """Each tracking server's state in the proxy's backend, read through the admin socket."""
    return parse_states(admin(proxy, "show stat"), "mlflow")


def wait_state(proxy, server: str, wanted, seconds: int) -> dict[str, str]:
    """The servers' states once `server`'s satisfies wanted, or after about `seconds`."""
    deadline = time.monotonic() + seconds
    states = server_states(proxy)
    while not wanted(states.get(server, "")) and time.monotonic() < deadline:
        time.sleep(0.5)
        states = server_states(proxy)
    return states


def wait_all_up(proxy, seconds: int = 60) -> dict[str, str]:
    for _second in range(seconds):
        states = server_states(proxy)
        if set(states.values()) == {"UP"}:
            return states
        time.sleep(1)
    return server_states(proxy)


def start_load(host, seconds: int, threads: int = 4) -> tuple[str, str]:
    """The client in the background on the host; its result file and stop file."""
    host.ansible("ansible.builtin.copy", f"src={LOAD} dest={LOAD_ON_HOST} mode=0700", check=False)
    run = uuid.uuid4().hex[:8]
    output, stop = f"/root/proxy-load-{run}.json", f"/root/proxy-load-{run}.stop"
    started = host.run(
        f"nohup python3 {LOAD_ON_HOST} {PROXY_URL} {seconds} {threads} {output} {stop} >/dev/null 2>&1 &"
    )
    assert started.rc == 0, started.stderr
    return output, stop


def load_result(host, output: str, stop: str, wait: int = 180) -> dict:
    host.run(f"touch {stop}")
    for _second in range(wait):
        if host.file(output).exists:
            return json.loads(host.file(output).content_string)
        time.sleep(1)
    raise AssertionError(f"the load client wrote no result to {output} within {wait}s")


def test_proxy_serves_mlflow_over_tls_only_and_checks_every_server(host):
    proxy = other_host(host, PROXY_HOST)
    assert host.run(f"curl -sf --cacert {CA_FILE} -o /dev/null {PROXY_URL}/health").rc == 0
    anonymous = host.run(
        f"curl -s --cacert {CA_FILE} -o /dev/null -w '%{{http_code}}' {PROXY_URL}/api/2.0/mlflow/experiments/search"
    )
    assert anonymous.stdout == "401"
    # Plain HTTP on the proxy's port gets no MLflow answer.
    plain = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://{PROXY_HOST}:8000/health")
    assert plain.stdout != "200"
    assert wait_all_up(proxy) == ALL_UP
    socket_file = proxy.file(SOCKET)
    assert (socket_file.user, socket_file.group, socket_file.mode) == ("root", "haproxy", 0o660)


def test_the_health_check_names_a_server_the_proxy_does_not_use(host, run_playbook):
    """A server left in maintenance (a rolling restart stopped half-way) degrades the report, naming it."""
    proxy = other_host(host, PROXY_HOST)
    admin(proxy, f"disable server mlflow/{VICTIM}")
    try:
        result = run_playbook(PLAYBOOKS / "health_check.yml", {"platform_health_artifact_check": False})
    finally:
        admin(proxy, f"enable server mlflow/{VICTIM}")
    assert result.rc == 0, result.stdout[-4000:]
    report = json.loads(Path(result.stat("birtha_health")["report"]).read_text())
    checked = {c["check"]: c for c in report["checks"] if c["tier"] == "proxy" and c["host"] == PROXY_HOST}
    assert {name: c["status"] for name, c in checked.items()} == {"service": "ok", "health": "ok", "servers": "warn"}
    assert checked["servers"]["data"]["servers"] == {**ALL_UP, VICTIM: "MAINT"}
    assert report["status"] == "degraded", report["summary"]
    assert wait_all_up(proxy) == ALL_UP


def report(capsys, line: str) -> None:
    """Into the scenario's log even when the test passes (pytest keeps a passing test's output otherwise)."""
    with capsys.disabled():
        print(f"\n[proxy under load] {line}")


def test_a_killed_server_costs_no_request_the_clients_retry_does_not_absorb(host, capsys):
    proxy, victim = other_host(host, PROXY_HOST), other_host(host, VICTIM)
    output, stop = start_load(host, seconds=120)
    time.sleep(8)
    assert victim.run("systemctl kill --signal=KILL mlflow").rc == 0
    killed = time.monotonic()
    # Out after two failed checks 2 s apart; a starved machine may run them late, so poll rather than sleep a guess.
    states = wait_state(proxy, VICTIM, lambda status: status != "UP", 30)
    assert states[VICTIM] != "UP", states
    # systemd starts it again (Restart=on-failure); the proxy takes it back after its checks pass.
    assert wait_all_up(proxy, 120) == ALL_UP
    recovered = time.monotonic() - killed
    result = load_result(host, output, stop)
    report(capsys, f"MLflow killed on {VICTIM}: back in the proxy after {recovered:.0f}s; load {result}")
    assert result["acknowledged_runs"] > 0, result
    assert result["failed"] == 0, result
    assert result["lost_runs"] == 0, result


def test_rolling_restart_under_load_fails_no_request(host, run_playbook, capsys):
    proxy = other_host(host, PROXY_HOST)
    pids = {name: other_host(host, name).run("systemctl show mlflow -p MainPID --value").stdout for name in SERVERS}
    output, stop = start_load(host, seconds=600)
    time.sleep(5)
    started = time.monotonic()
    restarted = run_playbook(PLAYBOOKS / "rolling_restart.yml")
    seconds = time.monotonic() - started
    result = load_result(host, output, stop)
    report(capsys, f"rolling restart of {len(SERVERS)} servers in {seconds:.0f}s: load {result}")
    assert restarted.rc == 0, restarted.stdout[-5000:]
    after = {name: other_host(host, name).run("systemctl show mlflow -p MainPID --value").stdout for name in pids}
    assert all(after[name] != pids[name] for name in pids), (pids, after)
    assert result["acknowledged_runs"] > 0, result
    # Drained first: not even a retry was needed.
    assert (result["failed"], result["retried"], result["lost_runs"]) == (0, 0, 0), result
    assert wait_all_up(proxy) == ALL_UP
