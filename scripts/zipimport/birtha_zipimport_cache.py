# Copyright: (c) 2026, Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Compiled code of modules imported from zip archives, kept by their source's hash: test hosts and CI only.

Every Ansible module runs as an AnsiballZ zip, and Python's zipimport compiles each module_utils file it imports from
source, twice (``get_filename`` and ``get_code`` both compile), on every task: on the 2-core test machines a module
run cost 0.26 CPU-s without this and 0.19 with it (60 runs of ``command`` and ``stat`` on a test host), and
``make test`` runs many thousands of modules. Files imported from disk keep their compiled form in ``__pycache__``;
this gives zip imports a cache of the same kind.

scripts/build-image.sh puts this file and a ``.pth`` line importing it in the test hosts' image (not in the base the
execution environment is built on), so the system Python of every Molecule host and the sandbox loads it at start;
MLflow's virtualenv does not. scripts/venv.sh puts it in the checkout's ``.venv``, for the modules that run on the
controller (localhost tasks, the bad-input tests); it loads in every ``.venv`` process, and writes only when that
runs as root (CI).

Safe to share and to delete (``/var/cache/birtha-zipimport``): an entry is keyed by the source's sha256 under a
directory named for the interpreter, its bytecode magic number and its optimisation level. Only root writes it, and
only a directory and files that root owns and alone can write are used: code another user could plant must never
reach root's modules. A source whose compilation warns is never cached, so its warnings (and ``-W error``) behave as
without the cache. The code loaded is what ``compile`` gave for the same source, with its file name set to this
run's archive path (as importlib does for ``__pycache__`` files).
"""

from __future__ import annotations

import _frozen_importlib_external
import _imp
import contextlib
import marshal
import os
import stat
import sys
import warnings
import zipimport
from types import CodeType

CACHE_ROOT = "/var/cache/birtha-zipimport"
CACHE_DIR = os.path.join(
    CACHE_ROOT,
    f"{sys.implementation.cache_tag}-{_frozen_importlib_external.MAGIC_NUMBER.hex()}-opt{sys.flags.optimize}",
)


def _root_only(path: str) -> bool:
    """A real directory (not a link) that root owns and nobody else can write."""
    try:
        status = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == 0 and not status.st_mode & 0o022


def _cache_path(source: bytes) -> str:
    import hashlib  # here: a Python that never imports from a zip does not load OpenSSL at its start

    return os.path.join(CACHE_DIR, hashlib.sha256(source).hexdigest())


def _read(path: str) -> CodeType | None:
    """The cached code, if the file is root's own and nobody else can have written it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(descriptor, "rb") as cached:
            status = os.fstat(cached.fileno())
            if status.st_uid != 0 or status.st_mode & 0o022:
                return None
            code = marshal.loads(cached.read())
    except Exception:  # any unreadable entry is a miss: the source is compiled instead
        return None
    return code if isinstance(code, CodeType) else None


def _write(path: str, code: CodeType) -> None:
    """Root only, through a file of its own renamed into place: a concurrent reader never sees half of one."""
    if os.geteuid() != 0:
        return
    import tempfile

    partial = ""
    try:
        os.makedirs(CACHE_DIR, mode=0o755, exist_ok=True)
        if not (_root_only(CACHE_ROOT) and _root_only(CACHE_DIR)):
            return
        descriptor, partial = tempfile.mkstemp(dir=CACHE_DIR, prefix=".partial-")
        with os.fdopen(descriptor, "wb") as out:
            os.fchmod(out.fileno(), 0o644)
            out.write(marshal.dumps(code))
        os.replace(partial, path)
        partial = ""
    except OSError:
        pass
    finally:
        if partial:
            with contextlib.suppress(OSError):
                os.unlink(partial)


def compile_source(pathname: str, source: bytes) -> CodeType:
    if not (_root_only(CACHE_ROOT) and _root_only(CACHE_DIR)) and os.geteuid() != 0:
        return _compile_source(pathname, source)
    path = _cache_path(source)
    if _root_only(CACHE_DIR):
        code = _read(path)
        if code is not None:
            _imp._fix_co_filename(code, pathname)
            return code
    with warnings.catch_warnings(record=True) as caught:
        code = _compile_source(pathname, source)
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno or 0)
    if not caught:
        _write(path, code)
    return code


# zipimport's module-level helper, looked up at each call, in the versions whose signature this matches.
_compile_source = getattr(zipimport, "_compile_source", None)
if (3, 8) <= sys.version_info[:2] <= (3, 13) and callable(_compile_source) and _compile_source is not compile_source:
    if getattr(_compile_source, "__module__", "") != __name__:
        zipimport._compile_source = compile_source  # type: ignore[attr-defined]
