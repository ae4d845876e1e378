"""``scripts/bench p2p``: the node's libp2p protocols against a bare py-libp2p stream, same run.

Two hosts on 127.0.0.1 in one trio process (noise + yamux, as the node negotiates them):

* request/response round trip — the node's ``request``/``serve`` (a new stream per request on the
  reused connection, frames with schema-checked canonical JSON, caps, timeouts), the node's codec on
  one long-lived stream, and a bare py-libp2p stream (4-byte length + bytes, echoed) both ways;
  median and p99 over many requests;
* blob throughput — ``fetch_blob`` of the node's blob protocol (chunks framed, appended to the
  store's partial file and hashed as they come, checked against the digest, renamed into place),
  with the default and a small chunk size, against the same bytes written in 1 MiB writes on a
  bare stream and read into memory; MB/s (10^6 bytes) and the ratio (default chunk / bare); the
  three are interleaved in each repeat so that load on the machine hits all of them alike;
* end to end (``--market``, needs the roles): a small job through the whole multi-process market,
  submit → paid, with its breakdown; see :mod:`node.demo.latency`.

Options: ``--requests N`` (default 300), ``--blob-mb M`` (default 50), ``--repeats R`` (default 5),
``--json`` (one JSON object on the last line).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from libp2p.abc import INetStream

from node.blobs import BlobStore
from node.cli._output import table
from node.p2p.blob import DEFAULT_CHUNK, BlobServer, fetch_blob
from node.p2p.codec import FrameStream
from node.p2p.host import Host
from node.p2p.identity import generate_key_pair
from node.p2p.reqresp import Protocol, close_quietly, request, serve

ECHO_NODE = "/ccm/bench-echo/1.0.0"
ECHO_NODE_STREAM = "/ccm/bench-echo-stream/1.0.0"
ECHO_RAW = "/bench/raw-echo/1.0.0"
BLOB_RAW = "/bench/raw-blob/1.0.0"
RAW_WRITE = 1 << 20
SMALL_CHUNK = 256 * 1024
_LEN = struct.Struct(">I")


@dataclass(frozen=True)
class Echo:
    """A small request/response body (about the size of a job proposal's control fields)."""

    nonce: int
    note: str


ECHO = Protocol(ECHO_NODE, Echo, Echo, timeout=10.0)


async def _read_exactly(stream: INetStream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = await stream.read(n - len(buf))
        if not chunk:
            raise EOFError(f"stream ended after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


async def _raw_echo(stream: INetStream) -> None:
    try:
        while True:
            header = await stream.read(_LEN.size)
            if not header:
                return
            if len(header) < _LEN.size:
                header += await _read_exactly(stream, _LEN.size - len(header))
            (n,) = _LEN.unpack(header)
            await stream.write(header + await _read_exactly(stream, n))
    except EOFError:
        return
    finally:
        await close_quietly(stream)


async def _raw_blob(stream: INetStream) -> None:
    try:
        (n,) = _LEN.unpack(await _read_exactly(stream, _LEN.size))
        block = os.urandom(RAW_WRITE)
        sent = 0
        while sent < n:
            part = block[: min(RAW_WRITE, n - sent)]
            await stream.write(part)
            sent += len(part)
    finally:
        await close_quietly(stream)


async def _node_stream_echo(stream: INetStream) -> None:
    fs = FrameStream(stream, max_frame=64 * 1024, timeout=30.0)
    try:
        while True:
            msg = await fs.read_message(Echo)
            await fs.write_message(msg)
    except Exception:  # noqa: BLE001 - the client closing the stream ends the loop; nothing to report
        return
    finally:
        await close_quietly(stream)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p99_ms": p99 * 1e3, "n": len(ordered)}


async def _timed(n: int, op: Callable[[int], Awaitable[None]], *, warmup: int = 10) -> list[float]:
    for i in range(warmup):
        await op(-1 - i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await op(i)
        out.append(time.perf_counter() - t0)
    return out


async def bench(*, requests: int, blob_mb: int, repeats: int, work: Path) -> dict[str, Any]:
    server, client = Host(generate_key_pair()), Host(generate_key_pair())
    store_server = BlobStore(work / "server-blobs")
    blob = os.urandom(blob_mb * 1_000_000)
    digest = store_server.put(blob)
    del blob

    async def echo(peer: str, req: Echo) -> Echo:
        return req

    serve(server, ECHO, echo)
    server.set_handler(ECHO_NODE_STREAM, _node_stream_echo)
    server.set_handler(ECHO_RAW, _raw_echo)
    server.set_handler(BLOB_RAW, _raw_blob)
    results: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.run))
        await nursery.start(functools.partial(client.run))
        peer = await client.connect(server.addrs[0])
        body = Echo(nonce=0, note="x" * 200)
        raw_body = json.dumps({"nonce": 0, "note": "x" * 200}).encode()

        async def node_rr(i: int) -> None:
            got = await request(client, peer, ECHO, Echo(nonce=i, note=body.note))
            assert got.nonce == i

        stream = await client.open_stream(peer, ECHO_NODE_STREAM)
        fs = FrameStream(stream, max_frame=64 * 1024, timeout=10.0)

        async def node_one_stream(i: int) -> None:
            await fs.write_message(Echo(nonce=i, note=body.note))
            got = await fs.read_message(Echo)
            assert got.nonce == i

        raw = await client.open_stream(peer, ECHO_RAW)

        async def bare_one_stream(i: int) -> None:
            await raw.write(_LEN.pack(len(raw_body)) + raw_body)
            (n,) = _LEN.unpack(await _read_exactly(raw, _LEN.size))
            assert await _read_exactly(raw, n) == raw_body

        async def bare_stream_per_request(i: int) -> None:
            s = await client.open_stream(peer, ECHO_RAW)
            try:
                await s.write(_LEN.pack(len(raw_body)) + raw_body)
                (n,) = _LEN.unpack(await _read_exactly(s, _LEN.size))
                await _read_exactly(s, n)
            finally:
                await close_quietly(s)

        async def ping(i: int) -> None:
            await client.ping(peer)

        rr = {
            "node request/response (new stream per request)": await _timed(requests, node_rr),
            "bare py-libp2p (new stream per request)": await _timed(requests, bare_stream_per_request),
            "node codec, one stream": await _timed(requests, node_one_stream),
            "bare py-libp2p, one stream": await _timed(requests, bare_one_stream),
            "libp2p ping protocol": await _timed(min(requests, 100), ping),
        }
        await close_quietly(stream)
        await close_quietly(raw)
        results["round_trip"] = {k: _stats(v) for k, v in rr.items()}

        size = store_server.size(digest)
        node_rates: dict[int, list[float]] = {DEFAULT_CHUNK: [], SMALL_CHUNK: []}
        bare_rates = []
        for r in range(repeats):
            for chunk_size, rates in node_rates.items():
                BlobServer(store_server, chunk_size=chunk_size).register(server)
                store_client = BlobStore(work / f"client-blobs-{r}-{chunk_size}")
                t0 = time.perf_counter()
                await fetch_blob(client, peer, store_client, digest, max_size=size)
                rates.append(size / (time.perf_counter() - t0) / 1e6)
                store_client.delete(digest)

            t0 = time.perf_counter()
            s = await client.open_stream(peer, BLOB_RAW)
            await s.write(_LEN.pack(size))
            got = 0
            while got < size:
                chunk = await s.read(RAW_WRITE)
                if not chunk:
                    raise EOFError(f"bare blob ended at {got} of {size}")
                got += len(chunk)
            await close_quietly(s)
            bare_rates.append(size / (time.perf_counter() - t0) / 1e6)
        node_mbs = statistics.median(node_rates[DEFAULT_CHUNK])
        bare_mbs = statistics.median(bare_rates)
        results["blob"] = {
            "bytes": size,
            "repeats": repeats,
            "default_chunk": DEFAULT_CHUNK,
            "small_chunk": SMALL_CHUNK,
            "node_mb_s": node_mbs,
            "node_small_chunk_mb_s": statistics.median(node_rates[SMALL_CHUNK]),
            "bare_mb_s": bare_mbs,
            "ratio": node_mbs / bare_mbs,
            "node_runs": node_rates[DEFAULT_CHUNK],
            "node_small_chunk_runs": node_rates[SMALL_CHUNK],
            "bare_runs": bare_rates,
        }
        server.stop()
        client.stop()
    return results


def _print(results: dict[str, Any]) -> None:
    rows = [
        [name, f"{s['median_ms']:.2f}", f"{s['p99_ms']:.2f}", s["n"]]
        for name, s in results["round_trip"].items()
    ]
    print("request/response round trip on 127.0.0.1 (noise + yamux, one connection)")
    print(table(["path", "median ms", "p99 ms", "n"], rows))
    b = results["blob"]
    print(f"\nblob transfer, {b['bytes'] / 1e6:.0f} MB, median of {b['repeats']}")
    print(
        table(
            ["path", "MB/s", "runs"],
            [
                [
                    f"node blob protocol, {b['default_chunk'] >> 10} KiB chunks (default)",
                    f"{b['node_mb_s']:.1f}",
                    _runs(b["node_runs"]),
                ],
                [
                    f"node blob protocol, {b['small_chunk'] >> 10} KiB chunks",
                    f"{b['node_small_chunk_mb_s']:.1f}",
                    _runs(b["node_small_chunk_runs"]),
                ],
                ["bare py-libp2p stream (1 MiB writes)", f"{b['bare_mb_s']:.1f}", _runs(b["bare_runs"])],
                ["ratio node (default chunk) / bare", f"{b['ratio']:.0%}", ""],
            ],
        )
    )
    e2e = results.get("end_to_end")
    if e2e:
        print("\n" + e2e["table"])


def _runs(values: list[float]) -> str:
    return " ".join(f"{v:.0f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/bench p2p", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--blob-mb", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--market", action="store_true", help="also time a small job through the whole market")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.requests < 10 or args.blob_mb < 1 or args.repeats < 1:
        p.error("--requests >= 10, --blob-mb >= 1, --repeats >= 1")
    with tempfile.TemporaryDirectory(prefix="ccm-bench-p2p-") as tmp:
        results = trio.run(
            functools.partial(
                bench, requests=args.requests, blob_mb=args.blob_mb, repeats=args.repeats, work=Path(tmp)
            )
        )
    if args.market:
        from node.demo.latency import end_to_end

        results["end_to_end"] = end_to_end(say=lambda m: print(f"bench: {m}", file=sys.stderr, flush=True))
    _print(results)
    if args.json:
        print(json.dumps(results, sort_keys=True, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
