#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Collect a host's service journals and log files for a time window, redacted, into one tar.gz."""

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_logs
short_description: Collect service journals and log files from one host into a redacted tar.gz
version_added: 0.4.0
description:
  - For each unit in O(units), runs C(journalctl -u <unit> --since <since> --until <until> --lines <max_lines + 1>
    -o short-iso --utc --no-pager) and keeps the newest O(max_lines) lines of the window. Units that are not
    installed on the host (systemd reports them C(not-found)) are skipped and reported, not an error.
  - For each path or glob pattern in O(files), reads the last O(max_bytes) of every matching regular file (from the
    first whole line on). Patterns that match nothing, directories, unreadable and compressed (rotated) files are
    skipped and reported.
  - Everything passes through the collection's redactor before it is written - the literal values in
    O(redact_values) and anything shaped like a secret (C(password=...), C(user:password@) in URLs,
    C(Authorization:) headers, SQL C(PASSWORD '...')) become C([REDACTED]).
  - Writes one tar.gz at O(dest), mode 0600, holding C(<host>/journal/<unit>.log) and C(<host>/files/<path>)
    (members 0600, directories 0700). The archive is written next to O(dest) and renamed into place when complete.
  - Run it as root (C(become)) so every journal and log file can be read.
options:
  units:
    description:
      - systemd units whose journal to collect (C(.service) is implied when a name has no suffix).
    type: list
    elements: str
    default: []
  files:
    description:
      - Absolute paths or glob patterns of log files to collect (for example
        C(/var/log/postgresql/postgresql-15-main.log)).
    type: list
    elements: str
    default: []
  since:
    description:
      - Start of the window, in any form C(journalctl --since) accepts (C(1 hour ago), C(2026-11-28 10:00:00),
        C(today), C(-2h)).
    type: str
    default: 1 hour ago
  until:
    description: End of the window, in any form C(journalctl --until) accepts.
    type: str
    default: now
  max_lines:
    description: Keep at most this many lines per unit, the newest of the window.
    type: int
    default: 20000
  max_bytes:
    description: Read at most this many bytes per file, from its end.
    type: int
    default: 10485760
  redact_values:
    description:
      - Secret values to mask wherever they appear (the inventory's passwords and keys). Values shorter than six
        characters are ignored, they would mask ordinary words.
    type: list
    elements: str
    default: []
  host:
    description: Name of the host's directory in the archive.
    type: str
    required: true
  dest:
    description: Path of the tar.gz to write. Its directory must exist.
    type: path
    required: true
  owner:
    description:
      - User (name or uid) that owns the archive, for example the login user so that M(ansible.builtin.fetch) can
        read it without C(become) (fetch with C(become) reads the whole file into memory). Default the user the
        module runs as.
    type: str
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Reads the journals and files and reports what it would collect, C(changed) as in a real run; does not
      write O(dest).
  diff_mode:
    support: none
notes:
  - The files are not filtered by the window; O(max_bytes) bounds them. Each journal line carries its UTC time.
requirements:
  - systemd (journalctl, systemctl) on the host
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Collect the last hour of PostgreSQL's journal and log file, redacted
  birtha.mlflow.platform_logs:
    host: "{{ inventory_hostname }}"
    units: [postgresql, postgresql@15-main]
    files: [/var/log/postgresql/postgresql-15-*.log]
    since: 1 hour ago
    redact_values: "{{ platform_redact_values }}"
    dest: /tmp/birtha-logs.tar.gz
  become: true
  register: collected

- name: A fixed window, MLflow and MinIO only, small
  birtha.mlflow.platform_logs:
    host: "{{ inventory_hostname }}"
    units: [mlflow, minio]
    since: "2026-11-28 09:00:00"
    until: "2026-11-28 10:30:00"
    max_lines: 5000
    dest: /tmp/incident-logs.tar.gz
    owner: "{{ ansible_user | default('root') }}"
  become: true
"""

RETURN = r"""
units:
  description:
    - Per collected unit, its member in the archive, lines kept, lines read from the window, masks applied.
    - C(lines_in_window) counts at most O(max_lines) + 1 lines (journalctl is asked for no more); C(truncated) says
      the window held more than was kept.
  returned: always
  type: list
  elements: dict
  sample: [{unit: mlflow, member: sandbox/journal/mlflow.log, lines: 1250, lines_in_window: 1250,
            truncated: false, redactions: 0, bytes: 183040}]
files:
  description: Per collected file, its member, the bytes read, lines and masks applied.
  returned: always
  type: list
  elements: dict
  sample: [{path: /var/log/postgresql/postgresql-15-main.log,
            member: sandbox/files/var/log/postgresql/postgresql-15-main.log, size: 88210, bytes: 88210,
            truncated: false, lines: 912, redactions: 1}]
not_collected:
  description:
    - Units and files not collected, with the reason. (Not called C(skipped), which would mark the task skipped.)
  returned: always
  type: list
  elements: dict
  sample: [{unit: minio, reason: not installed}, {file: /var/log/minio/*.log, reason: no such file}]
redactions:
  description: Masks applied in total.
  returned: always
  type: int
bytes:
  description: Bytes of text collected (after redaction, before compression).
  returned: always
  type: int
archive_bytes:
  description: Size of the archive written.
  returned: success and not in check mode
  type: int
dest:
  description: The archive written (or that would be written in check mode).
  returned: always
  type: str
window:
  description: The window as given, and the UTC time the collection ran.
  returned: always
  type: dict
  sample: {since: 1 hour ago, until: now, collected_at: "2026-11-28T13:05:00Z"}
"""

import collections
import datetime
import glob
import io
import os
import pwd
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import unit_state
from ansible_collections.birtha.mlflow.plugins.module_utils.redact import MASK, Redactor

COMPRESSED_SUFFIXES = (".gz", ".xz", ".bz2", ".zst", ".lz4")
UNIT_SUFFIXES = (".service", ".socket", ".timer", ".mount", ".target", ".scope", ".slice", ".path")


@dataclass
class Member:
    """One text file of the archive."""

    name: str
    data: bytes


@dataclass
class Collection:
    members: list[Member] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


class WindowError(Exception):
    """journalctl refused the window (since/until)."""


def argument_spec() -> dict[str, Any]:
    return {
        "units": {"type": "list", "elements": "str", "default": []},
        "files": {"type": "list", "elements": "str", "default": []},
        "since": {"type": "str", "default": "1 hour ago"},
        "until": {"type": "str", "default": "now"},
        "max_lines": {"type": "int", "default": 20000},
        "max_bytes": {"type": "int", "default": 10485760},
        "redact_values": {"type": "list", "elements": "str", "default": [], "no_log": True},
        "host": {"type": "str", "required": True},
        "dest": {"type": "path", "required": True},
        "owner": {"type": "str"},
    }


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unit_member(host: str, unit: str) -> str:
    """<host>/journal/<unit>.log; a unit name never makes a path outside its directory."""
    return f"{host}/journal/{unit.replace('/', '_')}.log"


def file_member(host: str, path: str) -> str:
    """<host>/files/<absolute path without its leading slash>."""
    return f"{host}/files/{os.path.normpath(path).lstrip('/')}"


def journal_command(journalctl: str, unit: str, since: str, until: str, max_lines: int) -> list[str]:
    """journalctl for one unit and the window, UTC ISO times, no pager, no "-- No entries --" line; only the newest
    max_lines + 1 entries of the window, so the output read stays bounded and one line more says it was cut."""
    return [
        journalctl,
        "-u",
        unit,
        "--since",
        since,
        "--until",
        until,
        "--lines",
        str(max_lines + 1),
        "-o",
        "short-iso",
        "--utc",
        "--no-pager",
        "-q",
    ]


def tail_lines(lines: Any, max_lines: int) -> tuple[list[str], int]:
    """The last max_lines of an iterable of lines, and how many there were in all (memory bounded)."""
    kept: collections.deque[str] = collections.deque(maxlen=max(max_lines, 0))
    total = 0
    for line in lines:
        total += 1
        kept.append(line)
    return list(kept), total


def tail_bytes(handle: Any, size: int, max_bytes: int) -> tuple[bytes, bool]:
    """The last max_bytes of a file from its first whole line on, and whether anything was left out."""
    if size <= max_bytes:
        handle.seek(0)
        return handle.read(), False
    handle.seek(size - max_bytes - 1)
    data = handle.read(max_bytes + 1)
    # The byte before the window tells whether the window starts on a line boundary.
    if data[:1] == b"\n":
        return data[1:], True
    newline = data.find(b"\n")
    return (data[newline + 1 :] if newline >= 0 else b""), True


def redact_counted(redactor: Redactor, text: str) -> tuple[str, int]:
    """Redacted text and the masks it gained (a mask that was there already is not counted)."""
    redacted = redactor(text)
    return redacted, max(redacted.count(MASK) - text.count(MASK), 0)


def expand_patterns(patterns: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Paths matched by the patterns (each once, sorted per pattern) and the patterns that matched nothing."""
    paths: list[str] = []
    skipped: list[dict[str, str]] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if os.path.lexists(m)]
        if not matches:
            skipped.append({"file": pattern, "reason": "no such file"})
        paths.extend(os.path.normpath(m) for m in matches if os.path.normpath(m) not in paths)
    return paths, skipped


def file_skip_reason(path: str) -> str | None:
    if not os.path.isfile(path):
        return "not a regular file"
    if path.endswith(COMPRESSED_SUFFIXES):
        return "compressed (rotated) file, not collected"
    if not os.access(path, os.R_OK):
        return "not readable (run with become)"
    return None


def add_member(collection: Collection, member: str, text: str, redactor: Redactor) -> tuple[str, int, bytes]:
    """Redact text and add it to the archive as member: (the redacted text, how many secrets it masked, its bytes)."""
    redacted, masks = redact_counted(redactor, text)
    data = redacted.encode("utf-8")
    collection.members.append(Member(member, data))
    return redacted, masks, data


def read_journal(run_command: Any, command: list[str], max_lines: int) -> tuple[list[str], int]:
    """Run journalctl, keep the newest max_lines lines; raise WindowError when it refuses the window.

    run_command holds the whole output in memory; journal_command asks journalctl for max_lines + 1 lines at most, which
    bounds it."""
    rc, out, err = run_command(
        command,
        environ_update={"SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"},
        errors="replace",
        expand_user_and_vars=False,
    )
    # Lines end at "\n" only, as read from a pipe (str.splitlines would also split at "\r" and other breaks).
    lines, total = tail_lines(io.StringIO(out, newline="\n"), max_lines)
    error = err.strip()
    if rc != 0:
        if "timestamp" in error.lower():
            raise WindowError(error)
        raise RuntimeError(error or f"journalctl exited with {rc}")
    return lines, total


def collect_unit(
    run_command: Any,
    collection: Collection,
    unit: str,
    params: dict[str, Any],
    tools: dict[str, str],
    redactor: Redactor,
) -> None:
    state = unit_state(run_command, unit, tools["systemctl"]).load or "unknown"
    if state == "not-found":
        collection.skipped.append({"unit": unit, "reason": "not installed"})
        return
    command = journal_command(tools["journalctl"], unit, params["since"], params["until"], params["max_lines"])
    try:
        lines, total = read_journal(run_command, command, params["max_lines"])
    except RuntimeError as exc:
        collection.skipped.append({"unit": unit, "reason": f"journalctl failed: {exc}"})
        return
    member = unit_member(params["host"], unit)
    _text, masks, data = add_member(collection, member, "".join(lines), redactor)
    collection.units.append(
        {
            "unit": unit,
            "load_state": state,
            "member": member,
            "lines": len(lines),
            "lines_in_window": total,
            "truncated": total > len(lines),
            "redactions": masks,
            "bytes": len(data),
        }
    )


def collect_file(collection: Collection, path: str, params: dict[str, Any], redactor: Redactor) -> None:
    reason = file_skip_reason(path)
    if reason:
        collection.skipped.append({"file": path, "reason": reason})
        return
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            raw, truncated = tail_bytes(handle, size, params["max_bytes"])
    except OSError as exc:
        collection.skipped.append({"file": path, "reason": f"cannot read: {exc.strerror or exc}"})
        return
    member = file_member(params["host"], path)
    text, masks, _data = add_member(collection, member, raw.decode("utf-8", "replace"), redactor)
    collection.files.append(
        {
            "path": path,
            "member": member,
            "size": size,
            "bytes": len(raw),
            "truncated": truncated,
            "lines": text.count("\n"),
            "redactions": masks,
        }
    )


def member_directories(names: list[str]) -> list[str]:
    """Every directory above the members, parents first."""
    directories: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        directories.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(directories, key=lambda d: (d.count("/"), d))


def write_archive(dest: str, members: list[Member], uid: int | None, gid: int | None) -> int:
    """Write the tar.gz next to dest (0600) and rename it into place; return its size."""
    mtime = time.time()
    handle, partial = tempfile.mkstemp(prefix=".platform_logs.", dir=os.path.dirname(dest) or ".")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            for directory in member_directories([m.name for m in members]):
                info = tarfile.TarInfo(directory)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, mtime
                archive.addfile(info)
            for member in members:
                info = tarfile.TarInfo(member.name)
                info.size, info.mode, info.mtime = len(member.data), 0o600, mtime
                archive.addfile(info, io.BytesIO(member.data))
        if uid is not None:
            os.chown(partial, uid, gid if gid is not None else -1)
        os.rename(partial, dest)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return os.path.getsize(dest)


def resolve_owner(owner: str | None) -> tuple[int | None, int | None]:
    if not owner:
        return None, None
    entry = pwd.getpwuid(int(owner)) if owner.isdigit() else pwd.getpwnam(owner)
    return entry.pw_uid, entry.pw_gid


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    for pattern in params["files"]:
        if not os.path.isabs(pattern):
            module.fail_json(msg=f"files: {pattern!r} is not an absolute path or pattern.")
    if params["max_lines"] < 1 or params["max_bytes"] < 1:
        module.fail_json(msg="max_lines and max_bytes must be at least 1.")
    if "/" in params["host"] or params["host"] in ("", ".", ".."):
        module.fail_json(msg=f"host: {params['host']!r} cannot name a directory in the archive.")
    dest_dir = os.path.dirname(params["dest"]) or "."
    if not os.path.isdir(dest_dir):
        module.fail_json(msg=f"dest: directory {dest_dir} does not exist; create it first.")
    try:
        uid, gid = resolve_owner(params["owner"])
    except (KeyError, OverflowError):
        module.fail_json(msg=f"owner: no user {params['owner']!r} on this host.")
    tools = {"journalctl": module.get_bin_path("journalctl"), "systemctl": module.get_bin_path("systemctl")}
    collected_at = utc_now()
    redactor = Redactor(params["redact_values"])
    collection = Collection()

    if params["units"] and not (tools["journalctl"] and tools["systemctl"]):
        collection.skipped.extend({"unit": u, "reason": "no systemd journal on this host"} for u in params["units"])
    else:
        for unit in params["units"]:
            try:
                collect_unit(module.run_command, collection, unit, params, tools, redactor)
            except WindowError as exc:
                module.fail_json(
                    msg=f"journalctl refused the window since={params['since']!r} until={params['until']!r}: {exc}. "
                    "Use a form journalctl accepts: '1 hour ago', '2026-11-28 10:00:00', 'today', 'now'."
                )
    paths, missing = expand_patterns(params["files"])
    collection.skipped.extend(missing)
    for path in paths:
        collect_file(collection, path, params, redactor)

    result: dict[str, Any] = {
        "units": collection.units,
        "files": collection.files,
        "not_collected": collection.skipped,
        "redactions": sum(e["redactions"] for e in collection.units + collection.files),
        "bytes": sum(len(m.data) for m in collection.members),
        "dest": params["dest"],
        "window": {"since": params["since"], "until": params["until"], "collected_at": collected_at},
    }
    if module.check_mode:
        module.exit_json(changed=True, **result)
    try:
        result["archive_bytes"] = write_archive(params["dest"], collection.members, uid, gid)
    except OSError as exc:
        module.fail_json(msg=f"Cannot write {params['dest']}: {exc}", **result)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
