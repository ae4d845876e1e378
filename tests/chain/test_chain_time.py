"""Deadlines in chain time on a clocked Anvil whose clock differs from the wall clock: a node takes
a step when the latest block's timestamp says it is due, neither earlier (wall clock ahead of the
chain) nor later (a window the wall clock says is over, the chain says is open)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.deploy import DeployParams, deploy_all
from node.chain.market import JobStatus, commitment
from node.roles.settle import advance, chain_now, next_block_time
from node.store import Store
from tests.chain.helpers import CONSUMER_SECRET, Roles, commit, register_roles, terms

LAG_S = 3_000  # the chain's clock behind the wall clock (more than the terms' commit deadline)


@pytest.fixture
def clocked() -> Iterator[tuple[Chain, Roles]]:
    """A chain of its own, deployed on demand, then mining a block a second (``evm_setIntervalMining``)."""
    accounts: tuple[LocalAccount, ...] = tuple(a.account for a in devnet_accounts(devnet=True))
    with AnvilProcess() as anvil:
        client = ChainClient(anvil.rpc_url)
        deployment = deploy_all(
            client, accounts[0], holders=[a.address for a in accounts], params=DeployParams(), devnet=True
        )
        chain = Chain.connect(dataclasses.replace(deployment, block_time_s=1.0))
        roles = register_roles(chain, accounts)
        chain.client.raw("evm_setAutomine", [False])
        chain.client.raw("evm_setIntervalMining", [1])
        yield chain, roles


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "node.db") as opened:
        opened.put_secret(commitment(CONSUMER_SECRET), CONSUMER_SECRET, job_id="", purpose="consumer")
        yield opened


def _lag_behind_wall(chain: Chain) -> None:
    """Put the chain's clock LAG_S behind the wall clock (the next blocks carry the earlier time)."""
    chain.client.raw("evm_setTime", [int(time.time()) - LAG_S])
    first = chain.client.block_number()
    while chain.client.block_number() < first + 2:  # a block stamped with the new time
        time.sleep(0.2)
    assert time.time() - chain_now(chain) > LAG_S - 30


def _sends(client: ChainClient) -> int:
    counts = client.requests
    return counts["eth_estimateGas"] + counts["eth_sendRawTransaction"]


def test_a_deadline_the_wall_clock_passed_is_not_acted_on_early(
    clocked: tuple[Chain, Roles], store: Store
) -> None:
    chain, roles = clocked
    _lag_behind_wall(chain)
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    job = chain.market.job(job_id)
    assert chain_now(chain) < job.commit_by < time.time()  # over by the wall clock, not by the chain's
    sent = _sends(chain.client)
    step = advance(chain, roles.consumer, job_id, store=store)
    assert step.name == "" and step.status == JobStatus.ACCEPTED
    assert _sends(chain.client) == sent, "a step the chain does not allow yet was tried"
    chain.increase_time(job.commit_by - chain_now(chain) + 1)  # now the chain says the window is over
    step = advance(chain, roles.consumer, job_id, store=store)
    assert step.name == "claim_commit_timeout" and step.status == JobStatus.DEFAULTED


def test_a_window_the_wall_clock_closed_is_not_missed(clocked: tuple[Chain, Roles], store: Store) -> None:
    chain, roles = clocked
    _lag_behind_wall(chain)
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    commit(chain, roles, job_id, b"\1" * 32, 8)
    job = chain.market.job(job_id)
    assert chain_now(chain) <= job.deadline < time.time()  # the reveal window: open on chain only
    step = advance(chain, roles.consumer, job_id, store=store)
    assert step.name == "reveal_consumer_secret"
    assert chain.market.job(job_id).consumer_revealed


def test_a_clock_moved_ahead_is_acted_on_at_once(clocked: tuple[Chain, Roles], store: Store) -> None:
    chain, roles = clocked
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    job = chain.market.job(job_id)
    chain.increase_time(job.commit_by - chain_now(chain) + 1)
    assert time.time() < job.commit_by < chain_now(chain)  # over on chain, not by the wall clock
    step = advance(chain, roles.consumer, job_id, store=store)
    assert step.name == "claim_commit_timeout" and step.status == JobStatus.DEFAULTED


def test_terms_start_from_the_next_block_of_the_chain(clocked: tuple[Chain, Roles]) -> None:
    chain, _ = clocked
    _lag_behind_wall(chain)
    expected = next_block_time(chain)
    assert chain_now(chain) < expected < time.time() - LAG_S + 30  # the chain's time, not the wall's


def test_on_demand_chain_moved_ahead_and_idle_next_block_time_carries_the_offset() -> None:
    """A devnet that mines on demand, moved a day ahead and then idle: its latest block grows old, the
    wall clock knows nothing of the day, yet its next block is stamped a day ahead. Deadlines set now
    (terms, the verifier's retry budget) count from that block."""
    accounts = [a.account for a in devnet_accounts(devnet=True)]
    with AnvilProcess() as anvil:  # its own chain: the day's offset stays with it
        client = ChainClient(anvil.rpc_url)
        deployment = deploy_all(
            client, accounts[0], holders=[accounts[0].address], params=DeployParams(), devnet=True
        )
        chain = Chain.connect(deployment)
        chain.increase_time(86_400)
        time.sleep(2.5)  # idle: nothing mined
        expected = next_block_time(chain)
        assert expected >= chain_now(chain) + 2  # not the old latest block's time
        chain.mine()
        assert abs(chain_now(chain) - expected) <= 2  # the block that came is stamped as predicted
