"""Reorgs under running role daemons (real Anvil 1.7.1 ``anvil_reorg``, libp2p, torch, SQLite).

The verifier's attestation is dropped by a reorg after the job was paid: its follower undoes it, the
verifier judges the job again on the new chain and attests once more; the job ends completed, the
provider is paid once, nobody is slashed and the market owes what it holds.
"""

from __future__ import annotations

import functools
from pathlib import Path

import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.roles.consumer import Consumer, rank_offers
from node.roles.provider import ProviderDaemon
from node.roles.verifier import VerifierDaemon
from node.workloads.spec import parse_spec
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec


async def _until(chain: Chain, job_id: int, status: JobStatus, *, timeout: float = 60.0) -> int:
    """Wait for ``status``; the head block when it was seen."""
    with trio.fail_after(timeout):
        while await trio.to_thread.run_sync(chain.market.status_of, job_id) != status:
            await trio.sleep(0.1)
    return await trio.to_thread.run_sync(chain.client.block_number)


def _attest_block(chain: Chain, job_id: int) -> int:
    events = [
        e
        for e in chain.event_watcher().poll()
        if e.name == "Attested" and int(e.args["jobId"]) == job_id
    ]
    assert len(events) == 1
    return events[0].block_number


async def test_a_dropped_attestation_is_made_again(
    tmp_path: Path, own_chain: Chain, probe_result: ProbeResult
) -> None:
    chain = own_chain
    nodes = Nodes(tmp_path, chain)
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    verifier_ctx = nodes("verifier", 3)
    spec = parse_spec(matmul_spec())
    try:
        with trio.fail_after(150):
            async with trio.open_nursery() as nursery:
                daemon = ProviderDaemon(
                    provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                )
                provider = await nursery.start(functools.partial(daemon.run))
                verifier = VerifierDaemon(verifier_ctx, bootstrap=[provider.addrs[0]], poll=0.2)
                await nursery.start(functools.partial(verifier.run))
                consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
                offers = await consumer.discover(peers=[provider.addrs[0]])
                job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=8)[0])
                await _until(chain, job_id, JobStatus.COMPLETED)
                paid_once = chain.token.balance_of(provider_ctx.address)
                stake = chain.registry.staker(verifier_ctx.address).active
                head = chain.client.block_number()
                depth = head - _attest_block(chain, job_id) + 1
                chain.client.raw("anvil_reorg", [depth, []])  # the attestation and what followed: gone
                assert chain.market.status_of(job_id) == JobStatus.AUDITING
                await _until(chain, job_id, JobStatus.COMPLETED, timeout=60)
                nursery.cancel_scope.cancel()
        assert len([j for j in verifier.judged if j[0] == job_id]) == 2  # judged again, passed again
        assert chain.token.balance_of(provider_ctx.address) == paid_once  # paid once, on the new chain
        assert chain.registry.staker(verifier_ctx.address).active == stake  # not slashed
        owed = chain.market.contract.call("totalOwed")
        assert chain.token.balance_of(chain.market.address) == owed
    finally:
        for ctx in nodes.opened:
            ctx.close()


def _block_of(chain: Chain, job_id: int, name: str) -> int:
    events = [e for e in chain.event_watcher().poll() if e.name == name and int(e.args["jobId"]) == job_id]
    assert len(events) == 1, name
    return events[0].block_number


async def test_a_dropped_commitment_is_made_again(
    tmp_path: Path, own_chain: Chain, probe_result: ProbeResult
) -> None:
    chain = own_chain
    nodes = Nodes(tmp_path, chain)
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    verifier_ctx = nodes("verifier", 3)
    spec = parse_spec(matmul_spec())
    try:
        with trio.fail_after(150):
            async with trio.open_nursery() as nursery:
                daemon = ProviderDaemon(
                    provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                )
                provider = await nursery.start(functools.partial(daemon.run))
                verifier = VerifierDaemon(verifier_ctx, bootstrap=[provider.addrs[0]], poll=0.2)
                await nursery.start(functools.partial(verifier.run))
                consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
                offers = await consumer.discover(peers=[provider.addrs[0]])
                job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=8)[0])
                await _until(chain, job_id, JobStatus.COMPLETED)
                stakes = [chain.registry.staker(c.address).active for c in (provider_ctx, verifier_ctx)]
                depth = chain.client.block_number() - _block_of(chain, job_id, "ResultCommitted") + 1
                chain.client.raw("anvil_reorg", [depth, []])  # commit, draw, attestation: all gone
                assert chain.market.status_of(job_id) == JobStatus.ACCEPTED
                await _until(chain, job_id, JobStatus.COMPLETED, timeout=90)
                nursery.cancel_scope.cancel()
        assert [chain.registry.staker(c.address).active for c in (provider_ctx, verifier_ctx)] == stakes
        owed = chain.market.contract.call("totalOwed")
        assert chain.token.balance_of(chain.market.address) == owed
    finally:
        for ctx in nodes.opened:
            ctx.close()
