"""Helpers for the role tests (their fixtures ``nodes`` and ``probe_result`` are in tests/conftest.py).

Every node is a real :class:`~node.roles.context.NodeContext` (its own home, SQLite store, blob
store and libp2p identity) sharing the snapshot-reverted session chain; every daemon runs a real
libp2p host on 127.0.0.1 and is cancelled when its test's nursery ends.
"""

from __future__ import annotations

import functools
from pathlib import Path

import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.deployment import DEPLOYMENT_FILE
from node.roles.context import NodeContext, open_context
from node.roles.provider import ProviderDaemon
from node.roles.verifier import VerifierDaemon

PRICE_PER_UNIT = 10**15


async def start_provider(nursery: trio.Nursery, ctx: NodeContext, probe: ProbeResult) -> ProviderDaemon:
    """A provider daemon on ``ctx`` at :data:`PRICE_PER_UNIT`, started in ``nursery`` (listening)."""
    daemon = ProviderDaemon(ctx, probe=probe, price_per_unit=PRICE_PER_UNIT)
    started: ProviderDaemon = await nursery.start(functools.partial(daemon.run))
    return started


async def start_verifier(nursery: trio.Nursery, ctx: NodeContext, provider: ProviderDaemon) -> VerifierDaemon:
    """A verifier daemon on ``ctx`` that knows ``provider``'s address, polling the chain every 0.2 s."""
    daemon = VerifierDaemon(ctx, bootstrap=[provider.addrs[0]], poll=0.2)
    started: VerifierDaemon = await nursery.start(functools.partial(daemon.run))
    return started


def matmul_spec(*, n: int = 64, k: int = 32, m: int = 16, rows: int = 8, seed: int = 7) -> dict[str, object]:
    """A small matmul job (n / rows units) with seeded inputs."""
    return {
        "version": 1,
        "kind": "matmul",
        "dtype": "float32",
        "tolerance": "1e-5",
        "limits": {"max_units": 4096, "max_bytes": 1 << 32, "max_seconds": 600, "max_memory_bytes": 1 << 32},
        "matmul": {
            "n": n,
            "k": k,
            "m": m,
            "rows_per_unit": rows,
            "a": {"seed": seed},
            "b": {"seed": seed + 1},
        },
    }


class Nodes:
    """Makes node homes under one temp folder, each with the session deployment and a dev account."""

    def __init__(self, root: Path, chain: Chain) -> None:
        self.root = root
        self.chain = chain
        self.opened: list[NodeContext] = []

    def home(self, name: str) -> Path:
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        self.chain.deployment.save(home / DEPLOYMENT_FILE)
        return home

    def __call__(self, name: str, account_index: int) -> NodeContext:
        ctx = open_context(
            self.home(name), account_index=account_index, chain=self.chain, say=lambda _l: None
        )
        self.opened.append(ctx)
        return ctx

