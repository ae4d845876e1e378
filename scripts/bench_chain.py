"""``scripts/bench chain``: one job through the market on chains with a block time, and an idle node.

For each block time (default 0, 2 and 12 s): a fresh devnet (``ccm devnet up --block-time``'s path,
every job audited, windows derived from the block time), ``ccm provider start`` and ``ccm verifier
start`` as processes, and one ``ccm job submit --wait`` from a consumer. Every node reaches the
chain through its own counting JSON-RPC proxy on 127.0.0.1 (``[chain] rpc_url`` in its home), which
can also add latency (``--rpc-latency-ms``), so the figures are the nodes' real requests:

* ``submit_to_paid_s`` — wall time of ``ccm job submit --wait`` (process start included);
* ``chain_blocks`` — blocks from the one with ``JobPosted`` to the one that pays the provider, and
  ``chain_steps`` — the job's transactions in that span (each needs at least a block): the
  on-chain part is within 2 blocks of the protocol's own steps when ``blocks <= steps + 2``;
  ``chain_timeline`` — the job's events, each with its block counted from ``JobPosted``'s;
* ``requests_per_job`` — all three nodes' requests while the job ran, by node;
* ``idle_per_minute`` — each daemon's requests per minute over ``--idle-s`` seconds without jobs
  (targets: under 20 on a 2 s chain, under 10 on a 12 s chain).

Options: ``--block-times 0,2,12``, ``--idle-s 60``, ``--rpc-latency-ms 0``, ``--json`` (one JSON
object a line, one per block time).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.server
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from node.chain import devnet
from node.chain.accounts import devnet_accounts
from node.chain.chain import Chain
from node.chain.deploy import DeployParams
from node.chain.deployment import DEPLOYMENT_FILE
from node.chain.params import production_params
from node.cli._output import table
from node.demo.market import ROOT, make_nodes, prepare_homes, start_daemons, submit, write_spec
from node.demo.procs import Supervisor


class CountingProxy:
    """A JSON-RPC proxy on 127.0.0.1 that counts requests by method and may delay each one."""

    def __init__(self, upstream: str, *, latency_s: float = 0.0) -> None:
        self.upstream = upstream
        self.latency_s = latency_s
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = {}
                calls = parsed if isinstance(parsed, list) else [parsed]
                with proxy._lock:
                    for call in calls:
                        proxy.counts[str(call.get("method", "?"))] += 1
                if proxy.latency_s:
                    time.sleep(proxy.latency_s)
                request = urllib.request.Request(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=60) as answer:
                    data = answer.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _params(block_time_s: float) -> DeployParams:
    """The devnet's economics (every job audited, small stakes) with the production windows."""
    production = production_params(block_time_s)
    windows = {
        f.name: getattr(production, f.name)
        for f in dataclasses.fields(DeployParams)
        if f.name.endswith("_window")
    }
    return dataclasses.replace(DeployParams(), **windows)


def _job_span(chain: Chain, job_id: int) -> tuple[int, int, str]:
    """(blocks from JobPosted to the last event of the job, transactions of the job in between,
    the job's events with the block each came in, counted from JobPosted's)."""
    events = [
        e
        for e in chain.event_watcher().poll()
        if e.contract == "JobMarket" and int(e.args.get("jobId", -1)) == job_id
    ]
    if not events:
        return 0, 0, ""
    first, last = events[0].block_number, events[-1].block_number
    timeline = " ".join(f"{e.name}+{e.block_number - first}" for e in events)
    return last - first + 1, len({e.tx_hash for e in events}), timeline


def run_one(block_time_s: float, *, idle_s: float, latency_s: float, say: Any) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"ccm-bench-chain-{block_time_s:g}-"))
    sup = Supervisor(logs=root / "logs", python=sys.executable, cwd=ROOT)
    proxies: dict[str, CountingProxy] = {}
    try:
        deployment, _ = devnet.up(root, params=_params(block_time_s), block_time_s=block_time_s)
        chain = Chain.connect(deployment)
        accounts = [a.account for a in devnet_accounts(devnet=True)]
        nodes = {n.actor.name: n for n in make_nodes(root, accounts, cheat_fraction="0")}
        used = {k: nodes[k] for k in ("consumer", "provider-1", "verifier-1")}
        prepare_homes(root, used.values())
        for name, node in used.items():
            proxies[name] = CountingProxy(deployment.rpc_url, latency_s=latency_s)
            (node.home / "config.toml").write_text(f'[chain]\nrpc_url = "{proxies[name].url}"\n')
            shutil.copy(root / DEPLOYMENT_FILE, node.home / DEPLOYMENT_FILE)
        say(f"block time {block_time_s:g} s: devnet at {deployment.rpc_url}")
        addrs = start_daemons(sup, used, chain, say=say, only=("verifier-1",))
        spec, _ = write_spec(root, "matmul", seed=3)
        before = {k: p.total() for k, p in proxies.items()}
        methods_before = sum((p.snapshot() for p in proxies.values()), Counter())
        start = time.monotonic()
        consumer, provider = used["consumer"], used["provider-1"]
        result = submit(sup, consumer, provider, addrs["provider-1"], spec, kind="matmul", say=say)
        wall = time.monotonic() - start
        per_job = {k: p.total() - before[k] for k, p in proxies.items()}
        methods = sum((p.snapshot() for p in proxies.values()), Counter()) - methods_before
        job_id = int(result.get("job_id", 0))  # type: ignore[call-overload]
        blocks, steps, timeline = _job_span(chain, job_id)
        time.sleep(max(2.0, 2 * block_time_s))  # the daemons' last steps of the job settle first
        daemons = ("provider-1", "verifier-1")
        idle_from = {k: proxies[k].snapshot() for k in daemons}
        say(f"block time {block_time_s:g} s: job {job_id} {result.get('status')}; idle for {idle_s:g} s")
        time.sleep(idle_s)
        idle_counts = {k: proxies[k].snapshot() - idle_from[k] for k in daemons}
        idle = {k: round(sum(c.values()) * 60 / idle_s, 1) for k, c in idle_counts.items()}
        return {
            "block_time_s": block_time_s,
            "rpc_latency_ms": round(latency_s * 1000),
            "status": result.get("status"),
            "submit_to_paid_s": round(wall, 2),
            "chain_blocks": blocks,
            "chain_steps": steps,
            "chain_timeline": timeline,
            "requests_per_job": {**per_job, "total": sum(per_job.values())},
            "idle_per_minute": idle,
            "methods_per_job": dict(methods.most_common(8)),
            "idle_methods_per_minute": {
                k: {m: round(n * 60 / idle_s, 1) for m, n in c.most_common(5)} for k, c in idle_counts.items()
            },
        }
    finally:
        sup.close()
        for proxy in proxies.values():
            proxy.close()
        devnet.down(root)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench chain", description=__doc__.split("\n")[0])
    parser.add_argument("--block-times", default="0,2,12", help="comma-separated seconds per block")
    parser.add_argument("--idle-s", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument("--rpc-latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args()

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    rows = []
    for text in args.block_times.split(","):
        row = run_one(float(text), idle_s=args.idle_s, latency_s=args.rpc_latency_ms / 1000, say=say)
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        header = ["block s", "status", "submit→paid s", "blocks/steps", "req/job", "idle/min prov", "verif"]
        print(
            table(
                header,
                [
                    [
                        f"{r['block_time_s']:g}", r["status"], r["submit_to_paid_s"],
                        f"{r['chain_blocks']}/{r['chain_steps']}", r["requests_per_job"]["total"],
                        r["idle_per_minute"]["provider-1"], r["idle_per_minute"]["verifier-1"],
                    ]
                    for r in rows
                ],
            )
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
