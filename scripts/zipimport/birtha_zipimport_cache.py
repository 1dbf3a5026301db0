# Copyright: (c) 2026, Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Compiled code of modules imported from zip archives, kept by their source's hash: for the test hosts and the
checkout's virtualenv.

Every Ansible module runs as an AnsiballZ zip, and Python's zipimport compiles each module_utils file it imports from
source, twice (``get_filename`` and ``get_code`` both compile), on every task: on the 2-core test machines a module
run cost 0.26 CPU-s without this and 0.19 with it (60 runs of ``command`` and ``stat`` on a test host, 2026-12-08),
and ``make test`` runs many thousands of modules. Files imported from disk keep their compiled form in
``__pycache__``; this gives zip imports a cache of the same kind.

scripts/build-host-layer.sh puts this file and a ``.pth`` line importing it in the test hosts' image, a
layer on the base image (the execution environment is built on the base, without it), so the system Python of every
Molecule host and the sandbox loads it at start; MLflow's virtualenv does not. scripts/venv.sh puts it in the
checkout's ``.venv``, for the modules that run on the controller (localhost tasks, the bad-input tests); it loads in
every ``.venv`` process and writes only when that runs as root.

``/var/cache/birtha-zipimport`` is safe to share and to delete (``rm -rf``); it grows by one file per distinct
source. An entry is keyed by the source's sha256, under a directory named for the interpreter, its bytecode magic
number and its optimisation level. Only root writes it, with the directories made 0755 whatever the umask, and
only when both directories are real directories that root owns and nobody else can write are entries read (and only
files root owns and alone can write): code another user could plant must never reach root's modules.

What a module does is unchanged: the code loaded is what ``compile`` gave for the same source, with its file name
set to this run's archive path (as importlib does for ``__pycache__`` files). A source whose compilation warns at
all, whatever the warning filters, is never cached, so its warnings and ``-W error`` behave as without the cache.
Only the main thread uses the cache (others compile as without it). While root writes an entry, the compilation
that checks it for warnings changes the process's warning filters for that moment: the registries are reset (a
"once" warning can show again), and a warning another thread raises meanwhile is taken for the source's, so that
thread neither shows it nor fails on it under ``-W error``, and the source is not cached.
"""

from __future__ import annotations

import _frozen_importlib_external
import _imp
import _thread
import contextlib
import marshal
import os
import stat
import sys
import warnings
import zipimport
from collections.abc import Callable
from types import CodeType

CACHE_ROOT = "/var/cache/birtha-zipimport"
CACHE_DIR = os.path.join(
    CACHE_ROOT,
    f"{sys.implementation.cache_tag}-{_frozen_importlib_external.MAGIC_NUMBER.hex()}-opt{sys.flags.optimize}"
    # The entries' format: -v2 never caches a source that warns; the first version's entries are never read.
    "-v2",
)
# zipimport's own function, kept in zipimport itself: a reload of this module must wrap it, never its own wrapper.
_ORIGINAL: Callable[[str, bytes], CodeType] | None = zipimport.__dict__.setdefault(
    "_birtha_original_compile_source", getattr(zipimport, "_compile_source", None)
)
_MAIN_THREAD = _thread.get_ident()


def _root_only(path: str) -> bool:
    """A real directory (not a link) that root owns and nobody else can write."""
    try:
        status = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == 0 and not status.st_mode & 0o022


def _trusted() -> bool:
    return _root_only(CACHE_ROOT) and _root_only(CACHE_DIR)


def _make_directories() -> bool:
    """Root makes the missing levels, 0755 whatever its umask; an existing one must already be root's alone."""
    for directory in (CACHE_ROOT, CACHE_DIR):
        try:
            os.mkdir(directory, 0o755)
            os.chmod(directory, 0o755)
        except FileExistsError:
            pass
        except OSError:
            return False
        if not _root_only(directory):
            return False
    return True


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
    """Through a file of its own renamed into place: a concurrent reader never sees half of one."""
    import tempfile

    partial = ""
    try:
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


def _compile_without_warnings(pathname: str, source: bytes) -> CodeType | None:
    """The code, if compiling the source warns of nothing even with every warning shown; else None."""
    assert _ORIGINAL is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = _ORIGINAL(pathname, source)
    return None if caught else code


def compile_source(pathname: str, source: bytes) -> CodeType:
    assert _ORIGINAL is not None
    if _thread.get_ident() != _MAIN_THREAD:
        return _ORIGINAL(pathname, source)
    root = os.geteuid() == 0
    trusted = _trusted()
    if not trusted and not (root and _make_directories()):
        return _ORIGINAL(pathname, source)
    path = _cache_path(source)
    if trusted:
        code = _read(path)
        if code is not None:
            _imp._fix_co_filename(code, pathname)
            return code
    # Not sys.dont_write_bytecode: that keeps __pycache__ from beside the sources (CI's environment sets it); this
    # cache is elsewhere, and installing the hook is what asks for it.
    if not root:
        return _ORIGINAL(pathname, source)
    code = _compile_without_warnings(pathname, source)
    if code is None:
        # It warns: compiled again under the caller's own filters (shown, ignored or an error, as they say).
        return _ORIGINAL(pathname, source)
    _write(path, code)
    return code


# In the versions whose zipimport has this helper with this signature (looked up at each call).
if (3, 8) <= sys.version_info[:2] <= (3, 13) and callable(_ORIGINAL):
    zipimport._compile_source = compile_source  # type: ignore[attr-defined]
