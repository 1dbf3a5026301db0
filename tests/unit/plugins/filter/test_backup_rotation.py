"""Backup rotation: keep-last-N plus GFS, counting only verified sets, never deleting the newest verified one."""

from __future__ import annotations

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.birtha.mlflow.plugins.filter.backup_rotation import backup_rotation

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def daily_sets(days: int, verified: bool = True) -> list[dict]:
    return [
        {
            "id": f"d{n:03d}",
            "time": (NOW - datetime.timedelta(days=n)).isoformat(),
            "complete": True,
            "verified": verified,
        }
        for n in range(days)
    ]


def test_keep_last_only_deletes_oldest_first():
    result = backup_rotation(daily_sets(5), keep_last=2, daily=0, weekly=0, monthly=0, now=NOW.timestamp())
    assert result["keep"] == ["d001", "d000"]
    assert result["delete"] == ["d004", "d003", "d002"]


def test_gfs_keeps_one_per_day_week_and_month():
    result = backup_rotation(daily_sets(90), keep_last=1, daily=3, weekly=2, monthly=3, now=NOW.timestamp())
    kept = set(result["keep"])
    assert {"d000", "d001", "d002"} <= kept  # daily
    assert len(kept) <= 1 + 3 + 2 + 3
    assert any("monthly" in why for why in result["reasons"].values())
    assert "d089" in result["delete"]


def test_unverified_sets_do_not_count_and_the_newest_verified_survives():
    sets = daily_sets(3, verified=False)
    sets[2]["verified"] = True  # only the oldest was verified
    result = backup_rotation(sets, keep_last=0, daily=0, weekly=0, monthly=0, now=NOW.timestamp())
    assert "d002" in result["keep"]  # newest verified, even with keep_last=0
    assert {"d000", "d001"} <= set(result["keep"])  # newer than it, verification pending


def test_unverified_sets_older_than_a_verified_one_go():
    sets = daily_sets(3, verified=True)
    sets[2]["verified"] = False
    result = backup_rotation(sets, keep_last=5, daily=0, weekly=0, monthly=0, now=NOW.timestamp())
    assert result["delete"] == ["d002"]


def test_incomplete_sets_wait_until_stale():
    fresh = {"id": "fresh", "time": (NOW - datetime.timedelta(hours=1)).isoformat(), "complete": False}
    stale = {"id": "stale", "time": (NOW - datetime.timedelta(hours=30)).isoformat(), "complete": False}
    result = backup_rotation([fresh, stale, *daily_sets(1)], now=NOW.timestamp())
    assert "fresh" in result["keep"] and result["delete"] == ["stale"]


def test_set_ids_as_times_and_bad_input():
    result = backup_rotation([{"id": "a", "time": "20261128T101500Z", "complete": True, "verified": True}])
    assert result["keep"] == ["a"]
    with pytest.raises(AnsibleFilterError):
        backup_rotation([{"id": "x"}])
    with pytest.raises(AnsibleFilterError):
        backup_rotation([], keep_last=-1)
