# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""What retention, purge, archival and storage cleanup share: cutoffs in time, where a run's artifacts live in
the bucket."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from urllib.parse import urlparse

from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Location

DAY_MS = 86_400_000


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso(ms: int | None) -> str | None:
    """Milliseconds since the epoch as an ISO 8601 UTC time, as MLflow's UI shows it."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def parse_date(text: str) -> datetime:
    """A date (2026-01-31) or a date and time (2026-01-31T12:00:00, with an offset or taken as UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cutoff_ms(older_than_days: int | None, before: str | None, now: int, days_option: str, date_option: str) -> int:
    """The cutoff in milliseconds since the epoch, from a number of days back or a date; ValueError naming the
    option and the fix when it is malformed, negative or in the future."""
    if before is not None:
        try:
            cutoff = int(parse_date(before).timestamp() * 1000)
        except ValueError:
            raise ValueError(
                f"{date_option}={before!r} is not a date: write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)"
            ) from None
        if cutoff > now:
            raise ValueError(
                f"{date_option}={before!r} is in the future (now is {iso(now)}): nothing should be that old yet; "
                "give a past date"
            )
        return cutoff
    if older_than_days is None:
        raise ValueError(f"set {days_option} (a number of days) or {date_option} (a date)")
    if older_than_days < 0:
        raise ValueError(f"{days_option}={older_than_days} would be a cutoff in the future: give 0 or more days")
    return now - older_than_days * DAY_MS


def artifact_location(uri: str | None, destination: str) -> S3Location | None:
    """Where an MLflow artifact URI lives in S3: s3://bucket/key as it is; mlflow-artifacts:/path (the tracking
    server's proxy) under the server's --artifacts-destination. None for anything else (file:, http:, ...)."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        key = parsed.path.lstrip("/").rstrip("/")
        return S3Location(parsed.netloc, key) if parsed.netloc and key else None
    if parsed.scheme == "mlflow-artifacts":
        base = urlparse(destination)
        if base.scheme != "s3" or not base.netloc:
            return None
        key = posixpath.join(base.path.strip("/"), parsed.path.lstrip("/")).strip("/")
        return S3Location(base.netloc, key) if key else None
    return None
