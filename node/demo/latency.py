"""End-to-end latency of a small job through the whole market (submit → paid), with a breakdown.

Used by ``scripts/bench p2p --market``. A fresh devnet in a temp folder, ``ccm provider start`` and
``ccm verifier start`` as separate processes, then ``ccm job submit --wait --json`` twice (the first
warms caches; the second is measured). Figures:

* ``consumer_wall_s`` — the consumer's own clock from posting to the final status (``wall_s`` in
  its JSON: no process start-up);
* ``chain`` — transactions of the job's parties in sequence from the block before ``JobPosted`` to
  the terminal block, the number of blocks (each Anvil block holds one transaction), and their cost
  at the measured latency of one transaction on this Anvil (sign, send, receipt);
* ``compute`` — the provider's run of all units and the verifier's recompute of the sampled ones,
  measured in-process on the same spec;
* ``off_chain_s`` — the rest: network, protocol, hashing, bookkeeping and polling intervals.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.chain import devnet
from node.chain.accounts import devnet_accounts
from node.chain.chain import Chain
from node.demo.market import ROOT, make_nodes, prepare_homes, start_daemons, submit, write_spec
from node.demo.procs import Supervisor
from node.demo.specs import demo_spec
from node.workloads import prepare, run_job

Say = Callable[[str], None]


def _tx_latency(chain: Chain, *, n: int = 5) -> float:
    account = devnet_accounts(devnet=True)[9].account
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        chain.token.approve(account, chain.market.address, i + 1)
        samples.append(time.perf_counter() - t0)
    return sorted(samples)[n // 2]


def _compute(seed: int, k: int) -> tuple[float, float]:
    spec = demo_spec("matmul", seed=seed)
    result = run_job(spec, device="cpu", blobs={})
    work = prepare(spec, device="cpu", blobs={})
    t0 = time.perf_counter()
    for i in range(min(k, work.n_units)):
        work.compute(i, None)
    return result.timings.wall_s, time.perf_counter() - t0


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
            results = []
            for seed in (41, 42):
                spec, _ = write_spec(home, "matmul", seed=seed)
                results.append(
                    submit(
                        sup,
                        nodes["consumer"],
                        nodes["provider-1"],
                        addrs["provider-1"],
                        spec,
                        kind="matmul",
                        say=say,
                    )
                )
            measured = results[-1]
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
    wall = float(str(measured.get("wall_s", 0.0)))
    chain_s = txs * tx_s
    off_chain = wall - chain_s - provider_s - verifier_s
    out = {
        "job_id": job_id,
        "status": measured.get("status"),
        "consumer_wall_s": wall,
        "transactions_in_sequence": txs,
        "blocks": last - first + 1,
        "tx_latency_ms": tx_s * 1e3,
        "chain_s": chain_s,
        "provider_compute_s": provider_s,
        "verifier_compute_s": verifier_s,
        "off_chain_s": off_chain,
    }
    from node.cli._output import table

    out["table"] = "end to end, one small matmul job (8 units), submit → paid\n" + table(
        ["part", "seconds", "how"],
        [
            ["whole job (consumer clock)", f"{wall:.2f}", f"status {measured.get('status')}"],
            ["chain", f"{chain_s:.2f}", f"{txs} transactions in sequence, {last - first + 1} blocks, "
             f"{tx_s * 1e3:.0f} ms each"],
            ["provider compute", f"{provider_s:.2f}", "all units, hashing, Merkle tree"],
            ["verifier compute", f"{verifier_s:.2f}", "sampled units recomputed"],
            ["off-chain rest", f"{off_chain:.2f}", "network, protocol, bookkeeping, polling"],
        ],
    )  # fmt: skip
    return out
