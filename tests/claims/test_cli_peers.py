"""``ccm claims … --peer``: the one-shot CLI talks to a running provider daemon over libp2p.

``create`` on the daemon's home puts the order in its outbox; ``list --peer`` from another home
fetches the daemon's book (each order still judged against the chain); ``sell --peer`` pushes a
resale order that the daemon keeps and gossips.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import trio
from eth_account.signers.local import LocalAccount

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.registry import Role
from node.chain.token import TOKEN
from node.claims.book import OrderBook
from node.claims.capacity import devnet_verify
from node.cli import main
from node.roles.provider import ProviderDaemon
from tests.roles.conftest import Nodes


async def _ccm(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> Any:
    code = await trio.to_thread.run_sync(lambda: main(["claims", *argv, "--home", str(home), "--json"]))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


async def test_list_and_sell_through_a_peer(
    capsys: pytest.CaptureFixture[str],
    chain: Chain,
    nodes: Nodes,
    probe_result: ProbeResult,
    dev_accounts: tuple[LocalAccount, ...],
) -> None:
    provider_ctx = nodes("provider", 2)
    buyer_home = nodes.home("buyer")
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            daemon = ProviderDaemon(provider_ctx, probe=probe_result, offer_interval=5.0)
            provider = await nursery.start(functools.partial(daemon.run))
            addr = provider.addrs[0]
            verifier = dev_accounts[3]
            await trio.to_thread.run_sync(
                lambda: chain.registry.stake_and_register(
                    verifier, 200 * TOKEN, Role.VERIFIER, b"v", b"\0" * 32
                )
            )
            await trio.to_thread.run_sync(
                lambda: devnet_verify(
                    chain,
                    verifier,
                    provider=provider_ctx.account.address,
                    gpu_class="B200",
                    gpus=8,
                    gflops_per_gpu=80_000,
                )
            )
            created = await _ccm(
                capsys,
                provider_ctx.home,
                "create",
                "--gpu-class",
                "B200",
                "--window-start",
                "+10m",
                "--window-end",
                "+2h",
                "--supply",
                "4",
                "--price",
                "3tok",
                "--account-index",
                "2",
            )
            listed = await _ccm(capsys, buyer_home, "list", "--peer", addr)
            assert listed["fetched"] == 1
            assert [o["order"] for o in listed["orders"]] == [created["order"]]
            sid = str(created["series"])
            await _ccm(capsys, buyer_home, "buy", sid, "--amount", "3", "--account-index", "1")
            resale = await _ccm(
                capsys,
                buyer_home,
                "sell",
                sid,
                "--amount",
                "1",
                "--price",
                "4tok",
                "--account-index",
                "1",
                "--peer",
                addr,
            )
            assert resale["pushed"] == {addr: {resale["order"]: "kept"}}
            book = OrderBook(provider_ctx.store)
            stored = await trio.to_thread.run_sync(book.get, resale["order"])
            assert stored is not None and stored.source == "peer"
            nursery.cancel_scope.cancel()
