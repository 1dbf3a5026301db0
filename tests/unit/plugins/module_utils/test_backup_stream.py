"""Backup files: zstd and gpg AES256 in pipes, round trip, wrong passphrase, and no partial file left behind."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import (
    Encoding,
    StreamError,
    command_into,
    copy_stream,
    decoded_reader,
    encoded_writer,
)

PAYLOAD = os.urandom(300_000) + b"the same text again " * 10_000
PASSPHRASE = "correct horse battery staple"


@pytest.mark.parametrize(
    "encoding",
    [
        Encoding(),
        Encoding(passphrase=PASSPHRASE),
        Encoding(compress=False, passphrase=PASSPHRASE),
        Encoding(compress=False),
    ],
    ids=["zstd", "zstd+gpg", "gpg", "plain"],
)
def test_round_trip(tmp_path, encoding):
    path = str(tmp_path / f"data{encoding.suffix()}")
    with encoded_writer(path, encoding) as writer:
        writer.write(PAYLOAD)
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path, "rb") as handle:
        raw = handle.read()
    if encoding.passphrase:
        assert PAYLOAD[:64] not in raw and b"the same text again" not in raw  # encrypted at rest
    with decoded_reader(path, encoding) as reader:
        assert reader.read() == PAYLOAD


def test_wrong_passphrase_is_reported(tmp_path):
    path = str(tmp_path / "data.zst.gpg")
    with encoded_writer(path, Encoding(passphrase=PASSPHRASE)) as writer:
        writer.write(PAYLOAD)
    with (
        pytest.raises(StreamError, match="gpg"),
        decoded_reader(path, Encoding(passphrase="not the passphrase")) as reader,
    ):
        reader.read()


def test_a_failed_write_leaves_no_file(tmp_path):
    path = str(tmp_path / "data.zst")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), encoded_writer(path, Encoding()) as writer:
        writer.write(b"half")
        raise Boom
    assert not os.path.exists(path) and not os.path.exists(path + ".partial")


def test_copy_stream_hashes_what_it_copies(tmp_path):
    import hashlib
    import io

    target = io.BytesIO()
    size, digest = copy_stream(io.BytesIO(PAYLOAD), target)
    assert size == len(PAYLOAD) and digest == hashlib.sha256(PAYLOAD).hexdigest()
    assert target.getvalue() == PAYLOAD


def test_a_failed_command_leaves_no_file_and_says_why(tmp_path):
    path = str(tmp_path / "dump.zst")
    script = "import sys; sys.stdout.write('x' * 100000); sys.stderr.write('e' * 200000 + 'boom'); sys.exit(3)"
    with pytest.raises(StreamError, match=r"exit code 3: e+boom"):
        command_into([sys.executable, "-c", script], path, Encoding())
    assert not os.path.exists(path) and not os.path.exists(path + ".partial")
    command_into([sys.executable, "-c", "print('ok')"], path, Encoding())
    with decoded_reader(path, Encoding()) as reader:
        assert reader.read() == b"ok\n"


def test_a_reader_that_gives_up_does_not_drain_the_rest(tmp_path):
    path = str(tmp_path / "data.zst")
    with encoded_writer(path, Encoding()) as writer:
        writer.write(PAYLOAD)

    class Stop(Exception):
        pass

    with pytest.raises(Stop), decoded_reader(path, Encoding()) as reader:
        reader.read(10)
        raise Stop


def test_a_full_disk_is_named(tmp_path):
    path = tmp_path / "data.zst.gpg"
    (tmp_path / "data.zst.gpg.partial").symlink_to("/dev/full")
    script = "import sys; sys.stdout.buffer.write(b'x' * 5_000_000)"
    with pytest.raises(StreamError, match="No space left on device"):
        command_into([sys.executable, "-c", script], str(path), Encoding(passphrase=PASSPHRASE))
    assert not os.path.lexists(str(path) + ".partial") and not path.exists()
