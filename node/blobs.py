"""Content-addressed blob store: job inputs, weights, outputs and checkpoints, named by SHA-256.

A blob lives at ``<root>/<aa>/<digest>`` where ``digest`` is the 64-character lowercase hex SHA-256
of its bytes and ``aa`` its first two characters. Downloads in progress live at
``<root>/partial/<digest>.part`` so that a transfer cut off mid-way can continue from its offset;
:meth:`BlobStore.finish_partial` checks the digest and moves the file into place with an atomic
rename, so a reader never sees a half-written blob under its final name.

Error handling: a digest that is not 64 hex characters raises :class:`InvalidDigestError` before
any path is built (so ``../`` or an absolute path can never escape ``root``); a missing blob raises
:class:`BlobNotFoundError`; bytes that do not hash to their name raise :class:`BlobCorruptError`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from node.errors import CcmError

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_HASH_BUFFER = 1 << 20


class BlobError(CcmError):
    """Base of the blob store's errors; ``digest`` names the blob concerned (as given)."""

    def __init__(self, digest: str, message: str) -> None:
        self.digest = digest
        super().__init__(message)


class InvalidDigestError(BlobError):
    """A digest is not 64 lowercase hex characters."""


class BlobNotFoundError(BlobError):
    """The store holds no blob with this digest."""


class BlobCorruptError(BlobError):
    """Bytes do not hash to the digest they were stored or sent under."""


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise :class:`InvalidDigestError`."""
    if not isinstance(digest, str) or _DIGEST_RE.fullmatch(digest) is None:
        shown = repr(digest)[:80]
        raise InvalidDigestError(
            str(digest)[:80], f"invalid blob digest {shown}: need 64 lowercase hex chars"
        )
    return digest


def sha256_hex(data: bytes) -> str:
    """The blob digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_BUFFER):
            h.update(chunk)
    return h.hexdigest()


class BlobStore:
    """A directory of immutable blobs named by their SHA-256, plus resumable partial downloads.

    Resource handling: every write goes to a temporary file in the same directory followed by
    ``os.replace``; blobs are never modified in place. The store is safe for one writer per
    digest; two writers of the same digest produce the same bytes, so the last rename wins harmlessly.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._partial_dir = self.root / "partial"
        self._partial_dir.mkdir(exist_ok=True)

    # --- complete blobs -------------------------------------------------------------------------

    def path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives (whether or not it exists yet)."""
        validate_digest(digest)
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        """Whether the store holds the complete blob ``digest``."""
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        """Size in bytes of the blob ``digest``."""
        p = self.path(digest)
        try:
            return p.stat().st_size
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"blob {digest} not found") from None

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its hex digest (a no-op if it is already there)."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if not target.is_file():
            self._atomic_write(target, data)
        return digest

    def put_file(self, source: Path) -> str:
        """Copy a file into the store and return its digest, without loading it whole."""
        digest = sha256_file(source)
        target = self.path(digest)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                    while chunk := src.read(_HASH_BUFFER):
                        out.write(chunk)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return digest

    def get(self, digest: str, *, verify: bool = True) -> bytes:
        """The bytes of blob ``digest``; with ``verify`` (default) they are re-hashed first."""
        p = self.path(digest)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"blob {digest} not found") from None
        if verify and sha256_hex(data) != digest:
            raise BlobCorruptError(digest, f"blob {digest} on disk does not match its digest")
        return data

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of blob ``digest`` from ``offset`` (for serving chunks)."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        p = self.path(digest)
        try:
            with p.open("rb") as f:
                f.seek(offset)
                return f.read(length)
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"blob {digest} not found") from None

    def iter_chunks(self, digest: str, *, offset: int = 0, chunk_size: int) -> Iterator[bytes]:
        """Yield the blob from ``offset`` in chunks of at most ``chunk_size`` bytes."""
        p = self.path(digest)
        try:
            f = p.open("rb")
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"blob {digest} not found") from None
        with f:
            f.seek(offset)
            while chunk := f.read(chunk_size):
                yield chunk

    def delete(self, digest: str) -> None:
        """Remove blob ``digest`` if present (when the job it belongs to is final)."""
        self.path(digest).unlink(missing_ok=True)

    # --- partial downloads ----------------------------------------------------------------------

    def partial_path(self, digest: str) -> Path:
        """The file a download of ``digest`` appends to."""
        validate_digest(digest)
        return self._partial_dir / f"{digest}.part"

    def partial_size(self, digest: str) -> int:
        """How many bytes of ``digest`` a previous download already saved (0 if none)."""
        try:
            return self.partial_path(digest).stat().st_size
        except FileNotFoundError:
            return 0

    def append_partial(self, digest: str, data: bytes) -> int:
        """Append ``data`` to the partial download of ``digest``; return the new size.

        Not fsynced per chunk (that halves throughput): after a power loss the resume offset may
        count bytes that never reached the disk, and the final digest check discards such a file.
        """
        p = self.partial_path(digest)
        with p.open("ab") as f:
            f.write(data)
            return f.tell()

    def truncate_partial(self, digest: str, size: int) -> None:
        """Cut the partial download of ``digest`` back to ``size`` bytes (0 removes it)."""
        p = self.partial_path(digest)
        if size <= 0:
            p.unlink(missing_ok=True)
            return
        with p.open("r+b") as f:
            f.truncate(size)

    def discard_partial(self, digest: str) -> None:
        """Forget a partial download of ``digest``."""
        self.partial_path(digest).unlink(missing_ok=True)

    def open_partial(self, digest: str) -> PartialWriter:
        """A :class:`PartialWriter` appending to the partial download of ``digest``.

        The bytes already there (a resumed download) are hashed once here, so the writer knows the
        digest of everything it appends without reading the file again at the end.
        """
        return PartialWriter(self, digest)

    def finish_partial(self, digest: str) -> Path:
        """Check the partial download against ``digest`` and move it into place atomically.

        On a mismatch the partial file is removed (its bytes are worthless) and
        :class:`BlobCorruptError` is raised.
        """
        p = self.partial_path(digest)
        if not p.is_file():
            raise BlobNotFoundError(digest, f"no partial download of {digest}")
        return self._promote(digest, sha256_file(p))

    def _promote(self, digest: str, actual: str) -> Path:
        """Move a partial file whose bytes hash to ``actual`` into place, or discard it on a mismatch."""
        p = self.partial_path(digest)
        if actual != digest:
            p.unlink(missing_ok=True)
            raise BlobCorruptError(digest, f"downloaded bytes hash to {actual}, expected {digest}")
        with p.open("rb+") as f:
            os.fsync(f.fileno())
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(p, target)
        return target

    def _atomic_write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class PartialWriter:
    """Appends to one partial download and hashes every byte as it is written.

    Why: checking the digest by reading the whole file back at the end costs a second pass over
    it; hashing each batch right after writing it (in the same worker thread, ``hashlib`` releases
    the GIL) makes :meth:`finish` a comparison. Corruption detection is the same: the digest covers
    exactly the bytes appended to the file, resumed prefix included.

    Resource handling: the file stays open from construction to :meth:`finish` or :meth:`close`
    (idempotent); a writer that is closed without finishing leaves its bytes for a resume. Not
    thread-safe: one thread at a time (the transfer hands it to one worker thread per batch).
    """

    def __init__(self, store: BlobStore, digest: str) -> None:
        self.store = store
        self.digest = digest
        self.path = store.partial_path(digest)
        self._hash = hashlib.sha256()
        self._file: IO[bytes] | None = self.path.open("a+b")
        try:
            self._file.seek(0)
            while chunk := self._file.read(_HASH_BUFFER):
                self._hash.update(chunk)
            self.size = self._file.tell()
        except BaseException:
            self.close()
            raise

    def write(self, pieces: Iterable[bytes]) -> int:
        """Append ``pieces`` in order (one buffered write each) and hash them; the new size."""
        if self._file is None:
            raise ValueError(f"partial writer of {self.digest} is closed")
        for piece in pieces:
            self._file.write(piece)
            self._hash.update(piece)
            self.size += len(piece)
        return self.size

    def finish(self) -> Path:
        """Flush, compare the running digest, move the file into place (as ``finish_partial``)."""
        if self._file is None:
            raise ValueError(f"partial writer of {self.digest} is closed")
        self._file.flush()
        self.close()
        return self.store._promote(self.digest, self._hash.hexdigest())

    def close(self) -> None:
        """Close the file (the bytes stay for a resume)."""
        if self._file is not None:
            self._file.close()
            self._file = None
