#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Read a pgBackRest stanza: its backups, its WAL archive and the window a point-in-time restore can reach."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pgbackrest_info
short_description: Read a pgBackRest stanza and the window a point-in-time restore can reach
version_added: 0.7.0
description:
  - Runs C(pgbackrest info --output=json) for one stanza and returns its backups (oldest first), its WAL archive
    and the recoverable window. The window begins where the oldest backup ended (a restore needs a whole backup
    below it; pgBackRest picks one whose stop time is before the target, to the second) and ends at O(end_time),
    or now. The caller commits a transaction and forces its WAL segment into the archive first, as role
    C(postgres_pitr) does, since recovery to a time stops at the first commit after it.
  - Given O(target_time), checks it and returns it as PostgreSQL's C(recovery_target_time) takes it. A time
    without a zone, in the future or before the window fails the module, naming the window; nothing is changed.
  - A stanza pgBackRest reports as broken (a repository cipher that does not decrypt, a missing stanza, no valid
    backup) fails the module with pgBackRest's own status message.
  - Run it as the user that runs pgBackRest (C(postgres)); it only reads.
options:
  stanza:
    description: The stanza, as in C(pgbackrest.conf).
    type: str
    default: mlflow
  target_time:
    description:
      - A time to restore to, in ISO 8601 with a zone, for example V(2026-12-07T18:00:00Z) or
        V(2026-12-07 19:00:00+01:00).
    type: str
  end_time:
    description:
      - Where the window ends, ISO 8601 with a zone; a target after it is refused. Default now.
      - The time of the newest commit known to be archived.
    type: str
  require_backup:
    description: Fail when the stanza has no backup yet (a restore needs one). Off, a stanza without a backup is
      reported with an empty window.
    type: bool
    default: true
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the time to restore to against the recoverable window
  birtha.mlflow.pgbackrest_info:
    stanza: mlflow
    target_time: "2026-12-07T18:00:00Z"
  become: true
  become_user: postgres
  register: pitr
"""

RETURN = r"""
backups:
  description: The stanza's backups, oldest first. Times are UTC, ISO 8601.
  returned: always
  type: list
  elements: dict
  sample: [{label: 20261207-180001F, type: full, start: "2026-12-07T18:00:01Z", stop: "2026-12-07T18:00:09Z",
            size: 48213504, repo_size: 5210112, wal_start: 000000010000000000000003,
            wal_stop: 000000010000000000000003}]
archive:
  description: The oldest and newest WAL segment in the archive (empty when nothing was archived yet).
  returned: always
  type: dict
  sample: {min: 000000010000000000000001, max: 000000010000000000000009}
window:
  description: The recoverable window (empty when there is no backup).
  returned: always
  type: dict
  sample: {start: "2026-12-07T18:00:09Z", end: "2026-12-07T18:20:00Z"}
target:
  description: O(target_time) in UTC, as ISO 8601 and as PostgreSQL's C(recovery_target_time).
  returned: when O(target_time) was given
  type: dict
  sample: {iso: "2026-12-07T18:05:00Z", postgres: "2026-12-07 18:05:00.000000+00", base: {label: 20261207-170000F}}
  contains:
    base:
      description: The backup a restore to the target starts from (the newest that ended before it), as in RV(backups).
      type: dict
      version_added: 0.7.0
"""

import datetime
import json
from typing import Any

from ansible.module_utils.basic import AnsibleModule

# pgBackRest's stanza status codes that still allow reading the backups (0 ok, 2 no valid backup yet).
READABLE_STATUS = {0, 2}


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_iso(seconds: int) -> str:
    return iso(datetime.datetime.fromtimestamp(seconds, datetime.UTC))


def parse_target(text: str, name: str = "restore_target_time") -> datetime.datetime:
    """The time as an aware datetime; ValueError names the format on a bad or zoneless time."""
    example = "write it as ISO 8601 with a zone, for example 2026-12-07T18:00:00Z"
    try:
        parsed = datetime.datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(f"{name} {text!r} is not a time ({error}): {example}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} {text!r} has no time zone, so it could mean any of 24 hours: {example}")
    return parsed


def backups_of(stanza: dict[str, Any]) -> list[dict[str, Any]]:
    found = [
        {
            "label": item.get("label"),
            "type": item.get("type"),
            "start": epoch_iso(item["timestamp"]["start"]),
            "stop": epoch_iso(item["timestamp"]["stop"]),
            "stop_epoch": item["timestamp"]["stop"],
            "size": item.get("info", {}).get("size"),
            "repo_size": item.get("info", {}).get("repository", {}).get("delta"),
            "wal_start": (item.get("archive") or {}).get("start"),
            "wal_stop": (item.get("archive") or {}).get("stop"),
        }
        for item in stanza.get("backup", [])
    ]
    return sorted(found, key=lambda item: item["stop_epoch"])


def archive_of(stanza: dict[str, Any]) -> dict[str, str]:
    ranges = [item for item in stanza.get("archive", []) if item.get("min")]
    if not ranges:
        return {}
    return {"min": min(item["min"] for item in ranges), "max": max(item["max"] for item in ranges)}


def window_of(backups: list[dict[str, Any]], end: datetime.datetime) -> dict[str, str]:
    return {"start": epoch_iso(backups[0]["stop_epoch"] + 1), "end": iso(end)} if backups else {}


def base_backup(backups: list[dict[str, Any]], target: datetime.datetime) -> dict[str, Any]:
    """The backup pgBackRest restores for a recovery to target: the newest that ended before it (backups oldest
    first, as backups_of gives them; the target already checked to be after the oldest)."""
    before = [item for item in backups if item["stop_epoch"] < target.timestamp()]
    return before[-1] if before else {}


def check_target(
    target: datetime.datetime,
    backups: list[dict[str, Any]],
    now: datetime.datetime,
    end: datetime.datetime | None = None,
) -> str:
    """Why a restore cannot reach the target, or an empty string when it can."""
    end = end or now
    window = window_of(backups, end)
    named = f"the recoverable window is {window['start']} to {window['end']}" if window else "there is no backup"
    if target > now:
        return f"restore_target_time {iso(target)} is in the future; {named}. Nothing was changed."
    if not backups:
        return f"restore_target_time {iso(target)} cannot be reached: {named} yet. Nothing was changed."
    if target > end:
        return (
            f"restore_target_time {iso(target)} is after the newest write the archive holds; {named}. Run again: "
            "each run pushes the newest writes first. Nothing was changed."
        )
    # pgBackRest takes a backup whose stop time is before the target, both in whole seconds.
    if int(target.timestamp()) <= backups[0]["stop_epoch"]:
        return (
            f"restore_target_time {iso(target)} is before the oldest backup ended; {named}. Pick a time inside it "
            "(older backups were expired by the retention). Nothing was changed."
        )
    return ""


def printable(text: str) -> str:
    """pgBackRest quotes what it failed to parse: with a wrong cipher pass, bytes Ansible cannot return."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_stanza(module: AnsibleModule, stanza: str) -> dict[str, Any]:
    command = [module.get_bin_path("pgbackrest", required=True), f"--stanza={stanza}", "--output=json", "info"]
    rc, out, err = module.run_command(command)
    out, err = printable(out), printable(err)
    if rc != 0:
        module.fail_json(msg=f"pgbackrest info failed for stanza {stanza!r}: {(err or out).strip()}", rc=rc)
    stanzas = json.loads(out or "[]")
    return next((item for item in stanzas if item.get("name") == stanza), {})


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "stanza": {"type": "str", "default": "mlflow"},
            "target_time": {"type": "str"},
            "end_time": {"type": "str"},
            "require_backup": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    stanza_name = module.params["stanza"]
    stanza = read_stanza(module, stanza_name)
    status = dict(stanza.get("status", {"code": 1, "message": "missing stanza"}))
    # Status 99 ("other") says what went wrong per repository.
    details = [repo["status"]["message"] for repo in stanza.get("repo", []) if repo.get("status", {}).get("code")]
    if details:
        status["message"] = f"{status.get('message')}: {' '.join(details)[:300]}"
    now = datetime.datetime.now(datetime.UTC)
    end = now
    if module.params["end_time"]:
        try:
            end = min(parse_target(module.params["end_time"], "end_time"), now)
        except ValueError as error:
            module.fail_json(msg=str(error))
    backups = backups_of(stanza)
    result: dict[str, Any] = {
        "changed": False,
        "status": status,
        "backups": backups,
        "archive": archive_of(stanza),
        "window": window_of(backups, end),
    }
    if status.get("code") not in READABLE_STATUS or (module.params["require_backup"] and not backups):
        module.fail_json(
            msg=f"pgBackRest's stanza {stanza_name!r} cannot be restored from: {status.get('message')} "
            f"(status {status.get('code')}). Run platform_up.yml with platform_db_archiving: true to create it and "
            "take a first backup; a repository cipher that does not decrypt means platform_db_archive_cipher_pass is "
            "not the one the repository was created with.",
            **result,
        )
    if module.params["target_time"] is not None:
        try:
            target = parse_target(module.params["target_time"])
        except ValueError as error:
            module.fail_json(msg=str(error), **result)
        refused = check_target(target, backups, now, end)
        if refused:
            module.fail_json(msg=refused, **result)
        utc = target.astimezone(datetime.UTC)
        result["target"] = {
            "iso": iso(utc),
            "postgres": utc.strftime("%Y-%m-%d %H:%M:%S.%f+00"),
            "base": base_backup(backups, utc),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
