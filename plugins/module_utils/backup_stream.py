# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Streams into and out of backup files: zstd compression and gpg AES256 encryption, in pipes.

The passphrase reaches gpg through an inherited pipe (--passphrase-fd), never a command line or a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any

CHUNK = 1024 * 1024


class StreamError(RuntimeError):
    """A compression, encryption or source command failed; the message names which and why."""


@dataclass(frozen=True)
class Encoding:
    """How a backup file is written: compression and, with a passphrase, encryption."""

    compress: bool = True
    level: int = 3
    threads: int = 0
    passphrase: str | None = None

    def suffix(self) -> str:
        return (".zst" if self.compress else "") + (".gpg" if self.passphrase else "")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Encoding:
        """The encoding a module's parameters (built from encoding_argument_spec) ask for."""
        return cls(params["compress"], params["zstd_level"], params["zstd_threads"], params["passphrase"])


def encoding_argument_spec() -> dict[str, Any]:
    """The options of doc fragment birtha.mlflow.mlflow.backup_encoding."""
    return {
        "compress": {"type": "bool", "default": True},
        "zstd_level": {"type": "int", "default": 3},
        "zstd_threads": {"type": "int", "default": 0},
        "passphrase": {"type": "str", "no_log": True},
    }


def require_tools(encoding: Encoding) -> None:
    for tool, needed in (("zstd", encoding.compress), ("gpg", bool(encoding.passphrase))):
        if needed and shutil.which(tool) is None:
            raise StreamError(f"{tool} is not installed on this host; the backup roles install it.")


def _passphrase_fd(passphrase: str) -> int:
    """A readable pipe end holding the passphrase, for gpg --passphrase-fd."""
    read_end, write_end = os.pipe()
    os.write(write_end, passphrase.encode() + b"\n")
    os.close(write_end)
    return read_end


def _gpg_command(homedir: str, fd: int, decrypt: bool) -> list[str]:
    base = ["gpg", "--homedir", homedir, "--batch", "--yes", "--no-tty", "--quiet", "--pinentry-mode", "loopback"]
    base += ["--no-symkey-cache"]  # no agent keeps the passphrase after gpg exits
    base += ["--passphrase-fd", str(fd)]
    if decrypt:
        return [*base, "--decrypt"]
    # Compression is zstd's job; gpg's own would only cost time.
    return [*base, "--symmetric", "--cipher-algo", "AES256", "--compress-algo", "none"]


def _close_quietly(stream: IO[bytes]) -> None:
    with suppress(BrokenPipeError):  # _check reports why the reader went away
        stream.close()


def _check(processes: list[tuple[str, subprocess.Popen]]) -> None:
    for name, process in processes:
        code = process.wait()
        if code != 0:
            error = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
            raise StreamError(f"{name} failed with exit code {code}: {error or 'no message'}")


@contextmanager
def encoded_writer(path: str, encoding: Encoding) -> Iterator[IO[bytes]]:
    """A binary stream; what is written to it lands in path, compressed and encrypted as encoding says.

    The file is created 0600 and only renamed into place when every stage succeeded.
    """
    require_tools(encoding)
    partial = path + ".partial"
    try:
        with _partial_writer(partial, encoding) as stream:
            yield stream
        fsync_path(partial)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    os.replace(partial, path)
    fsync_path(os.path.dirname(path) or ".")


def fsync_path(path: str) -> None:
    """On disk before it is renamed into place or a marker says the set is complete."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomic(path: str, text: str, mode: int, owner: tuple[int, int] | None = None) -> None:
    """Replace path with text as one step (a temporary file beside it, fsynced, renamed, the directory fsynced): a
    reader or a crash sees the old content or the new, never a part."""
    directory = os.path.dirname(path) or "."
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        if owner is not None:
            os.chown(temporary, *owner)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    fsync_path(directory)


@contextmanager
def _partial_writer(partial: str, encoding: Encoding) -> Iterator[IO[bytes]]:
    with ExitStack() as stack:
        out = stack.enter_context(open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"))
        stages: list[tuple[str, list[str], dict[str, Any]]] = []
        if encoding.compress:
            stages.append(("zstd", ["zstd", "-q", f"-{encoding.level}", f"-T{encoding.threads}", "-c"], {}))
        if encoding.passphrase:
            homedir = stack.enter_context(tempfile.TemporaryDirectory(prefix="birtha-gpg-"))
            fd = _passphrase_fd(encoding.passphrase)
            stack.callback(os.close, fd)
            stages.append(("gpg", _gpg_command(homedir, fd, decrypt=False), {"pass_fds": (fd,)}))
        if not stages:
            yield out
            out.flush()
        else:
            processes: list[tuple[str, subprocess.Popen]] = []
            downstream: Any = out
            for name, command, extra in reversed(stages):
                process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=downstream, stderr=subprocess.PIPE, **extra
                )
                if downstream is not out:
                    downstream.close()  # the child holds it now
                processes.insert(0, (name, process))
                downstream = process.stdin
            try:
                yield downstream
            except BrokenPipeError:
                # A stage stopped reading (gpg on a full disk, say); its own message says why.
                _close_quietly(downstream)
                _check(processes)
                raise StreamError("a compression or encryption stage stopped reading its input") from None
            finally:
                # Also when the writer failed or was abandoned: the stages get the end of their input and are
                # waited for, so none outlives the stream; the writer's own exception is what the caller sees.
                _close_quietly(downstream)
                for _stage, process in processes:
                    process.wait()
            _check(processes)


@contextmanager
def decoded_reader(path: str, encoding: Encoding) -> Iterator[IO[bytes]]:
    """A binary stream of path's content, decrypted and decompressed as encoding says."""
    require_tools(encoding)
    with ExitStack() as stack:
        source = stack.enter_context(open(path, "rb"))
        processes: list[tuple[str, subprocess.Popen]] = []
        upstream: Any = source
        if encoding.passphrase:
            homedir = stack.enter_context(tempfile.TemporaryDirectory(prefix="birtha-gpg-"))
            fd = _passphrase_fd(encoding.passphrase)
            stack.callback(os.close, fd)
            gpg = subprocess.Popen(
                _gpg_command(homedir, fd, decrypt=True),
                stdin=upstream,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(fd,),
            )
            processes.append(("gpg (wrong passphrase?)", gpg))
            upstream = gpg.stdout
        if encoding.compress:
            zstd = subprocess.Popen(
                ["zstd", "-q", "-d", "-c"], stdin=upstream, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            if upstream is not source:
                upstream.close()
            processes.append(("zstd", zstd))
            upstream = zstd.stdout
        try:
            yield upstream
        except BaseException:
            for _name, process in processes:  # the reader gave up: stop the producers, keep its error
                process.kill()
                process.wait()
            raise
        if upstream is not source:
            while upstream.read(CHUNK):  # let the producers finish, without holding the rest in memory
                pass
            upstream.close()
        _check(processes)


def command_into(command: list[str], path: str, encoding: Encoding) -> None:
    """Run command and stream its stdout through the encoding into path.

    Its exit status is checked before the file is renamed into place, so a failed command leaves no file;
    its stderr goes to a temporary file, so a chatty command cannot block on a full pipe.
    """
    with tempfile.TemporaryFile() as errors, encoded_writer(path, encoding) as writer:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        try:
            copy_stream(process.stdout, writer)
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise StreamError(f"{command[0]} failed with exit code {process.returncode}: {message or 'no message'}")


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_stream(source: IO[bytes], target: IO[bytes]) -> tuple[int, str]:
    """Copy source into target; return the bytes copied and their sha256."""
    digest = hashlib.sha256()
    size = 0
    for block in iter(lambda: source.read(CHUNK), b""):
        digest.update(block)
        size += len(block)
        target.write(block)
    return size, digest.hexdigest()
