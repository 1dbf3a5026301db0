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

import json
import sys

from common import ROOT, inventory_path, provenance, run, write_section

SECTION = "## Backup and restore"
BACKUP_TASKS = (
    "Dump the databases from one snapshot each, with their row counts and checksums",
    "Snapshot the bucket through the S3 API",
)
# The restore tasks verify and restore share (roles/*_backup/tasks/restore_and_compare.yml).
RESTORE_TASKS = (
    "Restore each database into a new one and compare it with the manifest (nothing is swapped here)",
    "Restore the artifacts, each compared with the manifest (a scratch prefix, deleted after, when verifying)",
)


def main() -> None:
    inventory = inventory_path(sys.argv)
    runbook = run(ROOT / "benchmarks" / "playbooks" / "runbook_commands.yml", inventory)
    theirs = json.loads(runbook.result("Run the runbook's commands and time each")["stdout"])
    backup = run(
        ROOT / "playbooks" / "backup.yml", inventory, {"backup_verify_after_backup": False, "backup_rotate": False}
    )
    backup_wall = backup.seconds
    set_id = backup.result("Name the set")["ansible_facts"]["backup_set_id"]
    verify = run(ROOT / "playbooks" / "backup_verify.yml", inventory, {"backup_verify_set": set_id})
    verify_wall = verify.seconds
    manifest = verify.result("Find the set and read its manifest")["manifest"]
    ours_backup, ours_restore = backup.task_seconds(BACKUP_TASKS), verify.task_seconds(RESTORE_TASKS)
    their_backup = theirs["backup_db"] + theirs["backup_minio"]
    their_restore = theirs["restore_db"] + theirs["restore_minio"]
    ours_bytes = sum(item["size"] for item in manifest["files"])
    rows = sum(t["rows"] for db in manifest["postgres"]["databases"].values() for t in db["tables"].values())
    their_bytes = theirs["sql_bytes"] + theirs["tar_bytes"]
    text = f"""{SECTION}

{provenance("benchmarks/backup_restore.py")}, one run, same data: {rows} rows in the MLflow databases,
{manifest["artifacts"]["count"]} artifacts of {manifest["artifacts"]["bytes"] / 1e6:.1f} MB.

| | runbook (`pg_dump > .sql`, `tar czf` / `psql <`, `tar xzf`) | ours (work) | ratio runbook/ours | ours (whole playbook) |
| --- | ---: | ---: | ---: | ---: |
| backup | {their_backup:.2f} s | {ours_backup:.2f} s | {their_backup / ours_backup:.2f} | {backup_wall:.1f} s |
| restore | {their_restore:.2f} s | {ours_restore:.2f} s | {their_restore / ours_restore:.2f} | {verify_wall:.1f} s (backup_verify.yml) |
| size | {their_bytes / 1e6:.2f} MB | {ours_bytes / 1e6:.2f} MB | {their_bytes / ours_bytes:.2f} | |

What each side does. The runbook: one plain-SQL dump (not consistent with the artifacts, no roles), a gzip tar
of MinIO's data directory taken while MinIO runs, no checksums, no encryption; its restore loads the SQL into a
scratch database and unpacks the tar. Ours: both databases dumped from exported snapshots with row counts and a
checksum per table, roles, zstd on every core, gpg AES256, every object read through the S3 API with its
sha256, a manifest; the restore decrypts, `pg_restore -j`, compares every table with the manifest, uploads every
object with its sha256 for the server to check, compares, and removes the scratch copies. "Work" sums the
durations of the tasks that do this; "whole playbook" adds Ansible's own overhead (connections, fact handling,
the other tasks), which dominates at this data size.
"""
    write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
