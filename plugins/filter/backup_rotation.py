# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Which backup sets to keep and which to delete: keep-last-N plus daily/weekly/monthly (GFS)."""

from __future__ import annotations

import datetime
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: backup_rotation
short_description: Decide which backup sets to keep (keep-last-N plus GFS) and which to delete
version_added: 0.3.0
description:
  - Takes the backup sets found on the backup host and returns which to keep and which to delete, oldest first.
  - Only verified sets count towards the policy. The newest verified set is never deleted.
  - Complete sets that are not verified are kept while they are newer than the newest verified set (their
    verification may still run) and deleted once a newer set is verified.
  - Incomplete sets (no completion marker) are invisible to restore; they are deleted once older than
    O(stale_hours).
options:
  _input:
    description: Sets, each with C(id), C(time) (ISO 8601 or epoch seconds), C(complete) and C(verified).
    type: list
    elements: dict
    required: true
  keep_last:
    description: Keep the newest this many verified sets.
    type: int
    default: 7
  daily:
    description: Keep the newest verified set of each of this many most recent days.
    type: int
    default: 7
  weekly:
    description: Keep the newest verified set of each of this many most recent ISO weeks.
    type: int
    default: 4
  monthly:
    description: Keep the newest verified set of each of this many most recent months.
    type: int
    default: 6
  stale_hours:
    description: Age after which an incomplete set is deleted.
    type: int
    default: 24
  now:
    description: The current time (epoch seconds); defaults to now.
    type: float
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
rotation: "{{ sets | birtha.mlflow.backup_rotation(keep_last=3, daily=7, weekly=4, monthly=12) }}"
# rotation.keep, rotation.delete: lists of set ids; rotation.reasons: why each kept set is kept
"""

RETURN = r"""
_value:
  description: C(keep) and C(delete) (lists of set ids, oldest first) and C(reasons) (set id to why it is kept).
  type: dict
"""


def _time(value: Any) -> datetime.datetime:
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        parsed = datetime.datetime.strptime(str(value), "%Y%m%dT%H%M%SZ")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _newest_per_bucket(sets: list[dict[str, Any]], key: Any, count: int) -> dict[str, str]:
    """The newest set in each of the count most recent buckets (days, weeks, months)."""
    chosen: dict[Any, str] = {}
    for item in sets:  # newest first
        bucket = key(item["_time"])
        if bucket not in chosen and len(chosen) < count:
            chosen[bucket] = item["id"]
    return {set_id: str(bucket) for bucket, set_id in chosen.items()}


def backup_rotation(
    sets: list[dict[str, Any]],
    keep_last: int = 7,
    daily: int = 7,
    weekly: int = 4,
    monthly: int = 6,
    stale_hours: int = 24,
    now: float | None = None,
) -> dict[str, Any]:
    if min(keep_last, daily, weekly, monthly, stale_hours) < 0:
        raise AnsibleFilterError("backup_rotation: counts and stale_hours must not be negative")
    current = _time(now) if now is not None else datetime.datetime.now(datetime.UTC)
    try:
        items = [{**item, "_time": _time(item["time"])} for item in sets]
    except (KeyError, ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"backup_rotation: each set needs an id and a time ({exc})") from exc
    items.sort(key=lambda item: item["_time"], reverse=True)
    verified = [item for item in items if item.get("complete") and item.get("verified")]
    reasons: dict[str, list[str]] = {}

    def keep(set_id: str, why: str) -> None:
        reasons.setdefault(set_id, []).append(why)

    for item in verified[:keep_last]:
        keep(item["id"], "last")
    for set_id, day in _newest_per_bucket(verified, lambda t: t.date(), daily).items():
        keep(set_id, f"daily {day}")
    for set_id, week in _newest_per_bucket(verified, lambda t: tuple(t.isocalendar())[:2], weekly).items():
        keep(set_id, f"weekly {week}")
    for set_id, month in _newest_per_bucket(verified, lambda t: (t.year, t.month), monthly).items():
        keep(set_id, f"monthly {month}")
    if verified:
        keep(verified[0]["id"], "newest verified")
    newest_verified = verified[0]["_time"] if verified else None
    for item in items:
        if (
            item.get("complete")
            and not item.get("verified")
            and (newest_verified is None or item["_time"] > newest_verified)
        ):
            keep(item["id"], "not verified yet")
        if not item.get("complete") and current - item["_time"] < datetime.timedelta(hours=stale_hours):
            keep(item["id"], "in progress")
    oldest_first = [item["id"] for item in reversed(items)]
    return {
        "keep": [set_id for set_id in oldest_first if set_id in reasons],
        "delete": [set_id for set_id in oldest_first if set_id not in reasons],
        "reasons": {set_id: ", ".join(why) for set_id, why in reasons.items()},
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"backup_rotation": backup_rotation}
