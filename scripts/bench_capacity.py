"""``scripts/bench capacity``: what an honest provider reaches in a capacity challenge, against its probe.

For each size ``n``, dtype and repeat (interleaved, so that load on the machine hits all of them alike):

* ``probe``: the probe's own figure at ``n`` in that dtype (``measure_matmul``: best of timed
  batches) — what a provider advertises;
* ``local``: the protocol's timed window without a network: inputs built first (untimed), then π
  and the digest keys from a nonce, C = A·B0[π] and its digest on the device;
* ``libp2p``: a real challenge over ``/ccm/capacity/2.0.0`` between two hosts on 127.0.0.1 in one
  process, judged at the default threshold 0.5 against the probe figure (round trip excused as the
  protocol does) — ``achieved_over_probe``.

Each column is achieved / probe (median over repeats); ``pass`` counts libp2p challenges passed at
0.5. Options: ``--sizes 1024,2048`` ``--dtypes float32,bfloat16`` ``--repeats 5``
``--device cpu|cuda`` ``--json`` (then one JSON object a line, one per size and dtype, instead of
the table: ``n``, ``dtype``, ``device``, ``achieved_over_probe``, ``local_over_probe``, ``min``,
``probe_gflops``, ``passed``, ``repeats``).
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

from node.capacity.challenge import (
    DEFAULT_THRESHOLD,
    DTYPES,
    compute_answer,
    new_challenge,
    new_nonce,
    prepare,
)
from node.capacity.probe import measure_matmul
from node.cli._output import table
from node.p2p.host import Host
from node.p2p.identity import generate_key_pair
from node.roles.capacity import CapacityServer, challenge_peer


def _local(n: int, dtype: str, probe_gflops: float, device: str) -> float:
    prepared = prepare(new_challenge(advertised_gflops=1, n=n, dtype=dtype), device=device)
    nonce = new_nonce()
    start = time.perf_counter()
    prepared.answer(nonce)
    return 2 * n**3 / (time.perf_counter() - start) / 1e9 / probe_gflops


async def bench(*, sizes: list[int], dtypes: list[str], repeats: int, device: str) -> list[dict[str, Any]]:
    server, client = Host(generate_key_pair()), Host(generate_key_pair())
    CapacityServer(device=device, max_n=max(sizes)).register(server)
    keys = [(n, dt) for n in sizes for dt in dtypes]
    rows: dict[tuple[int, str], dict[str, list[float]]] = {
        k: {"probe": [], "local": [], "wire": []} for k in keys
    }
    passed = dict.fromkeys(keys, 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(server.run))
        await nursery.start(functools.partial(client.run))
        peer = await client.connect(server.addrs[0])
        compute_answer(new_challenge(advertised_gflops=1, n=64), device=device)  # warm up torch
        for _ in range(repeats):
            for n, dt in keys:
                fig = measure_matmul(torch.device(device), dt, n, seconds=0.5).mflops / 1000
                row = rows[n, dt]
                row["probe"].append(fig)
                row["local"].append(await trio.to_thread.run_sync(_local, n, dt, fig, device))
                result = await challenge_peer(client, peer, advertised_gflops=max(1, round(fig)), n=n,
                                              max_n=max(sizes), dtype=dt, threshold=DEFAULT_THRESHOLD)
                if not result.correct:
                    raise SystemExit(f"honest challenge at n={n} {dt} was judged wrong: {result.reason}")
                row["wire"].append(result.ratio)
                passed[n, dt] += result.passed
        nursery.cancel_scope.cancel()
    return [
        {"n": n, "dtype": dt, "device": device, "repeats": repeats, "threshold": DEFAULT_THRESHOLD,
         "probe_gflops": round(statistics.median(rows[n, dt]["probe"]), 1),
         "achieved_over_probe": round(statistics.median(rows[n, dt]["wire"]), 3),
         "local_over_probe": round(statistics.median(rows[n, dt]["local"]), 3),
         "min": round(min(rows[n, dt]["wire"]), 3), "passed": passed[n, dt]}
        for n, dt in keys
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench capacity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1024,2048", help="comma-separated matrix sizes")
    parser.add_argument("--dtypes", default="float32", help=f"comma-separated, of {', '.join(DTYPES)}")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", action="store_true", help="one JSON object a line instead of the table")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    dtypes = [d for d in args.dtypes.split(",") if d]
    if not sizes or min(sizes) < 16 or args.repeats < 1:
        parser.error("--sizes must be integers >= 16 and --repeats >= 1")
    if not dtypes or any(d not in DTYPES for d in dtypes):
        parser.error(f"--dtypes must name some of {', '.join(DTYPES)}")
    report = trio.run(functools.partial(bench, sizes=sizes, dtypes=dtypes, repeats=args.repeats,
                                        device=args.device))
    if args.json:
        for row in report:
            print(json.dumps(row, sort_keys=True))
        return 0
    print(table(
        ["n", "dtype", "probe GFLOP/s", "local", "libp2p", "libp2p min", "pass at 0.5"],
        [[r["n"], r["dtype"], r["probe_gflops"], r["local_over_probe"], r["achieved_over_probe"], r["min"],
          f"{r['passed']}/{args.repeats}"] for r in report],
    ))
    print(f"achieved / probe, median of {args.repeats} (device {args.device}; digest computed on the device)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
