"""One daemon per home, and a home's daemon found where it was after a restart."""

from __future__ import annotations

import functools

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.roles.context import HomeLocked, stable_listen
from node.roles.provider import ProviderDaemon
from node.roles.verifier import VerifierDaemon
from tests.roles.conftest import Nodes


async def test_a_second_daemon_on_the_same_home_is_refused(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    ctx = nodes("provider", 2)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            first = await nursery.start(functools.partial(ProviderDaemon(ctx, probe=probe_result).run))
            with pytest.raises(HomeLocked, match=f"already runs on home {ctx.home}"):
                await nursery.start(functools.partial(VerifierDaemon(ctx).run))
            address = first.addrs[0]
            nursery.cancel_scope.cancel()
        # Once the first one stopped, the home is free again, and its address is the same.
        async with trio.open_nursery() as nursery:
            again = await nursery.start(functools.partial(ProviderDaemon(ctx, probe=probe_result).run))
            assert again.addrs[0] == address
            nursery.cancel_scope.cancel()


def test_stable_listen_keeps_one_port_per_home(nodes: Nodes) -> None:
    a, b = nodes.home("a"), nodes.home("b")
    first = stable_listen(a, ("/ip4/127.0.0.1/tcp/0",))
    assert first == stable_listen(a, ("/ip4/127.0.0.1/tcp/0",)) and first[0] != "/ip4/127.0.0.1/tcp/0"
    assert stable_listen(b, ("/ip4/127.0.0.1/tcp/0",)) != first
    assert stable_listen(a, ("/ip4/127.0.0.1/tcp/4001",)) == ("/ip4/127.0.0.1/tcp/4001",)  # explicit: kept
