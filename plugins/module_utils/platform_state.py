# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Keep the platform's state (generated secrets, CA, issued certificates) in one root-only directory.

Pure logic for the platform_state module: which values a controller supplies, which the platform keeps, which
differ, which may be generated, and which must be written. Nothing here is ever allowed to replace a value the
platform keeps unless the caller names it in ``replace``.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import secrets
import string
from dataclasses import dataclass, field

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import write_atomic

STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600
# Counts the writes a state directory has had: a database cluster mirrors the state on every member, and the member
# with the highest count holds the newest copy. Not a value: never in the entries.
REVISION_NAME = ".revision"
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Plan:
    """What a reconciliation found and what it would write."""

    values: dict[str, str] = field(default_factory=dict)
    write: dict[str, str] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


def read_state(path: str) -> dict[str, str]:
    """Every file under ``path`` by its relative name ('tls/ca.crt'); an absent directory is empty."""
    found: dict[str, str] = {}
    if not os.path.isdir(path):
        return found
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            # Atomic writes leave nothing behind, but a crash may: never read a temporary file as state (write_atomic's
            # .<name>.<random>.tmp, or .tmp-<random> from earlier versions).
            if name.startswith(".tmp-") or (name.startswith(".") and name.endswith(".tmp")):
                continue
            relative = os.path.relpath(full, path)
            if relative == REVISION_NAME:
                continue
            with open(full, encoding="utf-8") as handle:
                found[relative] = normalise(handle.read())
    return found


def read_revision(path: str, kept: dict[str, str]) -> int:
    """The directory's write count: 0 with nothing kept, 1 for state kept before revisions were counted."""
    try:
        with open(os.path.join(path, REVISION_NAME), encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 1 if kept else 0


def write_revision(path: str, revision: int, owner: tuple[int, int] | None = None) -> None:
    """Record the write count, after the values: a write interrupted before it leaves new values under the old count,
    which the caller's comparison of the members' copies reports (same revision, other values) instead of mirroring
    a partial write as the newest."""
    _make_private_dir(path, owner)
    write_atomic(os.path.join(path, REVISION_NAME), f"{revision}\n", STATE_FILE_MODE, owner)


def mirror_plan(kept: dict[str, str], source: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """What makes ``kept`` an exact copy of ``source``: the values to write and the names to remove."""
    write = {name: value for name, value in source.items() if kept.get(name) != normalise(value)}
    return write, sorted(name for name in kept if name not in source)


def normalise(value: str) -> str:
    """A secret without the newline a file written by hand (or by an older rotation) ends with; PEM kept as is."""
    return value if value.lstrip().startswith("-----BEGIN") else value.rstrip("\n")


def check_name(name: str) -> None:
    """Refuse a name that would leave the state directory."""
    if not name or os.path.isabs(name) or ".." in name.split("/"):
        raise ValueError(f"{name!r} is not a name inside the state directory")


def is_deployed(patterns: list[str]) -> bool:
    """True when any of the glob patterns matches: a sign the platform runs, with or without kept state."""
    return any(glob.glob(pattern) for pattern in patterns)


def matches_any(name: str, patterns: list[str]) -> bool:
    """True when ``name`` matches one of the fnmatch patterns."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def generate_secret(length: int) -> str:
    """A random secret of letters and digits (safe in env files, URLs and connection strings)."""
    return "".join(secrets.choice(_ALPHABET) for _position in range(length))


def _same(supplied: str, kept: str) -> bool:
    # A file written by hand or by an editor may end with a newline the value never had.
    return supplied.rstrip("\n") == kept.rstrip("\n")


def plan(
    kept: dict[str, str],
    supply: dict[str, str],
    replace: list[str],
    generate: dict[str, int],
    required: list[str],
    may_generate: bool,
    fallback: dict[str, str] | None = None,
    deployed: bool = False,
) -> Plan:
    """Reconcile the supplied values with the kept ones.

    A supplied value that differs from a kept one is a mismatch unless its name matches ``replace``. A value
    neither supplied nor kept is taken from ``fallback`` (a controller's copy: never compared, the platform wins; a
    copy fills a directory such as ``tls/`` only where the platform keeps nothing in it), else generated when it is
    in ``generate`` and ``may_generate`` holds - a required one only while the platform is not ``deployed`` - else it
    is missing when it is in ``required``.
    """
    result = Plan(values=dict(kept))
    for name, value in sorted(supply.items()):
        if value is None or value == "":
            continue
        value = normalise(value)
        if name in kept:
            if _same(value, kept[name]):
                continue
            if not matches_any(name, replace):
                result.mismatched.append(name)
                continue
        result.values[name] = value
        result.write[name] = value
    kept_dirs = {os.path.dirname(name) for name in kept if "/" in name}
    for name, value in sorted((fallback or {}).items()):
        if value and name not in result.values and os.path.dirname(name) not in kept_dirs:
            result.values[name] = normalise(value)
            result.write[name] = result.values[name]
    for name, length in sorted(generate.items()):
        if name in result.values:
            continue
        # A required secret missing from a running platform's state was lost, not never made: the platform uses it.
        if may_generate and not (deployed and name in required):
            value = generate_secret(length)
            result.values[name] = value
            result.write[name] = value
            result.generated.append(name)
    result.missing = sorted(name for name in required if name not in result.values)
    if result.mismatched:
        # Nothing is written when anything differs: the run stops before any change.
        result.write = {}
    return result


def write_state(path: str, values: dict[str, str], owner: tuple[int, int] | None = None) -> None:
    """Write each value to ``path/<name>`` atomically, directories 0700 and files 0600."""
    _make_private_dir(path, owner)
    # Old values kept aside (<name>.previous-<time>) land before the new ones: a crash never loses the old value.
    for name, value in sorted(values.items(), key=lambda item: (".previous-" not in item[0], item[0])):
        check_name(name)
        target = os.path.join(path, name)
        _make_private_dir(os.path.dirname(target), owner)
        write_atomic(target, value, STATE_FILE_MODE, owner)


def remove_state(path: str, names: list[str]) -> list[str]:
    """Delete the named files under ``path``; returns those that existed."""
    removed = []
    for name in sorted(names):
        check_name(name)
        target = os.path.join(path, name)
        if os.path.isfile(target):
            os.unlink(target)
            removed.append(name)
    return removed


def _make_private_dir(path: str, owner: tuple[int, int] | None) -> None:
    os.makedirs(path, mode=STATE_DIR_MODE, exist_ok=True)
    os.chmod(path, STATE_DIR_MODE)
    if owner is not None:
        os.chown(path, *owner)
