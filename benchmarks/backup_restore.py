"""Backup and restore: the runbook's commands against ours, on the same data in the same run.

    .venv/bin/python benchmarks/backup_restore.py [inventory]      (default: inventories/sandbox)

Runs on the platform's database host (which must also hold MinIO and the backup sets, as the sandbox does):
1. the runbook's backup (pg_dump > file.sql, tar czf of MinIO's data directory) and restore (psql into a scratch
   database, tar xzf into a scratch directory), timed on the host;
2. ours: playbooks/backup.yml (snapshot-consistent dumps with per-table checksums, zstd, gpg AES256, the bucket
   through the S3 API with a sha256 per object, manifest), then playbooks/backup_verify.yml (restore into a scratch
   database and a scratch bucket prefix, compared with the manifest row by row and byte by byte).
Ours is timed twice: the tasks that do the work (from ansible-runner's event durations) and the whole playbook.
Writes benchmarks/RESULTS.md (the backup/restore section) and prints it.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ansible_runner

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Backup and restore"
BACKUP_TASKS = (
    "Dump the databases from one snapshot each, with their row counts and checksums",
    "Snapshot the bucket through the S3 API",
)
RESTORE_TASKS = (
    "Restore each database into a scratch database and compare it with the manifest",
    "Restore the artifacts into a scratch prefix, compare them with the manifest, delete them",
)


def run(playbook: Path, inventory: str, extravars: dict | None = None) -> tuple[ansible_runner.Runner, float]:
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as private:
        runner = ansible_runner.run(
            private_data_dir=private, playbook=str(playbook), inventory=inventory, extravars=extravars or {}, quiet=True
        )
        events = list(runner.events)
    if runner.rc != 0:
        sys.exit(f"{playbook.name} failed (rc {runner.rc}); run it by hand to see why")
    runner.collected = events  # type: ignore[attr-defined]
    return runner, time.monotonic() - start


def task_seconds(runner: ansible_runner.Runner, tasks: tuple[str, ...]) -> float:
    total = 0.0
    for event in runner.collected:  # type: ignore[attr-defined]
        data = event.get("event_data", {})
        if event.get("event") in ("runner_on_ok", "runner_on_changed") and data.get("task") in tasks:
            total += float(data.get("duration") or 0)
    return total


def result_of(runner: ansible_runner.Runner, task: str) -> dict:
    for event in runner.collected:  # type: ignore[attr-defined]
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") == task:
            return data["res"]
    raise SystemExit(f"no result for task {task!r}")


def main() -> None:
    inventory = str((ROOT / (sys.argv[1] if len(sys.argv) > 1 else "inventories/sandbox")).resolve())
    runbook, _ = run(ROOT / "benchmarks" / "playbooks" / "runbook_commands.yml", inventory)
    theirs = json.loads(result_of(runbook, "Run the runbook's commands and time each")["stdout"])
    backup, backup_wall = run(
        ROOT / "playbooks" / "backup.yml", inventory, {"backup_verify_after_backup": False, "backup_rotate": False}
    )
    set_id = result_of(backup, "Name the set")["ansible_facts"]["backup_set_id"]
    verify, verify_wall = run(ROOT / "playbooks" / "backup_verify.yml", inventory, {"backup_verify_set": set_id})
    manifest = result_of(verify, "Find the set and read its manifest")["manifest"]
    ours_backup, ours_restore = task_seconds(backup, BACKUP_TASKS), task_seconds(verify, RESTORE_TASKS)
    their_backup = theirs["backup_db"] + theirs["backup_minio"]
    their_restore = theirs["restore_db"] + theirs["restore_minio"]
    ours_bytes = sum(item["size"] for item in manifest["files"])
    rows = sum(t["rows"] for db in manifest["postgres"]["databases"].values() for t in db["tables"].values())
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    text = f"""{SECTION}

Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC at commit {commit} by `benchmarks/backup_restore.py`
on the sandbox host (2 cores), one run, same data: {rows} rows in the MLflow databases,
{manifest["artifacts"]["count"]} artifacts of {manifest["artifacts"]["bytes"] / 1e6:.1f} MB.

| | runbook (`pg_dump > .sql`, `tar czf` / `psql <`, `tar xzf`) | ours (work) | ratio runbook/ours | ours (whole playbook) |
| --- | ---: | ---: | ---: | ---: |
| backup | {their_backup:.2f} s | {ours_backup:.2f} s | {their_backup / ours_backup:.2f} | {backup_wall:.1f} s |
| restore | {their_restore:.2f} s | {ours_restore:.2f} s | {their_restore / ours_restore:.2f} | {verify_wall:.1f} s (backup_verify.yml) |
| size | {(theirs["sql_bytes"] + theirs["tar_bytes"]) / 1e6:.2f} MB | {ours_bytes / 1e6:.2f} MB | {(theirs["sql_bytes"] + theirs["tar_bytes"]) / ours_bytes:.2f} | |

What each side does. The runbook: one plain-SQL dump (not consistent with the artifacts, no roles), a gzip tar
of MinIO's data directory taken while MinIO runs, no checksums, no encryption; its restore loads the SQL into a
scratch database and unpacks the tar. Ours: both databases dumped from exported snapshots with row counts and a
checksum per table, roles, zstd on every core, gpg AES256, every object read through the S3 API with its
sha256, a manifest; the restore decrypts, `pg_restore -j`, compares every table with the manifest, uploads every
object with its sha256 for the server to check, compares, and removes the scratch copies. "Work" sums the
durations of the tasks that do this; "whole playbook" adds Ansible's own overhead (connections, fact handling,
the other tasks), which dominates at this data size.
"""
    previous = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    head, _, rest = previous.partition(SECTION)
    tail = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
    RESULTS.write_text(head.rstrip() + "\n\n" + text + ("\n" + tail if tail else ""))
    print(text)


if __name__ == "__main__":
    main()
