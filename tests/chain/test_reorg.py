"""Reorgs on Anvil 1.7.1 (``anvil_reorg``): the follower undoes what dropped blocks delivered, holds
back what is not yet ``confirmations`` deep, resumes from its persisted cursor; the client re-sends
what vanished and fills a nonce gap instead of copying a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from eth_account.signers.local import LocalAccount

from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.deploy import DeployParams, deploy_all
from node.store import Store


@pytest.fixture
def fresh() -> Iterator[tuple[Chain, tuple[LocalAccount, ...]]]:
    """A chain of its own (reorgs do not mix with the session Anvil's snapshots)."""
    accounts = tuple(a.account for a in devnet_accounts(devnet=True))
    with AnvilProcess() as anvil:
        client = ChainClient(anvil.rpc_url)
        deployment = deploy_all(
            client, accounts[0], holders=[a.address for a in accounts], params=DeployParams(), devnet=True
        )
        yield Chain.connect(deployment), accounts


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "node.db") as opened:
        yield opened


def _transfers(events: object) -> list[tuple[str, int]]:
    return [(str(e.args["to"]), int(e.args["value"])) for e in events if e.name == "Transfer"]  # type: ignore[attr-defined]


def test_follower_delivers_once_and_resumes_from_its_cursor(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    chain, accounts = fresh
    follower = chain.follower(store)
    first = follower.poll()
    assert any(e.name == "Transfer" for e in first.events)  # the mint at deployment
    chain.token.transfer(accounts[1], accounts[2].address, 7)
    assert _transfers(follower.poll().events) == [(accounts[2].address, 7)]
    assert follower.poll().events == ()  # nothing new: nothing delivered twice
    chain.token.transfer(accounts[1], accounts[3].address, 8)
    restarted = chain.follower(store)  # a new process on the same store
    assert _transfers(restarted.poll().events) == [(accounts[3].address, 8)]
    other = chain.follower(store, name="other")  # another cursor starts from the deployment
    assert len(other.poll().events) == len(first.events) + 2


def test_confirmations_hold_events_back_until_deep_enough(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    chain, accounts = fresh
    follower = chain.follower(store, confirmations=3)
    chain.mine(2)
    follower.poll()  # the deployment's own events, now 3 deep
    receipt = chain.token.transfer(accounts[1], accounts[2].address, 5)
    assert follower.poll().events == ()  # 1 confirmation
    chain.mine(1)
    assert follower.poll().events == ()  # 2 confirmations
    chain.mine(1)
    update = follower.poll()
    assert _transfers(update.events) == [(accounts[2].address, 5)]
    assert update.events[0].block_number == receipt.block_number == update.cursor


def test_reorg_that_drops_a_delivered_event_undoes_it(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    chain, accounts = fresh
    follower = chain.follower(store)
    follower.poll()
    chain.token.transfer(accounts[1], accounts[2].address, 9)
    chain.mine(1)
    assert _transfers(follower.poll().events) == [(accounts[2].address, 9)]
    chain.client.raw("anvil_reorg", [3, []])  # the transfer's block and the two after it, replaced empty
    update = follower.poll()
    assert update.reorged and _transfers(update.dropped) == [(accounts[2].address, 9)]
    assert update.events == ()
    assert chain.token.balance_of(accounts[2].address) == DeployParams().mint_per_holder  # chain agrees
    with store.transaction() as conn:
        kept = conn.execute("SELECT COUNT(*) FROM chain_logs WHERE block > ?", (update.cursor,)).fetchone()
    assert kept[0] == 0
    assert follower.poll().events == () and follower.poll().dropped == ()


def test_reorg_that_moves_an_event_to_another_block_delivers_it_again(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    chain, accounts = fresh
    follower = chain.follower(store)
    follower.poll()
    receipt = chain.token.transfer(accounts[1], accounts[2].address, 11)
    raw = chain.client.raw("eth_getRawTransactionByHash", [receipt.tx_hash])
    chain.mine(1)
    follower.poll()
    # the same signed transaction, one block later on the new branch (a 2-block reorg)
    chain.client.raw("anvil_reorg", [2, [[raw, 1]]])
    update = follower.poll()
    assert _transfers(update.dropped) == [(accounts[2].address, 11)]
    assert _transfers(update.events) == [(accounts[2].address, 11)]
    assert update.events[0].block_number == receipt.block_number + 1


def test_shallow_reorg_below_the_confirmation_depth_is_invisible(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    chain, accounts = fresh
    follower = chain.follower(store, confirmations=4)
    chain.mine(4)
    follower.poll()
    chain.token.transfer(accounts[1], accounts[2].address, 3)
    chain.mine(1)
    chain.client.raw("anvil_reorg", [2, []])  # 2 deep: nothing of it was delivered yet
    update = follower.poll()
    assert update.dropped == () and update.events == ()
    chain.mine(4)
    assert follower.poll().events == ()  # the transfer is gone for good and was never delivered


def test_a_sender_whose_transactions_a_reorg_dropped_sends_again_without_copies(
    fresh: tuple[Chain, tuple[LocalAccount, ...]],
) -> None:
    chain, accounts = fresh
    sender, receiver = accounts[4], accounts[5].address
    before = chain.token.balance_of(receiver)
    for value in (1, 2, 4):
        chain.token.transfer(sender, receiver, value)
    chain.client.raw("anvil_reorg", [2, []])  # drops the transfers of 2 and 4: the chain's nonce goes back
    assert chain.token.balance_of(receiver) == before + 1
    chain.token.transfer(sender, receiver, 8)  # signed with the stale local nonce: the gap is filled
    assert chain.token.balance_of(receiver) == before + 1 + 8
    chain.mine(2)
    assert chain.token.balance_of(receiver) == before + 1 + 8  # and nothing comes twice
    count = chain.client.w3.eth.get_transaction_count(sender.address, "latest")
    assert count == 4  # transfer 1, two fillers, transfer 8


def test_delivery_is_at_least_once_until_acknowledged(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    chain, accounts = fresh
    follower = chain.follower(store)
    follower.poll()
    chain.token.transfer(accounts[1], accounts[2].address, 6)
    first = follower.fetch()  # a handler that crashes here has acknowledged nothing
    again = chain.follower(store).fetch()
    assert _transfers(first.events) == _transfers(again.events) == [(accounts[2].address, 6)]
    follower.ack(again)
    assert follower.fetch().events == ()


async def test_follower_outlives_an_unreachable_endpoint(
    fresh: tuple[Chain, tuple[LocalAccount, ...]], store: Store
) -> None:
    from node.chain.aio import AsyncChain
    from node.chain.follower import CursorStore, Follower

    chain, _ = fresh
    dead = ChainClient("http://127.0.0.1:9")  # nothing listens there
    decoder = chain.follower(store).decoder
    follower = Follower(dead, decoder, CursorStore(store, "dead"), start_block=0)
    calls: list[object] = []

    async def handle(update: object) -> None:
        calls.append(update)

    with trio.move_on_after(1.0):  # several polls, each an RpcError: logged, never raised
        await follower.run(AsyncChain(chain), handle)
    assert calls == [] and CursorStore(store, "dead").cursor() is None
