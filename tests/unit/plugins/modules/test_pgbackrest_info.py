"""Pure logic of pgbackrest_info: pgBackRest's info JSON read into backups, archive and the recoverable window, and
the checks of a restore's target time (zone, future, before the oldest backup)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.birtha.mlflow.plugins.modules import pgbackrest_info as info

NOW = datetime.datetime(2026, 12, 7, 18, 0, 0, tzinfo=datetime.UTC)
# The shape `pgbackrest info --output=json` gives one stanza (2.45): two backups, newest first on purpose.
STANZA = {
    "name": "mlflow",
    "status": {"code": 0, "message": "ok"},
    "archive": [{"id": "15-1", "min": "000000010000000000000003", "max": "000000010000000000000009"}],
    "backup": [
        {
            "label": "20261207-170000F_20261207-173000I",
            "type": "incr",
            "timestamp": {"start": 1796664600, "stop": 1796664605},
            "archive": {"start": "000000010000000000000007", "stop": "000000010000000000000007"},
            "info": {"size": 100, "repository": {"delta": 10}},
        },
        {
            "label": "20261207-170000F",
            "type": "full",
            "timestamp": {"start": 1796662800, "stop": 1796662810},
            "archive": {"start": "000000010000000000000003", "stop": "000000010000000000000003"},
            "info": {"size": 100, "repository": {"delta": 40}},
        },
    ],
}


def test_backups_are_sorted_oldest_first_with_utc_times():
    backups = info.backups_of(STANZA)
    assert [item["label"] for item in backups] == ["20261207-170000F", "20261207-170000F_20261207-173000I"]
    assert backups[0]["stop"] == "2026-12-07T17:00:10Z"
    assert backups[0]["wal_start"] == "000000010000000000000003"


def test_the_window_starts_the_second_after_the_oldest_backup_ended():
    # The backup stopped at 17:00:10; pgBackRest wants its stop time before the target, in whole seconds.
    assert info.window_of(info.backups_of(STANZA), NOW) == {
        "start": "2026-12-07T17:00:11Z",
        "end": "2026-12-07T18:00:00Z",
    }
    assert info.window_of([], NOW) == {}


def test_archive_range_spans_every_timeline():
    stanza = {"archive": [{"min": "000000020000000000000010", "max": "00000002000000000000001F"}, *STANZA["archive"]]}
    assert info.archive_of(stanza) == {"min": "000000010000000000000003", "max": "00000002000000000000001F"}
    assert info.archive_of({"archive": [{"min": None, "max": None}]}) == {}


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-12-07T17:30:00Z", "2026-12-07T17:30:00Z"),
        ("2026-12-07 18:30:00+01:00", "2026-12-07T17:30:00Z"),
        ("2026-12-07T17:30:00.250000+00:00", "2026-12-07T17:30:00Z"),
    ],
)
def test_a_target_with_a_zone_is_read_in_utc(text, utc):
    assert info.iso(info.parse_target(text)) == utc


@pytest.mark.parametrize(
    ("text", "said"), [("2026-12-07 17:30:00", "has no time zone"), ("yesterday", "is not a time")]
)
def test_a_target_without_a_zone_or_not_a_time_is_refused(text, said):
    with pytest.raises(ValueError, match=said):
        info.parse_target(text)


def test_a_target_inside_the_window_passes():
    assert info.check_target(info.parse_target("2026-12-07T17:30:00Z"), info.backups_of(STANZA), NOW) == ""


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("2026-12-07T18:00:01Z", "is in the future; the recoverable window is 2026-12-07T17:00:11Z to"),
        ("2026-12-07T17:00:09Z", "is before the oldest backup ended; the recoverable window is 2026-12-07T17:00:11Z"),
        # pgBackRest compares whole seconds and wants the backup's stop time before the target.
        ("2026-12-07T17:00:10.500000Z", "is before the oldest backup ended"),
    ],
)
def test_a_target_outside_the_window_is_refused_naming_it(text, said):
    assert said in info.check_target(info.parse_target(text), info.backups_of(STANZA), NOW)


def test_a_stanza_without_a_backup_cannot_be_restored():
    assert "there is no backup yet" in info.check_target(info.parse_target("2026-12-07T17:30:00Z"), [], NOW)


def test_a_target_after_the_newest_archived_write_is_refused():
    end = datetime.datetime(2026, 12, 7, 17, 45, 0, tzinfo=datetime.UTC)
    refused = info.check_target(info.parse_target("2026-12-07T17:50:00Z"), info.backups_of(STANZA), NOW, end)
    assert "is after the newest write the archive holds; the recoverable window is 2026-12-07T17:00:11Z to" in refused
    assert "2026-12-07T17:45:00Z" in refused
    assert info.check_target(info.parse_target("2026-12-07T17:44:59Z"), info.backups_of(STANZA), NOW, end) == ""


def test_the_end_time_is_named_when_it_has_no_zone():
    with pytest.raises(ValueError, match="end_time '2026-12-07 17:45:00' has no time zone"):
        info.parse_target("2026-12-07 17:45:00", "end_time")


@pytest.mark.parametrize(
    ("text", "label"),
    [("2026-12-07T17:20:00Z", "20261207-170000F"), ("2026-12-07T17:40:00Z", "20261207-170000F_20261207-173000I")],
)
def test_a_restore_starts_from_the_newest_backup_that_ended_before_the_target(text, label):
    assert info.base_backup(info.backups_of(STANZA), info.parse_target(text))["label"] == label
