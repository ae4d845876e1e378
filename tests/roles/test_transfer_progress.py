"""Progress of blob transfers as plain lines (stderr piped): the provider fetching a job's inputs and
the consumer fetching its outputs, over real libp2p hosts on 127.0.0.1 (and a real job on Anvil)."""

from __future__ import annotations

import functools
import io
import os
import re
from pathlib import Path

import trio

from node.blobs import BlobStore
from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.p2p.blob import BlobServer
from node.roles.admission import fetch_inputs
from node.roles.consumer import Consumer, rank_offers
from node.workloads.spec import parse_spec
from tests.hostile.helpers import start_provider, wait_committed
from tests.p2p.conftest import new_host, running
from tests.roles.conftest import Nodes, matmul_spec

COUNT = re.compile(r"^job 7: 1 input: (\S+ \S+)/2\.0 MiB \((\d+)%\)$")


async def test_provider_fetching_inputs_prints_plain_progress_lines(tmp_path: Path) -> None:
    a = os.urandom(512 * 1024 * 4)  # A of a 512 x 1024 float32 matmul: 2 MiB, two chunks or more
    source = BlobStore(tmp_path / "consumer")
    digest = source.put(a)
    doc = matmul_spec(n=512, k=1024, m=4, rows=64)
    doc["matmul"] = {**doc["matmul"], "a": {"blob": digest}}  # type: ignore[dict-item]
    spec = parse_spec(doc)
    consumer, provider = new_host(), new_host()
    BlobServer(source).register(consumer)
    sink = BlobStore(tmp_path / "provider")
    out = io.StringIO()
    async with running(consumer, provider):
        await provider.connect(consumer.addrs[0])
        blobs = await fetch_inputs(provider, consumer.peer_id, sink, spec, label="job 7", progress_stream=out)
    assert blobs == {digest: a}
    lines = out.getvalue().splitlines()
    assert lines[0] == "job 7: 1 input…", lines
    counts = [m for m in map(COUNT.match, lines) if m]
    assert counts and counts[-1].groups() == ("2.0 MiB", "100"), lines
    percents = [int(m.group(2)) for m in counts]
    assert percents == sorted(set(percents)), lines  # each tenth once, in order
    assert lines[-1].startswith("job 7: 1 input: done in ") and lines[-1].endswith(" s"), lines
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()

    again = io.StringIO()  # every input already held: nothing to fetch, nothing printed
    async with running(consumer, provider):
        await provider.connect(consumer.addrs[0])
        await fetch_inputs(provider, consumer.peer_id, sink, spec, label="job 7", progress_stream=again)
    assert again.getvalue() == ""


async def test_consumer_fetching_outputs_prints_plain_progress_lines(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    out = io.StringIO()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(
                functools.partial(Consumer(consumer_ctx, progress_stream=out).run)
            )
            offers = await consumer.discover(peers=[provider.addrs[0]])
            best = rank_offers(offers, kind="matmul", n_units=8)[0]
            job_id = await consumer.submit(parse_spec(matmul_spec()), best)
            await wait_committed(consumer_ctx, job_id)
            assert await consumer.fetch_outputs(job_id)
            nursery.cancel_scope.cancel()
    # 8 units of 8 x 16 float32: 512 bytes each, 4 KiB in all; a line at each tenth crossed.
    lines = [line for line in out.getvalue().splitlines() if line.startswith(f"job {job_id}: ")]
    title = f"job {job_id}: 8 outputs"
    assert lines[0] == f"{title}…", lines
    assert lines[1:-1] == [
        f"{title}: {done}/4.0 KiB ({pct}%)"
        for done, pct in [
            ("512 B", 10), ("1.0 KiB", 20), ("1.5 KiB", 30), ("2.0 KiB", 50), ("2.5 KiB", 60),
            ("3.0 KiB", 70), ("3.5 KiB", 80), ("4.0 KiB", 100),
        ]
    ], lines
    assert lines[-1].startswith(f"{title}: done in "), lines
