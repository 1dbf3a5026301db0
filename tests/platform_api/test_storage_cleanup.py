"""playbooks/storage_cleanup.yml against the platform, through ansible-runner: next to a live run's artifacts, objects
are planted - a run-shaped prefix of no run (under the test's experiment, and under an experiment id that does not
exist), keys of no MLflow shape, a logged model's and a trace's keys without rows, and an orphan younger than the
cutoff. The report lists exactly the two orphans and deletes nothing; --check and a delete without confirmation
delete nothing; the delete removes only the orphans; a second run has nothing to do (changed=0)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

from runbook_harness import PLAYBOOKS

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
CLEANUP = PLAYBOOKS / "storage_cleanup.yml"
HELPER = TEST_PLAYBOOKS / "storage_helper.yml"
BUCKET = "mlflow-artifacts"


def helper(run_playbook, actions: list[dict]) -> list:
    result = run_playbook(HELPER, {"actions": actions})
    assert result.rc == 0, result.stdout[-4000:]
    return next(res["msg"] for res in result.task_results("Helper result"))


def report_of(report_dir: Path, seen: set[Path]) -> dict:
    """The report the last run wrote (the one file not seen before)."""
    new = sorted(set(report_dir.glob("storage-cleanup-*.json")) - seen)
    assert len(new) == 1, new
    seen.update(new)
    assert oct(new[0].stat().st_mode & 0o777) == "0o600"
    return json.loads(new[0].read_text())


def prefixes(report: dict, kind: str) -> set[str]:
    return {item["prefix"] for item in report[kind]}


def test_storage_cleanup_deletes_only_orphans(run_playbook, test_id, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir(mode=0o700)
    seen: set[Path] = set()
    orphan_run, young_run, gone_run = (uuid.uuid4().hex for _run in range(3))
    # An experiment id far above any the sandbox or Molecule creates: the location of an experiment that is gone.
    gone = 900_000_000 + int(test_id, 16) % 1_000_000
    old_keys = [
        f"{{experiment_id}}/{orphan_run}/artifacts/model.pkl",
        f"{{experiment_id}}/{orphan_run}/artifacts/data/part-0.csv",
        f"{gone}/{gone_run}/artifacts/notes.txt",
        f"{{experiment_id}}/scratch-{test_id}/notes.txt",
        f"junk-{test_id}/file.txt",
        f"{{experiment_id}}/models/m-{test_id}{'0' * 24}/artifacts/MLmodel",
        f"{{experiment_id}}/traces/tr-{test_id}/artifacts/traces.json",
    ]
    young_key = f"{{experiment_id}}/{young_run}/artifacts/in-flight.bin"
    created, planted, _slept, young = helper(
        run_playbook,
        [
            {"do": "create", "experiment": f"cleanup-{test_id}", "runs": 1},
            {"do": "put", "bucket": BUCKET, "keys": old_keys},
            {"do": "sleep", "seconds": 2},
            {"do": "put", "bucket": BUCKET, "keys": [young_key]},
        ],
    )
    exp = created["experiment_id"]
    (run_id,) = created["run_ids"]
    # The cutoff between the planted old objects and the young one, fixed for every run of this test.
    newest_old = max(datetime.fromisoformat(when) for when in planted.values())
    youngest = datetime.fromisoformat(next(iter(young.values())))
    assert youngest > newest_old
    cutoff = newest_old + (youngest - newest_old) / 2
    scope = [f"{exp}/", f"{gone}/", f"junk-{test_id}/"]
    base = {
        "platform_report_dir": str(reports),
        "storage_cleanup_min_age_hours": 0,
        "storage_cleanup_modified_before": cutoff.isoformat(),
    }
    orphans = {f"{exp}/{orphan_run}/", f"{gone}/{gone_run}/"}
    try:
        # The whole bucket, reported: the two orphans are listed, the rest left alone in their categories.
        reported = run_playbook(CLEANUP, base)
        assert reported.rc == 0, reported.stdout[-5000:]
        report = report_of(reports, seen)
        assert reported.stat("birtha_storage_cleanup")["totals"] == report["totals"]
        assert orphans <= prefixes(report, "orphans")
        assert f"{exp}/{young_run}/" in prefixes(report, "young")
        assert {f"{exp}/scratch-{test_id}/", f"junk-{test_id}/"} <= prefixes(report, "unrecognised")
        assert {f"{exp}/models/", f"{exp}/traces/"} <= prefixes(report, "protected")
        assert report["totals"]["deleted_objects"] == 0 and report["deleted"] is False
        assert "To delete the orphans: -e storage_cleanup_delete=true" in reported.stdout
        by_prefix = {item["prefix"]: item for item in report["orphans"]}
        assert by_prefix[f"{exp}/{orphan_run}/"]["objects"] == 2
        assert "is not in the runs table" in by_prefix[f"{exp}/{orphan_run}/"]["reason"]
        assert f"experiment {gone} no longer exists" in by_prefix[f"{gone}/{gone_run}/"]["reason"]

        # Scoped to the test's prefixes: exactly the two orphans; --check and an unconfirmed delete delete nothing.
        scoped = {**base, "storage_cleanup_prefixes": scope, "storage_cleanup_delete": True}
        checked = run_playbook(CLEANUP, scoped, check=True)
        assert checked.rc == 0, checked.stdout[-5000:]
        report = report_of(reports, seen)
        assert prefixes(report, "orphans") == orphans
        assert report["totals"]["orphan_objects"] == 3 and report["totals"]["deleted_objects"] == 0
        assert report["check_mode"] is True and "Would delete 2 orphan prefixes" in checked.stdout
        unconfirmed = run_playbook(CLEANUP, scoped)
        assert unconfirmed.rc != 0
        assert "Set -e storage_cleanup_confirm=true" in unconfirmed.stdout, unconfirmed.stdout[-3000:]

        # The delete removes the orphans - all three objects still there after the runs above - and nothing else.
        deleted = run_playbook(CLEANUP, {**scoped, "storage_cleanup_confirm": True})
        assert deleted.rc == 0, deleted.stdout[-5000:]
        report = report_of(reports, seen)
        assert prefixes(report, "orphans") == orphans and report["deleted"] is True
        assert (report["totals"]["deleted_objects"], report["totals"]["orphan_objects"]) == (3, 3)
        (left,) = helper(run_playbook, [{"do": "list", "bucket": BUCKET, "prefix": p} for p in scope[:1]])
        keys = {item["key"] for item in left}
        assert not [key for key in keys if key.startswith(f"{exp}/{orphan_run}/")]
        assert {key.format(experiment_id=exp) for key in old_keys[3:] if not key.startswith("junk")} <= keys
        assert young_key.format(experiment_id=exp) in keys
        assert [key for key in keys if key.startswith(f"{exp}/{run_id}/artifacts/")], "the live run lost artifacts"

        again = run_playbook(CLEANUP, {**scoped, "storage_cleanup_confirm": True})
        assert again.rc == 0, again.stdout[-5000:]
        report = report_of(reports, seen)
        assert report["orphans"] == [] and report["totals"]["deleted_objects"] == 0
        assert f"junk-{test_id}/" in prefixes(report, "unrecognised")
        assert again.changed() == 0, again.stdout[-5000:]
    finally:
        helper(
            run_playbook,
            [{"do": "remove", "bucket": BUCKET, "prefix": p} for p in (f"{gone}/", f"junk-{test_id}/")]
            + [
                {"do": "remove", "bucket": BUCKET, "prefix": f"{exp}/{p}"}
                for p in ("models/", "traces/", f"scratch-{test_id}/", f"{young_run}/", f"{orphan_run}/")
            ],
        )
