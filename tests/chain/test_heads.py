"""The block waiter (node.chain.heads) on real Anvil: by newHeads subscription on a ws:// URL, by
polling on an http:// URL (nothing while nobody waits), and the follower waking on it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from eth_account.signers.local import LocalAccount

from node.chain.accounts import devnet_accounts
from node.chain.aio import AsyncChain
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import BlockHeader, ChainClient, http_url
from node.chain.deploy import DeployParams, deploy_all
from node.chain.follower import FollowUpdate
from node.chain.heads import Heads
from node.store import Store


def _ws(url: str) -> str:
    return "ws://" + url.removeprefix("http://")


@pytest.fixture(scope="module")
def clocked() -> Iterator[AnvilProcess]:
    """An Anvil that mines a block a second."""
    with AnvilProcess(extra_args=("--block-time", "1")) as anvil:
        yield anvil


async def _heads_in_a_row(heads: Heads, count: int) -> list[BlockHeader]:
    seen: list[BlockHeader] = []
    with trio.fail_after(30):
        for _ in range(count):
            seen.append(await heads.next(seen[-1].number if seen else None))
    return seen


def test_ws_url_is_asked_over_http_at_the_same_place() -> None:
    assert http_url("ws://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert http_url("wss://node.example/v2/key") == "https://node.example/v2/key"
    assert http_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert ChainClient("ws://127.0.0.1:8545").ws_url == "ws://127.0.0.1:8545"
    assert ChainClient("http://127.0.0.1:8545").ws_url == ""


async def test_ws_subscription_wakes_on_every_block_for_no_request(clocked: AnvilProcess) -> None:
    client = ChainClient(_ws(clocked.rpc_url))
    heads = Heads.of(client, block_time_s=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(heads.run)
        with trio.fail_after(20):
            while not heads.subscribed:
                await trio.sleep(0.05)
        seen = await _heads_in_a_row(heads, 4)
        nursery.cancel_scope.cancel()
    numbers = [h.number for h in seen]
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # every block, in order
    assert heads.pushed >= 4
    assert client.requests["eth_getBlockByNumber"] == 0, "a subscribed waiter polled"
    assert seen[-1].hash == client.block(seen[-1].number).hash  # type: ignore[union-attr]


async def test_http_polls_only_while_waited_on_and_a_few_times_a_block(clocked: AnvilProcess) -> None:
    client = ChainClient(clocked.rpc_url)
    heads = Heads.of(client, block_time_s=1.0)
    assert heads.ws_url == ""
    seen = await _heads_in_a_row(heads, 6)
    numbers = [h.number for h in seen]
    assert numbers == sorted(set(numbers)) and numbers[-1] - numbers[0] >= 5
    polls = client.requests["eth_getBlockByNumber"]
    assert polls <= 4 * (numbers[-1] - numbers[0] + 1), f"{polls} polls for {len(seen)} blocks"
    await trio.sleep(2.5)  # nobody waits: nothing is asked
    assert client.requests["eth_getBlockByNumber"] == polls


async def test_a_subscription_that_cannot_open_falls_back_to_polling(clocked: AnvilProcess) -> None:
    client = ChainClient(clocked.rpc_url)
    heads = Heads(client, block_time_s=1.0, ws_url="ws://127.0.0.1:1")  # nothing listens there
    async with trio.open_nursery() as nursery:
        await nursery.start(heads.run)
        seen = await _heads_in_a_row(heads, 2)
        nursery.cancel_scope.cancel()
    assert not heads.subscribed and heads.pushed == 0
    assert seen[1].number > seen[0].number
    assert client.requests["eth_getBlockByNumber"] > 0


@pytest.fixture
def deployed() -> Iterator[tuple[AnvilProcess, Chain, tuple[LocalAccount, ...]]]:
    accounts = tuple(a.account for a in devnet_accounts(devnet=True))
    with AnvilProcess() as anvil:
        deployment = deploy_all(
            ChainClient(anvil.rpc_url),
            accounts[0],
            holders=[a.address for a in accounts],
            params=DeployParams(),
            devnet=True,
        )
        yield anvil, Chain.connect(deployment), accounts


@pytest.mark.parametrize("scheme", ["ws", "http"])
async def test_follower_wakes_on_the_block_with_the_event(
    deployed: tuple[AnvilProcess, Chain, tuple[LocalAccount, ...]], tmp_path: Path, scheme: str
) -> None:
    """A follower paced as on an hour-long block time still delivers a transfer as soon as its
    block is seen: the waiter wakes it, not its timer."""
    anvil, chain, accounts = deployed
    url = _ws(anvil.rpc_url) if scheme == "ws" else anvil.rpc_url
    slow = dataclasses.replace(chain.deployment, block_time_s=3600.0)
    node = Chain.connect(slow, rpc_url=url)
    heads = Heads.of(node.client, block_time_s=0.0)  # the chain mines on demand
    assert bool(heads.ws_url) == (scheme == "ws")
    got: list[FollowUpdate] = []
    with Store.open(tmp_path / "node.db") as store:
        follower = node.follower(store)
        follower.poll()  # past the deployment's own events
        async with trio.open_nursery() as nursery:
            await nursery.start(heads.run)
            if scheme == "ws":
                with trio.fail_after(20):
                    while not heads.subscribed:
                        await trio.sleep(0.05)

            async def handle(update: FollowUpdate) -> None:
                got.append(update)

            await nursery.start(
                lambda task_status: follower.run(
                    AsyncChain(node), handle, heads=heads, active=lambda: True, task_status=task_status
                )
            )
            await trio.to_thread.run_sync(chain.token.transfer, accounts[1], accounts[2].address, 5)
            with trio.fail_after(30):
                while not any(e.name == "Transfer" for u in got for e in u.events):
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert follower.interval(active=True) == 3600.0  # its own pace would not have found it in time
    if scheme == "ws":
        assert heads.pushed >= 1


async def test_a_bounded_wait_ends_without_a_block_or_on_a_kick() -> None:
    """On a chain that mines on demand no block may come: a bounded wait ends after its time, or at
    once when kicked, with None; a block that does come is returned."""
    with AnvilProcess() as anvil:
        client = ChainClient(anvil.rpc_url)
        heads = Heads.of(client, block_time_s=0.0)
        start = await heads.next()
        assert await heads.wait(start.number, at_most=0.5) is None
        kick = trio.Event()
        kick.set()
        with trio.fail_after(5):  # not the hour it was given
            assert await heads.wait(start.number, at_most=3600, kick=kick) is None
        await trio.to_thread.run_sync(client.raw, "evm_mine", [])
        found = await heads.wait(start.number, at_most=30)
        assert found is not None and found.number == start.number + 1
