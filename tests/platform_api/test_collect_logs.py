"""playbooks/collect_logs.yml against the platform, through ansible-runner: the inventory's real secrets are
planted in PostgreSQL's log file and in the services' journals (tests/platform_api/playbooks/logs_plant_secret.yml),
then the logs are collected. The archive holds every service's journal with lines from the window and PostgreSQL's
log file, the secrets appear nowhere in it and [REDACTED] stands where they were, every file is 0600; --check
writes nothing; a host that does not answer is recorded, not a crash."""

from __future__ import annotations

import datetime
import json
import re
import stat
import tarfile
import uuid
from pathlib import Path

from platform_fixtures import artifact_store
from runbook_harness import PLAYBOOKS, credentials_dir

TEST_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
MASK = "[REDACTED]"
# The journal's short-iso timestamps with --utc: 2026-11-28T13:03:48+0000
JOURNAL_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}) ")


def read_archive(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Text of every file member, and every member's mode."""
    texts, modes = {}, {}
    with tarfile.open(path) as archive:
        for info in archive.getmembers():
            modes[info.name] = stat.S_IMODE(info.mode) | (0o40000 if info.isdir() else 0)
            if info.isfile():
                texts[info.name] = archive.extractfile(info).read().decode("utf-8", "replace")
    return texts, modes


def archives(report_dir: Path) -> list[Path]:
    return sorted((report_dir / "logs").glob("birtha-logs-*.tar.gz"))


def test_collect_logs_archives_every_service_redacted(run_playbook, inventory, tmp_path):
    credentials = credentials_dir(inventory)
    secrets = {
        name: (credentials / name).read_text().strip()
        for name in ("postgres_mlflow_password", "minio_mlflow_secret_key", "mlflow_admin_password")
    }
    marker = f"birtha-logs-{uuid.uuid4().hex[:10]}"
    started = datetime.datetime.now(datetime.UTC)

    planted = run_playbook(TEST_PLAYBOOKS / "logs_plant_secret.yml", {"logs_marker": marker})
    assert planted.rc == 0, planted.stdout[-4000:]

    # --check: reports what it would collect, writes nothing
    check_dir = tmp_path / "check"
    checked = run_playbook(PLAYBOOKS / "collect_logs.yml", {"platform_report_dir": str(check_dir)}, check=True)
    assert checked.rc == 0, checked.stdout[-4000:]
    assert "Would write" in checked.stdout
    assert not check_dir.exists()

    report_dir = tmp_path / "reports"
    collected = run_playbook(PLAYBOOKS / "collect_logs.yml", {"platform_report_dir": str(report_dir)})
    assert collected.rc == 0, collected.stdout[-4000:]
    finished = datetime.datetime.now(datetime.UTC)
    [archive] = archives(report_dir)
    assert str(archive) in collected.stdout
    assert collected.stat("birtha_logs")["archive"] == str(archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE((report_dir / "logs").stat().st_mode) == 0o700

    texts, modes = read_archive(archive)
    assert {name: mode for name, mode in modes.items() if not mode & 0o40000 and mode != 0o600} == {}
    assert {name: mode & 0o777 for name, mode in modes.items() if mode & 0o40000 and mode & 0o777 != 0o700} == {}

    manifest = json.loads(texts["MANIFEST.json"])
    assert manifest["window"] == {"since": "1 hour ago", "until": "now"}
    assert manifest["unreachable"] == [] and manifest["failed"] == []
    assert manifest["redactions"] > 0
    members = {unit["unit"]: unit["member"] for host in manifest["collected"] for unit in host["units"]}
    assert {"mlflow", artifact_store(), "postgresql"} <= set(members), manifest["units"]
    clusters = [unit for unit in members if unit.startswith("postgresql@")]
    assert clusters, manifest["units"]

    # Every journal is in the archive, holds lines, and each line's time lies in the window (1 hour ago .. now).
    earliest = started - datetime.timedelta(hours=1, minutes=2)
    latest = finished + datetime.timedelta(minutes=1)
    for unit, member in members.items():
        times = [
            datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S%z")
            for m in map(JOURNAL_TIME.match, texts[member].splitlines())
            if m
        ]
        assert times, f"{unit}'s journal ({member}) has no line from the window"
        outside = [t.isoformat() for t in times if not earliest <= t <= latest]
        assert not outside, f"{unit}'s journal has lines outside the window: {outside[:3]}"

    # PostgreSQL's log file is there, with the planted statement
    pg_files = [
        f["member"]
        for host in manifest["collected"]
        for f in host["files"]
        if re.fullmatch(r"/var/log/postgresql/postgresql-[^/]+\.log", f["path"])
    ]
    assert pg_files, manifest["files"]
    pg_text = "".join(texts[member] for member in pg_files)

    # The secrets appear nowhere; [REDACTED] stands where they were planted
    leaked = sorted(
        {f"{name} in {member}" for name, value in secrets.items() for member, text in texts.items() if value in text}
    )
    assert not leaked, f"secrets left in the archive: {leaked}"
    planted_lines = {
        "postgresql log file": [line for line in pg_text.splitlines() if marker in line],
        **{
            unit: [line for line in texts[members[unit]].splitlines() if marker in line]
            for unit in (artifact_store(), "mlflow", clusters[0])
        },
    }
    for where, lines in planted_lines.items():
        assert lines, f"the planted line is missing from {where}"
        unmasked = [line for line in lines if MASK not in line]
        assert not unmasked, f"planted lines without {MASK} in {where}: {unmasked[:2]}"
    assert any(f"{marker} {MASK}" in line for line in planted_lines["postgresql log file"])


def test_a_host_that_does_not_answer_is_recorded(run_playbook, tmp_path):
    report_dir = tmp_path / "reports"
    result = run_playbook(
        TEST_PLAYBOOKS / "logs_unreachable.yml",
        {"platform_report_dir": str(report_dir), "platform_logs_since": "-10min"},
    )
    assert result.rc == 0, result.stdout[-4000:]
    assert "unreachable: birtha-logs-gone" in result.stdout
    [archive] = archives(report_dir)
    texts = read_archive(archive)[0]
    manifest = json.loads(texts["MANIFEST.json"])
    assert [host["host"] for host in manifest["unreachable"]] == ["birtha-logs-gone"]
    assert manifest["hosts"] and "birtha-logs-gone" not in manifest["hosts"]
    assert all(unit["member"] in texts for host in manifest["collected"] for unit in host["units"])
