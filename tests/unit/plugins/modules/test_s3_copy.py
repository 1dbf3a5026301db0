"""s3_copy's decisions: which objects are already checked copies, which keys are left out, and the spooled read
that gives a body its sha256. The copy itself runs against real stores (tests/faults/test_migrate_store.py)."""

from __future__ import annotations

import hashlib
import io

from ansible_collections.birtha.mlflow.plugins.modules.s3_copy import (
    ETAG_METADATA,
    SHA_METADATA,
    etag,
    excluded,
    is_current,
    spool,
)


def head(size: int, **metadata: str) -> dict:
    return {"ContentLength": size, "Metadata": metadata}


def test_only_a_checked_copy_of_the_current_source_object_counts_as_copied():
    copied = head(5, **{SHA_METADATA: "ab" * 32, ETAG_METADATA: "e1"})
    assert is_current(copied, 5, "e1")
    # The source object was overwritten since: its ETag changed.
    assert not is_current(copied, 5, "e2")
    assert not is_current(copied, 6, "e1")
    # Written by someone else (MLflow itself, another tool): no sha256 recorded.
    assert not is_current(head(5, **{ETAG_METADATA: "e1"}), 5, "e1")
    assert not is_current(None, 5, "e1")


def test_etags_are_compared_without_their_quotes_and_prefixes_exclude_whole_keys():
    assert etag('"9b2cf535f27731c974343645a3985328"') == "9b2cf535f27731c974343645a3985328"
    assert etag(None) == ""
    assert excluded("birtha-health/x.txt", ["birtha-health/"])
    assert not excluded("1/abc/artifacts/model.pkl", ["birtha-health/", ""])


def test_a_body_is_spooled_with_its_sha256_and_size():
    data = b"model weights " * 100_000
    spooled, sha256, size = spool(io.BytesIO(data))
    with spooled:
        assert (sha256, size) == (hashlib.sha256(data).hexdigest(), len(data))
        assert spooled.read() == data
