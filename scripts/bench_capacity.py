"""``scripts/bench capacity``: what an honest provider reaches in a capacity challenge, against its probe.

For each size ``n`` and each repeat (interleaved, so that load on the machine hits all of them alike):

* ``probe``: the probe's own fp32 figure at ``n`` (``measure_matmul``: best of timed batches) — what
  a provider advertises;
* ``v1 local``: protocol 1's timed window, measured here without a network: inputs built from the
  seed, C = A·B, digest (the old ``compute_answer`` path, still what a one-shot call times);
* ``v2 local``: protocol 2's timed window without a network: inputs built first (untimed), then
  π from a nonce, C = A·B0[π], digest;
* ``v2 libp2p``: a real challenge over ``/ccm/capacity/2.0.0`` between two hosts on 127.0.0.1 in one
  process, judged at the default threshold 0.5 against the probe figure (round trip excused as the
  protocol does).

Each column is achieved / probe (median over repeats); ``pass`` counts v2 libp2p challenges passed at
0.5. Options: ``--sizes 1024,2048`` ``--repeats 5`` ``--device cpu|cuda`` ``--json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from typing import Any

import torch
import trio

from node.capacity.challenge import DEFAULT_THRESHOLD, compute_answer, new_challenge, new_nonce, prepare
from node.capacity.probe import measure_matmul
from node.cli._output import table
from node.p2p.host import Host
from node.p2p.identity import generate_key_pair
from node.roles.capacity import CapacityServer, challenge_peer


def _v1_local(n: int, probe_gflops: float, device: str) -> float:
    ch = new_challenge(advertised_gflops=1, n=n)
    start = time.perf_counter()
    compute_answer(ch, device=device)
    return 2 * n**3 / (time.perf_counter() - start) / 1e9 / probe_gflops


def _v2_local(n: int, probe_gflops: float, device: str) -> float:
    prepared = prepare(new_challenge(advertised_gflops=1, n=n), device=device)
    nonce = new_nonce()
    start = time.perf_counter()
    prepared.answer(nonce)
    return 2 * n**3 / (time.perf_counter() - start) / 1e9 / probe_gflops


async def bench(*, sizes: list[int], repeats: int, device: str) -> dict[str, Any]:
    server, client = Host(generate_key_pair()), Host(generate_key_pair())
    CapacityServer(device=device, max_n=max(sizes)).register(server)
    rows: dict[int, dict[str, list[float]]] = {
        n: {"probe": [], "v1": [], "v2": [], "wire": []} for n in sizes
    }
    passed = {n: 0 for n in sizes}
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.run))
        await nursery.start(functools.partial(client.run))
        peer = await client.connect(server.addrs[0])
        compute_answer(new_challenge(advertised_gflops=1, n=64), device=device)  # warm up torch
        for _ in range(repeats):
            for n in sizes:
                fig = measure_matmul(torch.device(device), "float32", n, seconds=0.5).mflops / 1000
                row = rows[n]
                row["probe"].append(fig)
                row["v1"].append(await trio.to_thread.run_sync(_v1_local, n, fig, device))
                row["v2"].append(await trio.to_thread.run_sync(_v2_local, n, fig, device))
                result = await challenge_peer(client, peer, advertised_gflops=max(1, round(fig)), n=n,
                                              max_n=max(sizes), threshold=DEFAULT_THRESHOLD)
                if not result.correct:
                    raise SystemExit(f"honest challenge at n={n} was judged wrong: {result.reason}")
                row["wire"].append(result.ratio)
                passed[n] += result.passed
        nursery.cancel_scope.cancel()
    return {
        "device": device, "threshold": DEFAULT_THRESHOLD, "repeats": repeats,
        "sizes": [
            {"n": n, "probe_gflops": round(statistics.median(rows[n]["probe"]), 1),
             **{k: round(statistics.median(rows[n][k]), 3) for k in ("v1", "v2", "wire")},
             "wire_min": round(min(rows[n]["wire"]), 3), "passed": passed[n]}
            for n in sizes
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench capacity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1024,2048", help="comma-separated matrix sizes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not sizes or min(sizes) < 16 or args.repeats < 1:
        parser.error("--sizes must be integers >= 16 and --repeats >= 1")
    report = trio.run(functools.partial(bench, sizes=sizes, repeats=args.repeats, device=args.device))
    print(table(
        ["n", "probe GFLOP/s", "v1 local", "v2 local", "v2 libp2p", "v2 libp2p min", "pass at 0.5"],
        [[s["n"], s["probe_gflops"], s["v1"], s["v2"], s["wire"], s["wire_min"],
          f"{s['passed']}/{args.repeats}"] for s in report["sizes"]],
    ))
    print("columns v1/v2: achieved / probe, median of repeats (v1 = inputs built inside the window)")
    if args.json:
        print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
