"""End-to-end latency of a small job through the whole market (submit → paid), with a breakdown.

Used by ``scripts/bench p2p --market``. A fresh devnet in a temp folder, ``ccm provider start`` and
``ccm verifier start`` as separate processes, then one ``ccm job submit --wait --json`` that warms
the daemons (torch, caches, the connection), then the measured job: a consumer in this process
(the same :class:`~node.roles.consumer.Consumer` the command runs, already connected, so no
process start-up or dial is counted) submits it and follows it to the end. Figures:

* ``consumer_wall_s`` — submit → paid on the consumer's clock: ``submit_s`` (escrow on chain,
  proposal and acceptance over libp2p, inputs) plus ``follow_s`` (commit, audit, payment, outputs
  fetched and checked against the root);
* ``chain`` — transactions of the job's parties in sequence from the block before ``JobPosted`` to
  the terminal block, the number of blocks (each Anvil block holds one transaction), and their cost
  at the measured latency of one transaction on this Anvil (sign, send, receipt);
* ``compute`` — the provider's run of all units and the verifier's preparation and recompute of the
  sampled ones, measured in-process on the same spec after a warm-up run (the daemons are warm too);
* ``paid_on_chain_s`` — submit → the block that completes the job and pays the provider, seen by a
  second client polling the job's status every 20 ms (``timeline`` lists every status change);
* ``off_chain_s`` — ``paid_on_chain_s`` minus chain and compute: network, protocol, hashing,
  bookkeeping and the daemons' polling intervals; ``consumer_notices_s`` is how much later the
  consumer's own status poll sees the final state.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.chain import devnet
from node.chain.accounts import devnet_accounts
from node.chain.chain import Chain
from node.demo.market import (
    JOB_TIMEOUT,
    ROOT,
    Node,
    make_nodes,
    prepare_homes,
    start_daemons,
    submit,
    write_spec,
)
from node.demo.procs import Supervisor
from node.demo.specs import demo_spec
from node.workloads import prepare, run_job

Say = Callable[[str], None]
FOLLOW_POLL_S = 0.5
#: The daemons' and the consumer's polling intervals (their defaults), part of the off-chain rest.
POLLING = f"provider settles every 1 s, verifier polls every 1 s, consumer every {FOLLOW_POLL_S} s"


def _tx_latency(chain: Chain, *, n: int = 5) -> float:
    account = devnet_accounts(devnet=True)[9].account
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        chain.token.approve(account, chain.market.address, i + 1)
        samples.append(time.perf_counter() - t0)
    return sorted(samples)[n // 2]


def _compute(seed: int, k: int) -> tuple[float, float]:
    run_job(demo_spec("matmul", seed=seed - 1), device="cpu", blobs={})  # warm-up: torch's first calls
    spec = demo_spec("matmul", seed=seed)
    result = run_job(spec, device="cpu", blobs={})
    t0 = time.perf_counter()
    work = prepare(spec, device="cpu", blobs={})
    for i in range(min(k, work.n_units)):
        work.compute(i, None)
    return result.timings.wall_s, time.perf_counter() - t0


async def _watch_status(ctx: Any, job_id: int, t0: float, timeline: list[tuple[str, float]]) -> None:
    """Record when the job's on-chain status changes (polled every 20 ms from a second client)."""
    import trio

    chain = Chain.connect(ctx.chain.deployment)  # its own HTTP client: never waits behind the consumer's
    last = None
    while True:
        status = (await trio.to_thread.run_sync(chain.market.job, job_id)).status.name.lower()
        if status != last:
            timeline.append((f"chain: {status}", time.monotonic() - t0))
            last = status
        await trio.sleep(0.02)


def _measured_job(node: Node, addr: str, spec_path: Path, *, rpc_url: str) -> dict[str, Any]:
    """Submit and follow one job with an in-process consumer; the report plus submit/follow seconds."""
    import functools

    import trio

    from node.roles.consumer import Consumer, rank_offers
    from node.roles.context import open_context
    from node.roles.outputs import unit_count
    from node.roles.runtime import run_trio
    from node.workloads.spec import parse_spec

    spec = parse_spec(json.loads(spec_path.read_text()))
    ctx = open_context(node.home, account_index=node.index, rpc_url=rpc_url, say=lambda _line: None)
    try:

        async def main() -> dict[str, Any]:
            async with trio.open_nursery() as nursery:
                consumer = await nursery.start(
                    functools.partial(Consumer(ctx, listen=None, bootstrap=None, say=lambda _line: None).run)
                )
                offers = await consumer.discover(peers=[addr], wait_s=0.0)
                best = rank_offers(offers, kind=spec.kind, n_units=unit_count(spec))[0]
                t0 = time.monotonic()
                job_id = await consumer.submit(spec, best)
                t1 = time.monotonic()
                timeline: list[tuple[str, float]] = [("submitted", t1 - t0)]
                nursery.start_soon(_watch_status, ctx, job_id, t0, timeline)
                report = await consumer.follow(job_id, timeout=JOB_TIMEOUT, poll=FOLLOW_POLL_S)
                t2 = time.monotonic()
                nursery.cancel_scope.cancel()
            timeline.append(("paid (consumer done)", t2 - t0))
            return {
                **report.to_dict(),
                "job_id": job_id,
                "submit_s": t1 - t0,
                "follow_s": t2 - t1,
                "timeline": [{"event": e, "at_s": round(t, 3)} for e, t in timeline],
            }

        return run_trio(main)
    finally:
        ctx.close()


def end_to_end(*, say: Say) -> dict[str, Any]:
    """Run the measurement (about a minute on 2 cores); a dict with the figures and a ``table``."""
    with tempfile.TemporaryDirectory(prefix="ccm-e2e-") as tmp:
        home = Path(tmp)
        deployment, _ = devnet.up(home)
        sup = Supervisor(logs=home / "logs", python=sys.executable, cwd=ROOT)
        try:
            chain = Chain.connect(deployment)
            accounts = [a.account for a in devnet_accounts(devnet=True)]
            nodes = {n.actor.name: n for n in make_nodes(home, accounts, cheat_fraction="1")}
            prepare_homes(home, nodes.values())
            addrs = start_daemons(sup, nodes, chain, say=say, only=("verifier-1",))
            warm, _ = write_spec(home, "matmul", seed=41)
            submit(
                sup, nodes["consumer"], nodes["provider-1"], addrs["provider-1"], warm, kind="matmul", say=say
            )
            spec, _ = write_spec(home, "matmul", seed=42)
            say("measured job: an in-process consumer submits a matmul job to provider-1 and follows it")
            measured = _measured_job(nodes["consumer"], addrs["provider-1"], spec, rpc_url=deployment.rpc_url)
            say(f"job {measured['job_id']}: {measured.get('status')}")
            job_id = int(str(measured["job_id"]))
            watcher = chain.event_watcher()
            events = [e for e in watcher.poll() if e.args.get("jobId") == job_id]
            first = min(e.block_number for e in events if e.name == "JobPosted") - 1
            last = max(e.block_number for e in events)
            parties = {nodes[n].actor.address for n in ("consumer", "provider-1", "verifier-1")}
            txs = 0
            for b in range(first, last + 1):
                block: Any = chain.client.w3.eth.get_block(b, full_transactions=True)
                txs += sum(1 for tx in block["transactions"] if tx["from"] in parties)
            tx_s = _tx_latency(chain)
            provider_s, verifier_s = _compute(42, chain.market.params().samples_k)
        finally:
            sup.close()
            devnet.down(home)
    submit_s, follow_s = float(measured["submit_s"]), float(measured["follow_s"])
    wall = submit_s + follow_s
    timeline = measured["timeline"]
    final = [t["at_s"] for t in timeline if t["event"] in ("chain: completed", "chain: slashed")]
    paid = float(final[0]) if final else wall  # the payment is in the block that completes the job
    chain_s = txs * tx_s
    off_chain = paid - chain_s - provider_s - verifier_s
    out = {
        "job_id": job_id,
        "status": measured.get("status"),
        "paid_on_chain_s": paid,
        "consumer_wall_s": wall,
        "consumer_notices_s": wall - paid,
        "submit_s": submit_s,
        "follow_s": follow_s,
        "polling": POLLING,
        "timeline": timeline,
        "transactions_in_sequence": txs,
        "blocks": last - first + 1,
        "tx_latency_ms": tx_s * 1e3,
        "chain_s": chain_s,
        "provider_compute_s": provider_s,
        "verifier_compute_s": verifier_s,
        "off_chain_s": off_chain,
    }
    from node.cli._output import table

    steps = " → ".join(f"{t['event']} {t['at_s']:.2f}" for t in timeline)
    rows = [
        ["submit → paid on chain", f"{paid:.2f}", f"status {measured.get('status')} (provider paid)"],
        ["  submit", f"{submit_s:.2f}", "escrow, proposal + acceptance over libp2p, inputs"],
        ["  chain", f"{chain_s:.2f}", f"{txs} transactions in sequence, {last - first + 1} blocks, "
         f"{tx_s * 1e3:.0f} ms each"],
        ["  provider compute", f"{provider_s:.2f}", "all units, hashing, Merkle tree"],
        ["  verifier compute", f"{verifier_s:.2f}", "inputs prepared, sampled units recomputed"],
        ["  off-chain rest", f"{off_chain:.2f}", "network, protocol, bookkeeping, polling"],
        ["consumer sees it final", f"{wall:.2f}", f"+{wall - paid:.2f} s: its next status poll"],
    ]  # fmt: skip
    out["table"] = (
        "end to end, one small matmul job (8 units), submit → paid\n"
        + table(["part", "seconds", "how"], rows)
        + f"\ntimeline (s after submit starts): {steps}\npolling: {POLLING}"
    )
    return out
