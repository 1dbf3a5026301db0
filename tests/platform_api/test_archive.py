"""playbooks/archive.yml against the platform, through ansible-runner: an experiment made through MLflow's API is
archived to the cold-storage bucket - bad input (an experiment that does not exist, delete without confirmation) and
--check write nothing; the archive's objects read back with the manifest's sha256, as do their sources; the manifest
counts what the metadata holds and the experiment stays active; a second run changes nothing; with deletion
confirmed the experiment and its runs are deleted as MLflow's delete_experiment does, and MLflow's
restore_experiment brings them back."""

from __future__ import annotations

import json
from pathlib import Path

from runbook_harness import PLAYBOOKS

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
ARCHIVE = PLAYBOOKS / "archive.yml"
HELPER = TEST_PLAYBOOKS / "storage_helper.yml"
ARCHIVE_BUCKET = "mlflow-archive"
SOURCE_BUCKET = "mlflow-artifacts"


def helper(run_playbook, actions: list[dict], db_experiment: int | None = None) -> tuple[list, dict | None]:
    """The helper's results, one per action, and the experiment's database rows when asked for."""
    extravars: dict = {"actions": actions}
    if db_experiment is not None:
        extravars["db_experiment"] = db_experiment
    result = run_playbook(HELPER, extravars)
    assert result.rc == 0, result.stdout[-4000:]
    results = next(res["msg"] for res in result.task_results("Helper result")) if actions else []
    database = [res["msg"] for res in result.task_results("Database state")]
    return results, (database[0] if database else None)


def archived_experiments(result) -> list[dict]:
    """What the playbook said about each experiment (the debug loop's items)."""
    return [res["item"] for res in result.task_results("Say what was archived")]


def manifest_file(report_dir: Path) -> dict:
    files = sorted(report_dir.glob("archive-*.json"))
    assert len(files) == 1, files
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert oct(report_dir.stat().st_mode & 0o777) == "0o700"
    return json.loads(files[0].read_text())


def test_archive_verify_delete_and_restore(run_playbook, test_id, tmp_path):
    name = f"archive-{test_id}"
    prefix = f"tests/{test_id}/"
    reports = tmp_path / "reports"
    base = {"archive_experiments": [name], "archive_prefix": prefix, "platform_report_dir": str(reports)}
    (created,) = helper(run_playbook, [{"do": "create", "experiment": name, "runs": 2}])[0]
    exp_id = int(created["experiment_id"])
    removed = False
    try:
        # Bad input fails with a message that names the problem; --check reports and writes nothing.
        missing = run_playbook(ARCHIVE, {**base, "archive_experiments": [name, f"missing-{test_id}"]})
        assert missing.rc != 0
        assert f"No such experiment: 'missing-{test_id}'" in missing.stdout, missing.stdout[-3000:]
        unconfirmed = run_playbook(ARCHIVE, {**base, "archive_delete_after": True})
        assert unconfirmed.rc != 0
        assert "Set -e archive_confirm_delete=true" in unconfirmed.stdout, unconfirmed.stdout[-3000:]

        checked = run_playbook(ARCHIVE, base, check=True)
        assert checked.rc == 0, checked.stdout[-5000:]
        (preview,) = archived_experiments(checked)
        assert preview["archive"] == "would archive"
        assert (preview["runs"], preview["params"], preview["metrics"], preview["objects"]) == (2, 4, 8, 4)
        assert preview["bytes"] > 0 and preview["deleted"] is False
        assert "would be written (nothing was)" in checked.stdout
        written, state = helper(
            run_playbook,
            [{"do": "list", "bucket": ARCHIVE_BUCKET, "prefix": prefix}, {"do": "state", "experiment": name}],
        )[0]
        assert written == [], "bad input or --check wrote to the archive"
        assert state["lifecycle_stage"] == "active" and set(state["runs"].values()) == {"active"}
        assert not reports.exists() or not list(reports.glob("archive-*.json"))

        # The archive: every object read back has the manifest's size and sha256, as has its source.
        archived = run_playbook(ARCHIVE, base)
        assert archived.rc == 0, archived.stdout[-5000:]
        manifest = manifest_file(reports)
        published = archived.stat("birtha_archive")
        assert published["archive"] == f"s3://{ARCHIVE_BUCKET}/{prefix}" and published["experiments"] == [name]
        assert Path(published["manifest"]).parent == reports
        (objects, sources, in_bucket, metadata, state), before = helper(
            run_playbook,
            [
                {"do": "list", "bucket": ARCHIVE_BUCKET, "prefix": prefix, "sha256": True},
                {"do": "list", "bucket": SOURCE_BUCKET, "prefix": f"{exp_id}/", "sha256": True},
                {"do": "get", "bucket": ARCHIVE_BUCKET, "key": f"{prefix}manifest.json"},
                {"do": "get", "bucket": ARCHIVE_BUCKET, "key": f"{prefix}experiments/{exp_id}/metadata.json"},
                {"do": "state", "experiment": name},
            ],
            db_experiment=exp_id,
        )
        assert in_bucket == manifest, "the controller's copy differs from the archive's manifest"
        (entry,) = manifest["experiments"]
        assert entry["name"] == name and entry["experiment_id"] == exp_id
        archived_objects = {item["key"]: item for item in objects}
        source_objects = {item["key"]: item for item in sources}
        assert {item["source_key"] for item in manifest["objects"]} == set(source_objects)
        assert len(manifest["objects"]) == entry["objects"] == 4
        for item in manifest["objects"]:
            assert item["archived_key"] == f"{prefix}objects/{SOURCE_BUCKET}/{item['source_key']}"
            for copy in (archived_objects[item["archived_key"]], source_objects[item["source_key"]]):
                assert (copy["size"], copy["sha256"]) == (item["size"], item["sha256"]), item
        assert archived_objects[entry["metadata_key"]]["sha256"] == entry["metadata_sha256"]
        assert set(archived_objects) == {item["archived_key"] for item in manifest["objects"]} | {
            entry["metadata_key"],
            f"{prefix}manifest.json",
        }

        runs = {run["info"]["run_uuid"]: run for run in metadata["runs"]}
        assert set(runs) == set(created["run_ids"])
        assert metadata["experiment"]["tags"] == {"purpose": "archive test"}
        for run in runs.values():
            assert [m["step"] for m in run["metrics"] if m["key"] == "loss"] == [0, 1, 2]
            assert set(run["params"]) == {"learning_rate", "depth"} and run["tags"]["team"] == "platform-tests"
            assert run["inputs"] and run["inputs"][0]["tags"] == {"mlflow.data.context": "training"}
        assert entry["counts"] == {
            "runs": 2,
            "params": 4,
            "metrics": 8,
            "latest_metrics": 4,
            "experiment_tags": 1,
            "tags": sum(len(run["tags"]) for run in runs.values()),
        }
        assert state["lifecycle_stage"] == "active" and set(state["runs"].values()) == {"active"}

        # Again with the same prefix: verified, nothing changes.
        again = run_playbook(ARCHIVE, base)
        assert again.rc == 0, again.stdout[-5000:]
        assert again.changed() == 0, again.stdout[-5000:]
        assert archived_experiments(again)[0]["archive"] == "already archived"

        # Deleted as MLflow's delete_experiment deletes: the experiment and every run, restorable.
        deleted = run_playbook(ARCHIVE, {**base, "archive_delete_after": True, "archive_confirm_delete": True})
        assert deleted.rc == 0, deleted.stdout[-5000:]
        assert archived_experiments(deleted)[0]["deleted"] is True
        (state,), after = helper(run_playbook, [{"do": "state", "experiment": name}], db_experiment=exp_id)
        assert state["lifecycle_stage"] == "deleted" and set(state["runs"].values()) == {"deleted"}
        experiment = after["experiment"]
        assert experiment["lifecycle_stage"] == "deleted"
        assert experiment["last_update_time"] > before["experiment"]["last_update_time"]
        assert {run["run_uuid"] for run in after["runs"]} == set(created["run_ids"])
        for run in after["runs"]:
            assert run["lifecycle_stage"] == "deleted"
            assert run["deleted_time"] is not None and run["deleted_time"] >= experiment["last_update_time"] - 1000
        assert {k: v for k, v in experiment.items() if k not in ("lifecycle_stage", "last_update_time")} == {
            k: v for k, v in before["experiment"].items() if k not in ("lifecycle_stage", "last_update_time")
        }

        restored = helper(
            run_playbook,
            [{"do": "restore", "experiment": name}, {"do": "remove", "bucket": ARCHIVE_BUCKET, "prefix": prefix}],
        )[0][0]
        removed = True
        assert restored["lifecycle_stage"] == "active" and set(restored["runs"].values()) == {"active"}
    finally:
        if not removed:
            helper(run_playbook, [{"do": "remove", "bucket": ARCHIVE_BUCKET, "prefix": prefix}])
