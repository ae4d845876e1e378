"""Content-addressed blob transfer over /ccm/blob/1.0.0: chunked, hash-checked, resumable.

Wire exchange (frames as in :mod:`node.p2p.codec`)::

    client → server   json  BlobRequest(digest, offset)
    server → client   json  BlobHeader(digest, size, offset, chunk_size)   | error frame (not_found, …)
    server → client   data  chunk … (each ≤ chunk_size) until size - offset bytes

The client appends the chunks to the store's partial file for that digest as they arrive, so a
transfer cut off by a dropped connection resumes from the bytes already on disk
(:func:`fetch_blob` asks for that offset). Every byte is hashed as it is appended
(:class:`~node.blobs.PartialWriter`); when the last byte is in, the digest is compared and the
file renamed into place atomically; a mismatch (a corrupted or forged chunk) throws the partial
file away and raises :class:`~node.blobs.BlobCorruptError`.

Throughput: disk reads, writes and hashing run in worker threads so a multi-megabyte transfer
does not stall the event loop that also answers pings and audits, but not one thread per chunk:
the server reads :data:`READ_AHEAD` bytes per thread call, one batch ahead of the stream; the
client's disk task takes every chunk waiting in its queue (up to :data:`WRITE_BATCH` bytes) in one
thread call that writes and hashes them, while the event loop goes on reading the stream.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

import trio

from node.blobs import BlobNotFoundError, BlobStore, PartialWriter, validate_digest
from node.errors import ProtocolError
from node.p2p.codec import FRAME_DATA, HEADER_SIZE, FrameStream, RemoteError, SchemaError, encode_frame
from node.p2p.host import Host, flatten_exceptions
from node.p2p.messages import BLOB_PROTOCOL, BlobHeader, BlobRequest
from node.p2p.reqresp import RequestRefused, close_quietly, guard

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 1 << 20
MAX_CHUNK = 4 << 20
READ_AHEAD = 4 << 20
"""Bytes the server reads from disk per worker-thread call (a whole number of chunks, at least one)."""
MIN_BATCH = 4 << 20
"""The client's disk task waits for this many bytes (or the end) before a thread call: fewer hand-offs."""
WRITE_BATCH = 8 << 20
"""At most this many received bytes are written and hashed per worker-thread call on the client."""
_DATA_HEADER = struct.Struct(">BI")
"""The codec's frame header (kind, payload length), written in place by the server's read-ahead."""
if encode_frame(FRAME_DATA, b"xyz") != _DATA_HEADER.pack(FRAME_DATA, 3) + b"xyz":  # pragma: no cover
    raise ImportError("node.p2p.blob: frame header layout differs from node.p2p.codec")
QUEUE_CHUNKS = 16
"""Chunks the client may hold in memory between the stream and the disk (bounds memory per transfer)."""
DEFAULT_MAX_BLOB = 1 << 30
BLOB_TIMEOUT = 30.0
"""Seconds allowed for any single frame of a blob transfer (not for the whole blob)."""


@dataclass(frozen=True)
class ServedRequest:
    """One request the server answered (kept for logs and tests): who, what, from which offset."""

    peer_id: str
    digest: str
    offset: int


class BlobServer:
    """Serves the blobs of a :class:`BlobStore` to any peer that names their digest."""

    def __init__(self, store: BlobStore, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        if not 0 < chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk_size must be in 1..{MAX_CHUNK}")
        self.store = store
        self.chunk_size = chunk_size
        self.served: list[ServedRequest] = []

    def register(self, host: Host) -> None:
        """Answer :data:`BLOB_PROTOCOL` on ``host``."""
        host.set_handler(
            BLOB_PROTOCOL,
            guard(host, BLOB_PROTOCOL, self._handle, max_frame=self.chunk_size + 1024, timeout=BLOB_TIMEOUT),
        )

    async def _handle(self, peer: str, fs: FrameStream) -> None:
        req = await fs.read_message(BlobRequest, max_size=1024)
        try:
            size = self.store.size(req.digest)
        except BlobNotFoundError:
            raise RequestRefused("not_found", f"no blob {req.digest}") from None
        if req.offset > size:
            raise RequestRefused("bad_offset", f"offset {req.offset} beyond size {size}")
        self.served.append(ServedRequest(peer, req.digest, req.offset))
        await fs.write_message(
            BlobHeader(digest=req.digest, size=size, offset=req.offset, chunk_size=self.chunk_size)
        )
        batch = max(1, READ_AHEAD // self.chunk_size) * self.chunk_size
        path = self.store.path(req.digest)
        send, receive = trio.open_memory_channel[bytearray](1)  # one batch read ahead of the stream

        async def read_ahead() -> None:
            f = await trio.to_thread.run_sync(_open_at, path, req.offset)
            try:
                async with send:
                    for start in range(req.offset, size, batch):
                        frames = await trio.to_thread.run_sync(
                            _read_frames, f, min(batch, size - start), self.chunk_size
                        )
                        await send.send(frames)
            finally:
                f.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_ahead)
            async with receive:
                async for frames in receive:
                    await fs.stream.write(frames)  # type: ignore[arg-type]  # bytes-like: yamux slices it


def _read_frames(f: BufferedReader, length: int, chunk_size: int) -> bytearray:
    """``length`` bytes of ``f`` as consecutive data frames of ``chunk_size``, ready to send.

    Read straight into the frame buffer (``readinto`` behind each frame header): no copy on the
    event loop, and one stream write per batch instead of one per chunk.
    """
    n_frames = -(-length // chunk_size)
    out = bytearray(length + n_frames * HEADER_SIZE)
    view = memoryview(out)
    pos = 0
    for start in range(0, length, chunk_size):
        size = min(chunk_size, length - start)
        _DATA_HEADER.pack_into(out, pos, FRAME_DATA, size)
        pos += HEADER_SIZE
        got = f.readinto(view[pos : pos + size])
        if got != size:
            raise RuntimeError(f"{f.name} shrank while being served")
        pos += size
    return out


def _open_at(path: Path, offset: int) -> BufferedReader:
    f = path.open("rb")
    f.seek(offset)
    return f


async def fetch_blob(
    host: Host,
    peer_id: str,
    store: BlobStore,
    digest: str,
    *,
    max_size: int = DEFAULT_MAX_BLOB,
    timeout: float = BLOB_TIMEOUT,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download blob ``digest`` from ``peer_id`` into ``store`` (resuming a partial copy); return its path.

    ``max_size`` refuses a blob announced larger than that before any chunk is read; ``timeout``
    bounds each frame; ``on_progress(received, total)`` is called after each chunk. A transfer that
    breaks off leaves its partial file for the next call, which continues from there.

    Raises :class:`ProtocolError` subclasses for transport and peer faults (retryable),
    :class:`~node.p2p.codec.RemoteError` when the peer does not have the blob, and
    :class:`~node.blobs.BlobCorruptError` when the bytes do not match the digest.
    """
    validate_digest(digest)
    if store.has(digest):
        return store.path(digest)
    offset = store.partial_size(digest)
    stream = await host.open_stream(peer_id, BLOB_PROTOCOL, timeout=timeout)
    try:
        fs = FrameStream(stream, max_frame=MAX_CHUNK, timeout=timeout)
        await fs.write_message(BlobRequest(digest=digest, offset=offset))
        header = await fs.read_message(BlobHeader, max_size=1024)
        if header.digest != digest:
            raise SchemaError("digest", f"peer answered for {header.digest}, asked {digest}")
        if header.offset != offset:
            raise SchemaError("offset", f"peer starts at {header.offset}, asked {offset}")
        if header.size > max_size:
            raise SchemaError("size", f"blob of {header.size} bytes exceeds the cap of {max_size}")
        if header.chunk_size > MAX_CHUNK:
            raise SchemaError("chunk_size", f"above the cap of {MAX_CHUNK}")
        writer = await trio.to_thread.run_sync(store.open_partial, digest)
        try:
            if writer.size != offset:
                raise RuntimeError(f"partial download of {digest} changed while it was being resumed")
            await _receive(fs, writer, header.size, chunk_size=header.chunk_size, on_progress=on_progress)
            return await trio.to_thread.run_sync(writer.finish)
        finally:
            writer.close()
    finally:
        await close_quietly(stream)


async def _receive(
    fs: FrameStream,
    writer: PartialWriter,
    size: int,
    *,
    chunk_size: int,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Read data frames until ``size`` bytes are in; a second task writes and hashes them in batches.

    Error handling: a stream fault cancels the disk task after its current batch (a thread call is
    never abandoned half-way), so the partial file always holds a whole prefix for the next resume;
    the first error is raised as itself, not wrapped in an exception group.
    """
    send, receive = trio.open_memory_channel[bytes](QUEUE_CHUNKS)

    async def to_disk() -> None:
        async with receive:
            async for first in receive:
                batch, total = [first], len(first)
                while total < WRITE_BATCH:
                    try:
                        more = receive.receive_nowait()
                    except trio.EndOfChannel:
                        break
                    except trio.WouldBlock:
                        if total >= MIN_BATCH:
                            break
                        try:
                            more = await receive.receive()
                        except trio.EndOfChannel:
                            break
                    batch.append(more)
                    total += len(more)
                before = writer.size
                await trio.to_thread.run_sync(writer.write, batch)
                if on_progress is not None:
                    for chunk in batch:
                        before += len(chunk)
                        on_progress(before, size)

    async def from_stream() -> None:
        async with send:
            received = writer.size
            while received < size:
                chunk = await fs.read_data(max_size=min(chunk_size, size - received))
                if not chunk:
                    raise SchemaError("data", "empty chunk")
                received += len(chunk)
                await send.send(chunk)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(to_disk)
            await from_stream()
    except BaseExceptionGroup as group:
        leaves = flatten_exceptions(group)
        if len(leaves) == 1:
            raise leaves[0] from None
        raise


async def fetch_blob_resuming(
    host: Host,
    peer_addr: str,
    store: BlobStore,
    digest: str,
    *,
    attempts: int = 3,
    max_size: int = DEFAULT_MAX_BLOB,
    timeout: float = BLOB_TIMEOUT,
    retry_delay: float = 0.5,
) -> Path:
    """:func:`fetch_blob` from the peer at full multiaddr ``peer_addr``, redialling and resuming
    after a transport failure, at most ``attempts`` times. Refusals and corrupt data are not retried.
    """
    last: ProtocolError | None = None
    for attempt in range(attempts):
        try:
            peer_id = await host.connect(peer_addr, timeout=timeout)
            return await fetch_blob(host, peer_id, store, digest, max_size=max_size, timeout=timeout)
        except (RemoteError, SchemaError):
            raise
        except ProtocolError as err:
            last = err
            logger.info("blob %s: attempt %d failed (%s), resuming", digest[:12], attempt + 1, err)
            await trio.sleep(retry_delay)
    assert last is not None
    raise last
