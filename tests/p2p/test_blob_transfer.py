"""Blob transfer between real hosts: a few MB, resume after a dropped connection, corruption caught."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import trio

from node.blobs import BlobCorruptError, BlobStore
from node.errors import ProtocolError
from node.p2p.blob import BlobServer, fetch_blob, fetch_blob_resuming
from node.p2p.codec import RemoteError, SchemaError
from node.p2p.host import Host
from node.p2p.identity import generate_key_pair
from tests.p2p.conftest import new_host, running

SIZE = 3 * 1024 * 1024 + 123


@pytest.fixture
def data() -> bytes:
    return os.urandom(SIZE)


async def test_transfer_a_few_megabytes(tmp_path: Path, data: bytes) -> None:
    source = BlobStore(tmp_path / "server")
    digest = source.put(data)
    server, client = new_host(), new_host()
    blob_server = BlobServer(source)
    blob_server.register(server)
    sink = BlobStore(tmp_path / "client")
    progress: list[int] = []
    async with running(server, client):
        await client.connect(server.addrs[0])
        path = await fetch_blob(
            client, server.peer_id, sink, digest, on_progress=lambda r, t: progress.append(r)
        )
    assert path.read_bytes() == data
    assert sink.get(digest) == data
    assert progress[-1] == SIZE and len(progress) == -(-SIZE // blob_server.chunk_size)
    assert sink.partial_size(digest) == 0


async def test_resume_after_dropped_connection(tmp_path: Path) -> None:
    # Large enough that the server is still sending when it goes away (it writes 4 MiB at a time).
    data = os.urandom(40 << 20)
    source = BlobStore(tmp_path / "server")
    digest = source.put(data)
    sink = BlobStore(tmp_path / "client")
    server_key = generate_key_pair()
    client = new_host()
    first = Host(server_key)
    first_server = BlobServer(source)
    first_server.register(first)

    def drop_after_first_megabyte(received: int, total: int) -> None:
        if received >= 1 << 20:
            first.stop()  # the server goes away mid-transfer

    async with running(client):
        async with running(first):
            addr = first.addrs[0]
            await client.connect(addr)
            with pytest.raises(ProtocolError):  # the transfer breaks off (truncated frame or closed)
                await fetch_blob(client, first.peer_id, sink, digest, on_progress=drop_after_first_megabyte)
        kept = sink.partial_size(digest)
        assert 1 << 20 <= kept < len(data)
        assert not sink.has(digest)
        assert [r.offset for r in first_server.served] == [0]

        # Same identity, same address: the client redials and continues from what it kept.
        second = Host(server_key, listen_addrs=[addr.split("/p2p/")[0]])
        second_server = BlobServer(source)
        second_server.register(second)
        async with running(second):
            path = await fetch_blob_resuming(client, second.addrs[0], sink, digest)
        assert [r.offset for r in second_server.served] == [kept]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


async def test_corrupted_chunk_is_detected_and_discarded(tmp_path: Path, data: bytes) -> None:
    source = BlobStore(tmp_path / "server")
    digest = source.put(data)
    tampered = bytearray(data)
    tampered[2 * 1024 * 1024 + 5] ^= 0x01  # one bit in the ninth chunk
    source.path(digest).write_bytes(bytes(tampered))  # the server now serves a bad chunk
    server, client = new_host(), new_host()
    BlobServer(source).register(server)
    sink = BlobStore(tmp_path / "client")
    async with running(server, client):
        await client.connect(server.addrs[0])
        with pytest.raises(BlobCorruptError, match="expected"):
            await fetch_blob(client, server.peer_id, sink, digest)
    assert not sink.has(digest)
    assert sink.partial_size(digest) == 0  # bad bytes are not kept for a resume


async def test_missing_blob_and_size_cap(tmp_path: Path) -> None:
    source = BlobStore(tmp_path / "server")
    digest = source.put(b"z" * 10_000)
    server, client = new_host(), new_host()
    BlobServer(source).register(server)
    sink = BlobStore(tmp_path / "client")
    async with running(server, client):
        await client.connect(server.addrs[0])
        with pytest.raises(RemoteError) as info:
            await fetch_blob(client, server.peer_id, sink, "ab" * 32)
        assert info.value.code == "not_found"
        with pytest.raises(SchemaError, match="exceeds the cap"):
            await fetch_blob(client, server.peer_id, sink, digest, max_size=1000)
        assert client.is_connected(server.peer_id)  # a refusal is not a fault
        with trio.fail_after(10):
            path = await fetch_blob(client, server.peer_id, sink, digest)
    assert path.read_bytes() == b"z" * 10_000


# -- throughput path: batched reads and writes, running digest ----------------------------------


def test_partial_writer_hashes_the_resumed_prefix(tmp_path: Path, data: bytes) -> None:
    store = BlobStore(tmp_path)
    digest = hashlib.sha256(data).hexdigest()
    store.append_partial(digest, data[:1000])  # an earlier, interrupted download
    writer = store.open_partial(digest)
    assert writer.size == 1000
    assert writer.write([data[1000:5000], data[5000:]]) == SIZE
    path = writer.finish()
    assert path.read_bytes() == data and store.partial_size(digest) == 0
    with pytest.raises(ValueError, match="closed"):
        writer.write([b"more"])


def test_partial_writer_catches_a_corrupt_prefix_on_disk(tmp_path: Path, data: bytes) -> None:
    store = BlobStore(tmp_path)
    digest = hashlib.sha256(data).hexdigest()
    store.append_partial(digest, b"\x00" + data[1:1000])  # the kept prefix went bad on disk
    writer = store.open_partial(digest)
    writer.write([data[1000:]])
    with pytest.raises(BlobCorruptError, match="expected"):
        writer.finish()
    assert store.partial_size(digest) == 0 and not store.has(digest)


def test_partial_writer_closed_without_finish_keeps_bytes(tmp_path: Path, data: bytes) -> None:
    store = BlobStore(tmp_path)
    digest = hashlib.sha256(data).hexdigest()
    writer = store.open_partial(digest)
    writer.write([data[:4096]])
    writer.close()
    writer.close()  # idempotent
    assert store.partial_size(digest) == 4096 and not store.has(digest)


@pytest.mark.parametrize("chunk_size", [64 * 1024 + 7, 1 << 20, 4 << 20])
async def test_transfer_with_odd_chunk_sizes_and_a_resumed_offset(
    tmp_path: Path, data: bytes, chunk_size: int
) -> None:
    """Chunks that divide neither the read-ahead batch nor the size, resumed mid-chunk."""
    big = data * 3  # 9 MiB + 369: several read-ahead batches
    source = BlobStore(tmp_path / "server")
    digest = source.put(big)
    sink = BlobStore(tmp_path / "client")
    kept = 1_234_567
    sink.append_partial(digest, big[:kept])
    server, client = new_host(), new_host()
    blob_server = BlobServer(source, chunk_size=chunk_size)
    blob_server.register(server)
    progress: list[int] = []
    async with running(server, client):
        await client.connect(server.addrs[0])
        with trio.fail_after(60):
            path = await fetch_blob(
                client, server.peer_id, sink, digest, on_progress=lambda r, t: progress.append(r)
            )
    assert [r.offset for r in blob_server.served] == [kept]
    assert path.read_bytes() == big
    assert progress == sorted(progress) and progress[-1] == len(big)
    assert len(progress) == -(-(len(big) - kept) // chunk_size)  # once per chunk, every chunk on disk


async def test_transfer_keeps_serving_pings(tmp_path: Path) -> None:
    """Disk and hashing stay off the event loop: pings on the same hosts answer during a transfer."""
    big = os.urandom(24 << 20)
    source = BlobStore(tmp_path / "server")
    digest = source.put(big)
    sink = BlobStore(tmp_path / "client")
    server, client = new_host(), new_host()
    BlobServer(source).register(server)
    pings: list[float] = []
    async with running(server, client):
        await client.connect(server.addrs[0])
        done = trio.Event()

        async def ping_loop() -> None:
            while not done.is_set():
                with trio.fail_after(5):
                    pings.append(await client.ping(server.peer_id))
                await trio.sleep(0.05)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ping_loop)
            with trio.fail_after(120):
                await fetch_blob(client, server.peer_id, sink, digest)
            done.set()
    assert sink.get(digest) == big
    assert pings  # answered while 24 MiB went through the same connection
