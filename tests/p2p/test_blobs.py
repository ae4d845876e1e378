"""The content-addressed blob store on a real directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from node.blobs import BlobCorruptError, BlobNotFoundError, BlobStore, InvalidDigestError


def test_put_get_roundtrip_and_layout(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"weights" * 1000
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.has(digest)
    assert store.size(digest) == len(data)
    assert store.get(digest) == data
    assert store.path(digest) == tmp_path / "blobs" / digest[:2] / digest
    assert store.put(data) == digest  # idempotent
    assert store.read_range(digest, 7, 7) == b"weights"


def test_put_file_streams_into_store(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(bytes(range(256)) * 5000)
    store = BlobStore(tmp_path / "blobs")
    digest = store.put_file(src)
    assert store.get(digest) == src.read_bytes()


def test_missing_blob_is_a_clear_error(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    missing = "ab" * 32
    assert not store.has(missing)
    with pytest.raises(BlobNotFoundError, match="not found"):
        store.get(missing)
    with pytest.raises(BlobNotFoundError):
        store.size(missing)


@pytest.mark.parametrize(
    "digest",
    ["../" * 21 + "x", "/etc/passwd", "AB" * 32, "ab" * 31, "ab" * 33, "g" * 64, "", "..", "ab" * 31 + "/."],
)
def test_digest_cannot_traverse_paths(tmp_path: Path, digest: str) -> None:
    store = BlobStore(tmp_path / "blobs")
    for op in (store.path, store.has, store.get, store.partial_path, store.delete):
        with pytest.raises(InvalidDigestError, match="invalid blob digest"):
            op(digest)


def test_tampered_blob_on_disk_is_detected(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = store.put(b"x" * 100)
    store.path(digest).write_bytes(b"y" * 100)
    with pytest.raises(BlobCorruptError, match="does not match"):
        store.get(digest)
    assert store.get(digest, verify=False) == b"y" * 100


def test_partial_download_resumes_and_finishes_atomically(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = bytes(range(200)) * 50
    digest = hashlib.sha256(data).hexdigest()
    assert store.partial_size(digest) == 0
    assert store.append_partial(digest, data[:3000]) == 3000
    # A new store on the same root (a restart) sees the same offset.
    store = BlobStore(tmp_path)
    assert store.partial_size(digest) == 3000
    assert not store.has(digest)
    store.append_partial(digest, data[3000:])
    path = store.finish_partial(digest)
    assert path.read_bytes() == data
    assert store.partial_size(digest) == 0


def test_corrupt_partial_is_discarded(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"a" * 1000
    digest = hashlib.sha256(data).hexdigest()
    store.append_partial(digest, b"a" * 500 + b"b" + b"a" * 499)
    with pytest.raises(BlobCorruptError, match="expected"):
        store.finish_partial(digest)
    assert store.partial_size(digest) == 0
    assert not store.has(digest)
