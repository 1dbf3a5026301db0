"""Pure logic of platform_logs: archive member names, bounded reading of journals and files, redaction counts,
the archive's modes. journalctl and systemctl are stood in by small scripts where a command has to run."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.birtha.mlflow.plugins.module_utils.redact import MASK, Redactor
from ansible_collections.birtha.mlflow.plugins.modules import platform_logs as logs

SECRET = "q8Zt3VfK0pLw9sX2bYc7Rm4N"


def params(**overrides):
    return {"host": "db1", "max_lines": 100, "max_bytes": 1 << 20, "since": "1 hour ago", "until": "now", **overrides}


@pytest.fixture
def run_command():
    """A real module's run_command, which the module hands to collect_unit."""
    with patch_module_args({}):
        return AnsibleModule(argument_spec={}).run_command


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_member_names_stay_under_the_hosts_directory():
    assert logs.unit_member("db1", "postgresql@15-main") == "db1/journal/postgresql@15-main.log"
    assert logs.unit_member("db1", "a/../b") == "db1/journal/a_.._b.log"
    assert logs.file_member("db1", "/var/log/postgresql/postgresql-15-main.log") == (
        "db1/files/var/log/postgresql/postgresql-15-main.log"
    )
    assert logs.file_member("db1", "/var/log/../../etc/x.log") == "db1/files/etc/x.log"


def test_journal_command_passes_the_window_as_arguments():
    command = logs.journal_command("/bin/journalctl", "mlflow", "1 hour ago", "now", 100)
    assert command[:3] == ["/bin/journalctl", "-u", "mlflow"]
    # One line more than is kept: the output read stays bounded, and a window that held more shows as truncated.
    assert command[command.index("--lines") + 1] == "101"
    assert command[command.index("--since") + 1] == "1 hour ago"
    assert command[command.index("--until") + 1] == "now"
    assert {"-o", "short-iso", "--utc", "--no-pager", "-q"} <= set(command)


def test_tail_lines_keeps_the_newest_and_counts_all():
    kept, total = logs.tail_lines((f"{n}\n" for n in range(10)), 3)
    assert kept == ["7\n", "8\n", "9\n"]
    assert total == 10
    assert logs.tail_lines(iter(["a\n"]), 5) == (["a\n"], 1)


@pytest.mark.parametrize(
    ("data", "max_bytes", "expected", "truncated"),
    [
        (b"one\ntwo\nthree\n", 100, b"one\ntwo\nthree\n", False),
        (b"one\ntwo\nthree\n", 9, b"three\n", True),  # "o\nthree\n" starts mid-line: cut to the next line
        (b"one\ntwo\nthree\n", 10, b"two\nthree\n", True),  # the window starts right after a newline
        (b"one\ntwo\nthree\n", 4, b"", True),  # no whole line fits
    ],
)
def test_tail_bytes_reads_whole_lines_from_the_end(data, max_bytes, expected, truncated):
    assert logs.tail_bytes(io.BytesIO(data), len(data), max_bytes) == (expected, truncated)


def test_redact_counted_counts_new_masks_only():
    redactor = Redactor([SECRET])
    text, count = logs.redact_counted(redactor, f"a {SECRET} b password=hunter2x {MASK}\n")
    assert SECRET not in text and "hunter2x" not in text
    assert count == 2


def test_expand_patterns_reports_what_matches_nothing(tmp_path):
    (tmp_path / "a.log").write_text("a\n")
    (tmp_path / "b.log").write_text("b\n")
    paths, missing = logs.expand_patterns(
        [f"{tmp_path}/*.log", f"{tmp_path}/a.log", f"{tmp_path}/none-*.log", f"{tmp_path}/gone.log"]
    )
    assert paths == [f"{tmp_path}/a.log", f"{tmp_path}/b.log"]
    assert missing == [
        {"file": f"{tmp_path}/none-*.log", "reason": "no such file"},
        {"file": f"{tmp_path}/gone.log", "reason": "no such file"},
    ]


def test_file_skip_reasons(tmp_path):
    (tmp_path / "x.log.1.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "x.log").write_text("x\n")
    assert logs.file_skip_reason(str(tmp_path)) == "not a regular file"
    assert logs.file_skip_reason(str(tmp_path / "x.log.1.gz")).startswith("compressed")
    assert logs.file_skip_reason(str(tmp_path / "x.log")) is None


def test_collect_file_redacts_and_bounds(tmp_path):
    path = tmp_path / "postgresql-15-main.log"
    path.write_text(
        "old line\n" * 100 + f"ERROR: invalid input \"{SECRET}\"\nSTATEMENT: ALTER ROLE m PASSWORD 'x1y2z3'\n"
    )
    collection = logs.Collection()
    logs.collect_file(collection, str(path), params(max_bytes=120), Redactor([SECRET]))
    [entry] = collection.files
    [member] = collection.members
    text = member.data.decode()
    assert SECRET not in text and "x1y2z3" not in text
    assert f'"{MASK}"' in text and f"PASSWORD '{MASK}'" in text
    assert entry["truncated"] is True and entry["redactions"] == 2 and entry["bytes"] <= 120
    assert member.name == f"db1/files/{str(path).lstrip('/')}"


def test_collect_unit_skips_a_unit_that_is_not_installed(tmp_path, run_command):
    tools = {
        "systemctl": script(tmp_path / "systemctl", "echo LoadState=not-found\n"),
        "journalctl": script(tmp_path / "journalctl", "exit 99\n"),
    }
    collection = logs.Collection()
    logs.collect_unit(run_command, collection, "minio", params(), tools, Redactor())
    assert collection.skipped == [{"unit": "minio", "reason": "not installed"}]
    assert collection.members == []


def test_collect_unit_keeps_the_newest_lines_redacted(tmp_path, run_command):
    tools = {
        "systemctl": script(tmp_path / "systemctl", "echo LoadState=loaded\n"),
        "journalctl": script(
            tmp_path / "journalctl",
            f'for n in 1 2 3 4 5; do echo "2026-11-28T10:0$n:00+0000 h mlflow[1]: line $n {SECRET}"; done\n',
        ),
    }
    collection = logs.Collection()
    logs.collect_unit(run_command, collection, "mlflow", params(max_lines=2), tools, Redactor([SECRET]))
    [entry] = collection.units
    text = collection.members[0].data.decode()
    assert text.splitlines() == [
        f"2026-11-28T10:04:00+0000 h mlflow[1]: line 4 {MASK}",
        f"2026-11-28T10:05:00+0000 h mlflow[1]: line 5 {MASK}",
    ]
    assert entry | {"bytes": 0} == {
        "unit": "mlflow",
        "load_state": "loaded",
        "member": "db1/journal/mlflow.log",
        "lines": 2,
        "lines_in_window": 5,
        "truncated": True,
        "redactions": 2,
        "bytes": 0,
    }


def test_a_window_journalctl_refuses_is_an_error_other_failures_a_skip(tmp_path, run_command):
    systemctl = script(tmp_path / "systemctl", "echo LoadState=loaded\n")
    refuses = script(tmp_path / "journalctl", 'echo "Failed to parse timestamp: yesterdayish" >&2; exit 1\n')
    with pytest.raises(logs.WindowError):
        logs.collect_unit(
            run_command,
            logs.Collection(),
            "mlflow",
            params(),
            {"systemctl": systemctl, "journalctl": refuses},
            Redactor(),
        )
    broken = script(tmp_path / "journalctl2", 'echo "journal corrupted" >&2; exit 1\n')
    collection = logs.Collection()
    logs.collect_unit(
        run_command, collection, "mlflow", params(), {"systemctl": systemctl, "journalctl": broken}, Redactor()
    )
    assert collection.skipped == [{"unit": "mlflow", "reason": "journalctl failed: journal corrupted"}]


def test_read_journal_splits_at_newlines_only_and_replaces_undecodable_bytes(tmp_path, run_command):
    journalctl = script(tmp_path / "journalctl", "printf 'a\\rb\\n\\377c %s\\nd' \"$SYSTEMD_COLORS\"\n")
    assert logs.read_journal(run_command, [journalctl], 10) == (["a\rb\n", "\ufffdc 0\n", "d"], 3)


def test_member_directories_parents_first():
    assert logs.member_directories(["h/journal/a.log", "h/files/var/log/b.log"]) == [
        "h",
        "h/files",
        "h/journal",
        "h/files/var",
        "h/files/var/log",
    ]


def test_write_archive_is_private_and_complete(tmp_path):
    dest = tmp_path / "logs.tar.gz"
    members = [logs.Member("h/journal/mlflow.log", b"one\n"), logs.Member("h/files/var/log/x.log", b"two\n")]
    size = logs.write_archive(str(dest), members, None, None)
    assert size == dest.stat().st_size
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["logs.tar.gz"]  # no partial file left
    with tarfile.open(dest) as archive:
        infos = {info.name: info for info in archive.getmembers()}
        assert archive.extractfile("h/journal/mlflow.log").read() == b"one\n"
    assert {name: stat.S_IMODE(info.mode) for name, info in infos.items() if info.isfile()} == {
        "h/journal/mlflow.log": 0o600,
        "h/files/var/log/x.log": 0o600,
    }
    assert {stat.S_IMODE(info.mode) for info in infos.values() if info.isdir()} == {0o700}


def test_owner_is_resolved_by_name_or_uid():
    assert logs.resolve_owner(None) == (None, None)
    assert logs.resolve_owner(str(os.getuid()))[0] == os.getuid()
    with pytest.raises(KeyError):
        logs.resolve_owner("no-such-user-birtha")


def test_secret_values_are_not_logged():
    assert logs.argument_spec()["redact_values"]["no_log"] is True
