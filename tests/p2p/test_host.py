"""Real libp2p hosts on 127.0.0.1: addresses, standard protocols, connection reuse, request/response."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest
import trio

from node.p2p.codec import RemoteError, SchemaError
from node.p2p.host import IDENTIFY_PROTOCOL, PING_PROTOCOL, DialError, HostError, peer_id_from_addr
from node.p2p.messages import JOB_PROTOCOL, JobAccept, JobProposal
from node.p2p.reqresp import Protocol, RequestRefused, request, serve
from tests.p2p.conftest import new_host, running

CONSUMER = "0x" + "11" * 20
PROVIDER = "0x" + "22" * 20
JOB = Protocol(JOB_PROTOCOL, JobProposal, JobAccept, max_request=16 * 1024, max_response=4096, timeout=5.0)


def proposal(price: int) -> JobProposal:
    return JobProposal(spec={"kind": "matmul", "n": 64}, spec_hash=b"\x07" * 32, price=price,
                       consumer=CONSUMER, deadline=2_000_000_000)


async def answer_job(peer: str, req: JobProposal) -> JobAccept:
    if req.price < 10:
        raise RequestRefused("price_too_low", f"{req.price} < 10")
    return JobAccept(spec_hash=req.spec_hash, accepted=True, provider=PROVIDER, job_id=req.price)


async def test_host_reports_full_multiaddr_and_standard_protocols() -> None:
    host = new_host()
    async with running(host):
        addr = host.addrs[0]
        assert addr.startswith("/ip4/127.0.0.1/tcp/")
        assert addr.endswith(f"/p2p/{host.peer_id}")
        assert peer_id_from_addr(addr) == host.peer_id
        assert {str(IDENTIFY_PROTOCOL), str(PING_PROTOCOL)} <= set(host.protocols)


async def test_ping_and_connection_reuse() -> None:
    a, b = new_host(), new_host()
    serve(a, JOB, answer_job)
    async with running(a, b):
        assert await b.connect(a.addrs[0]) == a.peer_id
        assert await b.connect(a.addrs[0]) == a.peer_id
        assert await b.ping(a.peer_id) < 2.0
        for price in (10, 11, 12):
            resp = await request(b, a.peer_id, JOB, proposal(price))
            assert resp.job_id == price
        assert b.connection_count(a.peer_id) == 1


async def test_request_response_roundtrip_and_refusal() -> None:
    a, b = new_host(), new_host()
    serve(a, JOB, answer_job)
    async with running(a, b):
        await b.connect(a.addrs[0])
        resp = await request(b, a.peer_id, JOB, proposal(50))
        assert resp == JobAccept(spec_hash=b"\x07" * 32, accepted=True, provider=PROVIDER, job_id=50)
        with pytest.raises(RemoteError) as info:
            await request(b, a.peer_id, JOB, proposal(1))
        assert info.value.code == "price_too_low"
        # A refusal is not misbehaviour: the peer stays connected.
        assert b.is_connected(a.peer_id) and not a.punished


async def test_oversized_response_is_refused_by_client() -> None:
    a, b = new_host(), new_host()

    async def chatty(peer: str, req: JobProposal) -> JobAccept:
        return JobAccept(spec_hash=req.spec_hash, accepted=False, provider=PROVIDER, reason="x" * 10_000)

    serve(a, Protocol(JOB_PROTOCOL, JobProposal, JobAccept, max_response=1 << 20), chatty)
    async with running(a, b):
        await b.connect(a.addrs[0])
        with pytest.raises(Exception, match="exceeds the limit of 4096"):
            await request(b, a.peer_id, JOB, proposal(50))


async def test_invalid_response_schema_is_reported_with_field() -> None:
    @dataclass(frozen=True)
    class WrongAccept:
        spec_hash: bytes
        accepted: str
        provider: str

    a, b = new_host(), new_host()

    async def wrong(peer: str, req: JobProposal) -> WrongAccept:
        return WrongAccept(spec_hash=req.spec_hash, accepted="yes", provider=PROVIDER)

    serve(a, Protocol(JOB_PROTOCOL, JobProposal, WrongAccept), wrong)
    async with running(a, b):
        await b.connect(a.addrs[0])
        with pytest.raises(SchemaError) as info:
            await request(b, a.peer_id, JOB, proposal(50))
        assert info.value.field == "accepted"


async def test_listen_on_busy_port_is_one_readable_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        host = new_host(listen_addrs=[f"/ip4/127.0.0.1/tcp/{port}"])
        with pytest.raises(HostError) as info:
            async with running(host):
                pass
    message = str(info.value)
    assert "\n" not in message
    assert f"cannot listen (address in use or not local?): /ip4/127.0.0.1/tcp/{port}" in message
    assert not isinstance(info.value, BaseExceptionGroup)


async def test_invalid_listen_address_and_dial_errors() -> None:
    with pytest.raises(HostError, match="invalid listen address"):
        async with running(new_host(listen_addrs=["not-a-multiaddr"])):
            pass
    a, b = new_host(), new_host()
    async with running(a, b):
        with pytest.raises(DialError, match="/p2p/"):
            await b.connect("/ip4/127.0.0.1/tcp/1")
        dead = a.addrs[0].replace(a.addrs[0].split("/")[4], "1")  # right peer id, closed port
        with pytest.raises(DialError, match="cannot dial"):
            await b.connect(dead, timeout=5)


async def test_bootstrap_peers_are_dialled_at_start() -> None:
    a = new_host()
    async with running(a):
        b = new_host(bootstrap=[a.addrs[0]])
        async with running(b):
            with trio.fail_after(10):
                while not b.is_connected(a.peer_id):
                    await trio.sleep(0.05)
