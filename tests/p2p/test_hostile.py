"""Peers that send garbage: raw TCP sockets and real libp2p peers. The host drops them and keeps serving."""

from __future__ import annotations

import os
import struct

import trio

from node.p2p.codec import FRAME_DATA, FRAME_JSON, encode_frame
from node.p2p.host import Host
from node.p2p.messages import JOB_PROTOCOL, JobAccept, JobProposal
from node.p2p.reqresp import Protocol, request, serve
from tests.p2p.conftest import new_host, running

JOB = Protocol(JOB_PROTOCOL, JobProposal, JobAccept, max_request=16 * 1024, timeout=3.0)
PROVIDER = "0x" + "22" * 20
HANDSHAKE = 2.0  # seconds a raw socket may take to complete noise + yamux before it is closed
GOOD = JobProposal(spec={"kind": "matmul"}, spec_hash=b"\x01" * 32, price=5, consumer="0x" + "11" * 20,
                   deadline=2_000_000_000)


async def accept(peer: str, req: JobProposal) -> JobAccept:
    return JobAccept(spec_hash=req.spec_hash, accepted=True, provider=PROVIDER, job_id=req.price)


def tcp_port(host: Host) -> int:
    return int(host.addrs[0].split("/")[4])


async def closed_by_peer(stream: trio.SocketStream, *, within: float = 10.0) -> bool:
    """Read until the host closes the socket; True if it did within the time limit."""
    with trio.move_on_after(within):
        try:
            while await stream.receive_some(65536):
                pass
        except trio.BrokenResourceError:
            pass
        return True
    return False


async def good_peer_is_served(server: Host) -> None:
    good = new_host()
    async with running(good):
        await good.connect(server.addrs[0])
        resp = await request(good, server.peer_id, JOB, GOOD)
        assert resp.accepted and resp.job_id == 5


def multistream(line: str) -> bytes:
    data = (line + "\n").encode()
    return bytes([len(data)]) + data  # one-byte uvarint: every line here is shorter than 128


async def send_garbage(server: Host, payload: bytes) -> None:
    sock = await trio.open_tcp_stream("127.0.0.1", tcp_port(server))
    async with sock:
        try:
            await sock.send_all(payload)
        except trio.BrokenResourceError:
            return  # already hung up on us: fine
        assert await closed_by_peer(sock)


async def test_raw_tcp_garbage_before_handshake() -> None:
    server = new_host(handshake_timeout=HANDSHAKE)
    serve(server, JOB, accept)
    async with running(server):
        async with trio.open_nursery() as nursery:
            for payload in (os.urandom(4096), b"\xff" * 70_000, b"GET / HTTP/1.1\r\n\r\n", b""):
                nursery.start_soon(send_garbage, server, payload)
        await good_peer_is_served(server)


async def test_raw_tcp_garbage_after_multistream_handshake() -> None:
    server = new_host(handshake_timeout=HANDSHAKE)
    serve(server, JOB, accept)
    async with running(server):
        sock = await trio.open_tcp_stream("127.0.0.1", tcp_port(server))
        async with sock:
            await sock.send_all(multistream("/multistream/1.0.0") + multistream("/noise"))
            with trio.fail_after(5):
                echoed = b""
                while b"/noise\n" not in echoed:
                    echoed += await sock.receive_some(1024)
            assert b"/multistream/1.0.0\n" in echoed  # the handshake really happened
            await sock.send_all(struct.pack(">H", 2000) + os.urandom(2000))  # not a noise message
            assert await closed_by_peer(sock)
        await good_peer_is_served(server)


async def test_many_garbage_connections_at_once() -> None:
    server = new_host(handshake_timeout=HANDSHAKE)
    serve(server, JOB, accept)
    async with running(server):
        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(send_garbage, server, os.urandom(1000))
        await good_peer_is_served(server)


async def _bad_stream_gets_disconnected(payload: bytes) -> None:
    server, bad = new_host(), new_host()
    serve(server, JOB, accept)
    async with running(server, bad):
        await bad.connect(server.addrs[0])
        stream = await bad.open_stream(server.peer_id, JOB_PROTOCOL)
        await stream.write(payload)
        with trio.fail_after(10):
            while server.is_connected(bad.peer_id):
                await trio.sleep(0.05)
        assert server.punished == {bad.peer_id: 1}
        await good_peer_is_served(server)


async def test_libp2p_peer_sending_oversized_frame_is_disconnected() -> None:
    # Announce 100 MB against a 16 KiB cap: refused from the header, before any payload arrives.
    await _bad_stream_gets_disconnected(struct.pack(">BI", FRAME_JSON, 100_000_000))


async def test_libp2p_peer_sending_invalid_json_is_disconnected() -> None:
    await _bad_stream_gets_disconnected(encode_frame(FRAME_JSON, b'{"spec": {}, "price": '))


async def test_libp2p_peer_sending_wrong_schema_is_disconnected() -> None:
    await _bad_stream_gets_disconnected(encode_frame(FRAME_JSON, b'{"spec":{},"price":"free"}'))


async def test_libp2p_peer_sending_data_instead_of_request_is_disconnected() -> None:
    await _bad_stream_gets_disconnected(encode_frame(FRAME_DATA, os.urandom(100)))
