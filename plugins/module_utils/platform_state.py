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
import tempfile
from dataclasses import dataclass, field

STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600
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
            # Atomic writes leave nothing behind, but a crash may: never read a temporary file as state.
            if name.startswith(".tmp-"):
                continue
            with open(full, encoding="utf-8") as handle:
                found[os.path.relpath(full, path)] = handle.read()
    return found


def is_deployed(patterns: list[str]) -> bool:
    """True when any of the glob patterns matches: a sign the platform runs, with or without kept state."""
    return any(glob.glob(pattern) for pattern in patterns)


def matches_any(name: str, patterns: list[str]) -> bool:
    """True when ``name`` matches one of the fnmatch patterns."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def generate_secret(length: int) -> str:
    """A random secret of letters and digits (safe in env files, URLs and connection strings)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


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
) -> Plan:
    """Reconcile the supplied values with the kept ones.

    A supplied value that differs from a kept one is a mismatch unless its name matches ``replace``. A value
    neither supplied nor kept is taken from ``fallback`` (a controller's copy: never compared, the platform wins),
    else generated when it is in ``generate`` and ``may_generate`` holds, else it is missing when it is in
    ``required``.
    """
    result = Plan(values=dict(kept))
    for name, value in sorted(supply.items()):
        if value is None or value == "":
            continue
        if name in kept:
            if _same(value, kept[name]):
                continue
            if not matches_any(name, replace):
                result.mismatched.append(name)
                continue
        result.values[name] = value
        result.write[name] = value
    for name, value in sorted((fallback or {}).items()):
        if value and name not in result.values:
            result.values[name] = value
            result.write[name] = value
    for name, length in sorted(generate.items()):
        if name in result.values:
            continue
        if may_generate:
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
    for name, value in sorted(values.items()):
        target = os.path.join(path, name)
        directory = os.path.dirname(target)
        _make_private_dir(directory, owner)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(value)
            os.chmod(temporary, STATE_FILE_MODE)
            if owner is not None:
                os.chown(temporary, *owner)
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def remove_state(path: str, names: list[str]) -> list[str]:
    """Delete the named files under ``path``; returns those that existed."""
    removed = []
    for name in sorted(names):
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
