"""The wire codec: frames, caps, truncation, timeouts and schema checks, over a real trio stream."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
import trio
import trio.testing

from node.errors import ProtocolError
from node.p2p.codec import (
    FRAME_DATA,
    FRAME_JSON,
    FrameStream,
    FrameTimeoutError,
    FrameTooLargeError,
    RemoteError,
    SchemaError,
    StreamClosedError,
    TruncatedFrameError,
    UnexpectedFrameError,
    canonical_json,
    decode_message,
    encode_frame,
    encode_message,
)
from node.p2p.messages import (
    AuditRequest,
    AuditResponse,
    AuditUnit,
    JobProposal,
    read_audit_response,
    write_audit_response,
)


class TrioByteStream:
    """Adapts a trio byte stream to the codec's read/write interface (as a libp2p stream has)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream

    async def read(self, n: int | None = None) -> bytes:
        return await self.stream.receive_some(n)

    async def write(self, data: bytes) -> None:
        await self.stream.send_all(data)


def pair(*, max_frame: int = 1 << 20, timeout: float = 2.0) -> tuple[FrameStream, trio.abc.Stream]:
    ours, theirs = trio.testing.memory_stream_pair()
    return FrameStream(TrioByteStream(ours), max_frame=max_frame, timeout=timeout), theirs


@dataclass(frozen=True)
class Inner:
    name: str
    tags: tuple[int, ...]


@dataclass(frozen=True)
class Outer:
    count: int
    flag: bool
    blob: bytes
    items: tuple[Inner, ...]
    note: str | None = None


SAMPLE = Outer(count=3, flag=True, blob=b"\x00\xff", items=(Inner("a", (1, 2)),), note=None)


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == b'{"a":[1,{"c":3,"d":2}],"b":1}'
    assert encode_message(SAMPLE) == (
        b'{"blob":"0x00ff","count":3,"flag":true,"items":[{"name":"a","tags":[1,2]}],"note":null}'
    )
    assert decode_message(Outer, encode_message(SAMPLE)) == SAMPLE


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b'{"count":3,"flag":true,"blob":"0x","items":[],"extra":1}', "extra"),
        (b'{"flag":true,"blob":"0x","items":[]}', "count"),
        (b'{"count":"3","flag":true,"blob":"0x","items":[]}', "count"),
        (b'{"count":true,"flag":true,"blob":"0x","items":[]}', "count"),
        (b'{"count":1,"flag":1,"blob":"0x","items":[]}', "flag"),
        (b'{"count":1,"flag":true,"blob":"00ff","items":[]}', "blob"),
        (b'{"count":1,"flag":true,"blob":"0xzz","items":[]}', "blob"),
        (b'{"count":1,"flag":true,"blob":"0x","items":[{"name":"a","tags":[1,"x"]}]}', "items[0].tags[1]"),
        (b'{"count":1,"flag":true,"blob":"0x","items":[{"name":"a"}]}', "items[0].tags"),
        (b'{"count":1,"flag":true,"blob":"0x","items":{}}', "items"),
        (b'{"count":1,"flag":true,"blob":"0x","items":[],"note":5}', "note"),
        (b'[1,2]', ""),
    ],
)
def test_schema_errors_name_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(SchemaError) as info:
        decode_message(Outer, payload)
    assert info.value.field == field
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b'{"a":NaN}', b'{"a":1,"a":2}', b"\xff\xfe", b"[" * 100_000, b"1" * 5000],
)
def test_invalid_json_is_a_schema_error(payload: bytes) -> None:
    with pytest.raises(SchemaError, match="not valid JSON"):
        decode_message(Outer, payload)


def test_post_init_range_checks_become_schema_errors() -> None:
    with pytest.raises(SchemaError) as info:
        decode_message(AuditRequest, b'{"job_id":1,"indices":[1,1]}')
    assert info.value.field == "indices"
    with pytest.raises(SchemaError) as info:
        decode_message(AuditRequest, b'{"job_id":1,"indices":[3,-1]}')
    assert info.value.field == "indices[1]"
    with pytest.raises(SchemaError) as info:
        decode_message(
            JobProposal,
            b'{"spec":{},"spec_hash":"0x00","price":1,"consumer":"0x' + b"1" * 40 + b'","deadline":1}',
        )
    assert info.value.field == "spec_hash"


async def test_frames_roundtrip_and_error_frames() -> None:
    fs, peer = pair()
    await peer.send_all(encode_frame(FRAME_JSON, encode_message(SAMPLE)) + encode_frame(FRAME_DATA, b"xyz"))
    assert await fs.read_message(Outer) == SAMPLE
    assert await fs.read_data() == b"xyz"
    other = FrameStream(TrioByteStream(peer))
    await other.write_error("not_found", "no such blob")
    with pytest.raises(RemoteError, match="not_found") as info:
        await fs.read_message(Outer)
    assert info.value.code == "not_found"


async def test_oversized_frame_refused_before_payload() -> None:
    fs, peer = pair(max_frame=1000)
    await peer.send_all(struct.pack(">BI", FRAME_DATA, 10_000_000))  # no payload at all
    with pytest.raises(FrameTooLargeError) as info:
        await fs.read_data()
    assert (info.value.size, info.value.limit) == (10_000_000, 1000)


async def test_per_call_cap_lowers_the_limit() -> None:
    fs, peer = pair(max_frame=1000)
    await peer.send_all(encode_frame(FRAME_DATA, b"x" * 200))
    with pytest.raises(FrameTooLargeError):
        await fs.read_data(max_size=100)


async def test_truncated_frame_detected() -> None:
    fs, peer = pair()
    await peer.send_all(encode_frame(FRAME_DATA, b"x" * 100)[:60])
    await peer.aclose()
    with pytest.raises(TruncatedFrameError) as info:
        await fs.read_data()
    assert (info.value.received, info.value.expected) == (55, 100)


async def test_clean_close_between_frames() -> None:
    fs, peer = pair()
    await peer.aclose()
    with pytest.raises(StreamClosedError):
        await fs.read_frame()


async def test_slow_peer_times_out() -> None:
    fs, peer = pair(timeout=0.2)
    await peer.send_all(encode_frame(FRAME_DATA, b"x" * 100)[:10])
    with pytest.raises(FrameTimeoutError, match=r"0\.2 s"):
        await fs.read_data()


async def test_unknown_kind_and_wrong_kind() -> None:
    fs, peer = pair()
    await peer.send_all(b"\x09\x00\x00\x00\x00")
    with pytest.raises(UnexpectedFrameError, match="0x09"):
        await fs.read_frame()
    fs, peer = pair()
    await peer.send_all(encode_frame(FRAME_DATA, b"{}"))
    with pytest.raises(UnexpectedFrameError, match="expected a json frame"):
        await fs.read_message(Outer)


async def test_audit_response_header_then_data_frames() -> None:
    a, b = trio.testing.memory_stream_pair()
    writer = FrameStream(TrioByteStream(a))
    reader = FrameStream(TrioByteStream(b), max_frame=2 << 20)
    big = bytes(range(256)) * 10_000  # 2.56 MB: split over several data frames
    response = AuditResponse(
        job_id=7,
        units=(
            AuditUnit(index=4, dtype="float32", shape=(2, 3), data=b"\x01" * 24, proof=(b"\xaa" * 32,)),
            AuditUnit(index=9, dtype="uint8", shape=(len(big),), data=big, proof=()),
        ),
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(write_audit_response, writer, response)
        got = await read_audit_response(reader, max_unit_bytes=len(big), max_total_bytes=10 << 20)
    assert got == response


async def test_audit_response_over_cap_is_refused_from_header() -> None:
    a, b = trio.testing.memory_stream_pair()
    writer = FrameStream(TrioByteStream(a))
    reader = FrameStream(TrioByteStream(b))
    response = AuditResponse(job_id=1, units=(AuditUnit(0, "uint8", (100,), b"z" * 100, ()),))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(write_audit_response, writer, response)
        with pytest.raises(SchemaError) as info:
            await read_audit_response(reader, max_unit_bytes=50, max_total_bytes=1000)
        nursery.cancel_scope.cancel()
    assert info.value.field == "units[0].size"


def test_deep_nesting_refused_but_brackets_in_strings_fine() -> None:
    deep = b'{"count":1,"flag":true,"blob":"0x","items":[],"note":' + b"[" * 40 + b"]" * 40 + b"}"
    with pytest.raises(SchemaError, match="nested deeper"):
        decode_message(Outer, deep)
    text = "[{" * 5000
    payload = b'{"count":1,"flag":true,"blob":"0x","items":[],"note":"' + text.encode() + b'"}'
    assert decode_message(Outer, payload).note == text
