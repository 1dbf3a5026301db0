"""playbooks/scale_vertical.yml (the runbook's Vertical Scaling) against the platform, through ansible-runner: the
worker count and MemoryMax that platform_up.yml applied follow the host's CPUs and memory; a new value restarts
MLflow once and systemd runs it; the same value again changes nothing and restarts nothing; --check predicts and
changes nothing; bad input is refused before anything changes. The defaults are applied again at the end."""

from __future__ import annotations

from pathlib import Path

from runbook_harness import PLAYBOOKS

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
SCALE = PLAYBOOKS / "scale_vertical.yml"
WORKER_MB = 1024


def unit_state(run_playbook) -> dict[str, str]:
    result = run_playbook(TEST_PLAYBOOKS / "mlflow_unit_state.yml")
    assert result.rc == 0, result.stdout[-3000:]
    return result.task_results("Report them")[0]["msg"]


def test_scale_vertical_applies_once_and_only_on_change(run_playbook):
    before = unit_state(run_playbook)
    # The defaults platform_up.yml applied: a worker per CPU, as many as the memory holds, and room for them all.
    workers = max(1, min(int(before["Cpus"]), int(before["MemTotalKiB"]) // 1024 // WORKER_MB))
    assert before["ActiveState"] == "active"
    assert int(before["Workers"]) == int(before["WorkerProcesses"]) == workers, before
    assert int(before["MemoryMax"]) == (workers + 1) * WORKER_MB * 1024 * 1024, before
    assert before["CPUQuotaPerSecUSec"] == "infinity", before

    smaller = {"mlflow_server_workers": 1, "mlflow_server_memory_max": "1536M", "mlflow_server_cpu_quota": "150%"}
    try:
        checked = run_playbook(SCALE, smaller, check=True)
        assert checked.rc == 0 and checked.changed() > 0, checked.stdout[-4000:]
        assert unit_state(run_playbook) == before, "--check changed MLflow's service"

        applied = run_playbook(SCALE, smaller)
        assert applied.rc == 0 and applied.changed() > 0, applied.stdout[-4000:]
        after = unit_state(run_playbook)
        assert after["ActiveState"] == "active" and after["MainPID"] != before["MainPID"], after
        assert (after["Workers"], after["WorkerProcesses"], after["MemoryMax"]) == ("1", "1", str(1536 * 1024 * 1024))
        assert after["CPUQuotaPerSecUSec"] == "1.500000s", after

        again = run_playbook(SCALE, smaller)
        assert again.rc == 0 and again.changed() == 0, again.stdout[-4000:]
        assert unit_state(run_playbook)["MainPID"] == after["MainPID"], "the same values restarted MLflow"

        for bad, named in (
            ({"mlflow_server_workers": 0}, "mlflow_server_workers must be a whole number"),
            ({"mlflow_server_memory_max": "lots"}, "mlflow_server_memory_max a size"),
            ({"mlflow_server_cpu_quota": "2 cores"}, "mlflow_server_cpu_quota a percentage"),
        ):
            refused = run_playbook(SCALE, bad)
            assert refused.rc != 0 and named in refused.stdout, refused.stdout[-3000:]
            assert refused.changed() == 0
        assert unit_state(run_playbook)["MainPID"] == after["MainPID"], "refused input restarted MLflow"
    finally:
        # The defaults again, whatever failed above (asserted after, so a failure above is the one reported).
        restored = run_playbook(SCALE)
    assert restored.rc == 0, restored.stdout[-4000:]
    final = unit_state(run_playbook)
    keys = ("Workers", "WorkerProcesses", "MemoryMax", "CPUQuotaPerSecUSec")
    assert [final[key] for key in keys] == [before[key] for key in keys], final
