"""playbooks/monitoring.yml against the platform, through ansible-runner: the report's MLflow counts are what
MLflow's API (and its database) say, a tiny warning level becomes a warning naming the database, the Prometheus
textfile is written on the host with parseable lines and rewritten only when its content changes,
monitoring_fail_on_warning fails the run, and --check writes no textfile."""

from __future__ import annotations

import json
import re
from pathlib import Path

from platform_fixtures import artifact_store
from runbook_harness import PLAYBOOKS

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
MONITORING = PLAYBOOKS / "monitoring.yml"
SAMPLE = re.compile(r'^birtha_mlflow_[a-z_]+(\{([a-z_]+="(\\.|[^"\\])*",?)*\})? -?[0-9.e+]+$')
# Free and used bytes of a filesystem move with anything written on the host; the rest of the file is stable.
VOLATILE = ("birtha_mlflow_filesystem_used_bytes", "birtha_mlflow_filesystem_free_bytes")


def debug_msg(result, task):
    messages = [res["msg"] for res in result.task_results(task)]
    assert messages, f"task {task!r} did not run:\n" + result.stdout[-4000:]
    return messages[0]


def report_of(report_dir: Path) -> dict:
    reports = sorted(report_dir.glob("monitoring-*.json"))
    assert reports, f"no report in {report_dir}"
    assert oct(reports[-1].stat().st_mode & 0o777) == "0o600"
    assert oct(report_dir.stat().st_mode & 0o777) == "0o700"
    return json.loads(reports[-1].read_text())


def textfiles(run_playbook, directory: str) -> tuple[dict[str, str], dict[str, str]]:
    read = run_playbook(TEST_PLAYBOOKS / "monitoring_textfiles.yml", {"textfile_dir": directory})
    assert read.rc == 0, read.stdout[-4000:]
    return debug_msg(read, "Textfiles"), debug_msg(read, "Textfile modes")


def stable(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(VOLATILE)]


def test_monitoring_report_warnings_and_textfile(run_playbook, test_id, tmp_path):
    counted = run_playbook(TEST_PLAYBOOKS / "monitoring_counts.yml", {"test_id": test_id})
    assert counted.rc == 0, counted.stdout[-5000:]
    api, sql = debug_msg(counted, "API counts"), debug_msg(counted, "SQL counts")
    assert int(api["experiment_runs"]) == 2

    textfile_dir = f"/tmp/birtha-monitoring-{test_id}"
    extravars = {
        "platform_report_dir": str(tmp_path / "reports"),
        "platform_monitoring_warn_database_size_bytes": 1,
        "platform_monitoring_textfile_dir": textfile_dir,
    }
    try:
        first = run_playbook(MONITORING, extravars)
        assert first.rc == 0, first.stdout[-6000:]
        report = report_of(tmp_path / "reports")
        published = first.stat("birtha_monitoring")
        assert published["warnings"] == int(report["warnings_count"]) >= 1
        assert Path(published["report"]).parent == tmp_path / "reports"
        postgres = next(item for item in report["results"] if item["tier"] == "postgres")
        mlflow = postgres["metrics"]["mlflow"]
        for kind in ("experiments", "runs"):
            for stage in ("active", "deleted"):
                assert mlflow[kind][stage] == int(api[kind][stage]), (kind, stage, mlflow, api)
        assert mlflow["registered_models"] == sql["registered_models"]
        assert mlflow["model_versions"]["total"] == sql["model_versions"]
        assert postgres["metrics"]["connections"]["total"] >= 1
        assert postgres["metrics"]["tables"], "no largest tables reported"
        # The store's own tier (MinIO through mc, SeaweedFS through its S3 listing) measured MLflow's bucket, which
        # holds at least the converge's probe artifact.
        store = next(item for item in report["results"] if item["tier"] == artifact_store())
        assert store["metrics"]["up"] == {artifact_store(): True}, store
        usage = store["metrics"]["buckets"]["mlflow-artifacts"]
        assert usage["objects"] >= 1 and usage["size_bytes"] > 0, store

        warned = [
            item
            for item in report["results"]
            for item in item["findings"]
            if item["status"] == "warn" and item["check"] == "database_size"
        ]
        assert "mlflow_db" in {item["subject"] for item in warned}
        assert "WARN" in first.stdout and "database mlflow_db is" in first.stdout
        assert report["warnings_count"] >= len(warned)

        files, modes = textfiles(run_playbook, textfile_dir)
        assert "birtha_mlflow_postgres.prom" in files, files.keys()
        assert not [name for name in files if not name.endswith(".prom")], "a temporary file was left behind"
        assert set(modes.values()) == {"0644"}
        for name, text in files.items():
            for line in text.splitlines():
                assert line.startswith(("# HELP birtha_mlflow_", "# TYPE birtha_mlflow_")) or SAMPLE.match(line), (
                    name,
                    line,
                )
        assert re.search(
            r'^birtha_mlflow_database_size_bytes\{[^}]*database="mlflow_db"[^}]*\} [1-9]',
            files["birtha_mlflow_postgres.prom"],
            re.M,
        )

        # Again, now failing on warnings: the textfiles are rewritten only where the data changed.
        second = run_playbook(MONITORING, {**extravars, "monitoring_fail_on_warning": True})
        assert second.rc != 0, "monitoring_fail_on_warning did not fail the run"
        assert "warning(s) (platform_monitoring_fail_on_warning is set)" in second.stdout
        again = textfiles(run_playbook, textfile_dir)[0]
        assert stable(again["birtha_mlflow_postgres.prom"]) == stable(files["birtha_mlflow_postgres.prom"])
        reported = {
            res["textfile"]["path"].rsplit("/", 1)[-1]: res["textfile"]["changed"]
            for res in second.task_results("Write " + textfile_dir + "/birtha_mlflow_postgres.prom")
        }
        assert reported == {
            "birtha_mlflow_postgres.prom": again["birtha_mlflow_postgres.prom"] != files["birtha_mlflow_postgres.prom"]
        }

        # --check measures and predicts, and writes no textfile.
        check_dir = f"{textfile_dir}-check"
        checked = run_playbook(MONITORING, {**extravars, "platform_monitoring_textfile_dir": check_dir}, check=True)
        assert checked.rc == 0, checked.stdout[-6000:]
        assert "would change" in checked.stdout
        absent = run_playbook(TEST_PLAYBOOKS / "monitoring_textfiles.yml", {"textfile_dir": check_dir})
        assert absent.rc == 0 and debug_msg(absent, "Textfiles") == {}
    finally:
        run_playbook(TEST_PLAYBOOKS / "monitoring_textfiles.yml", {"textfile_dir": textfile_dir, "cleanup": True})
