"""Full market flows in one process: real Anvil, real libp2p hosts on 127.0.0.1, real torch."""

from __future__ import annotations

import functools

import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.roles.consumer import Consumer, rank_offers
from node.roles.provider import ProviderDaemon
from node.roles.verifier import VerifierDaemon
from node.workloads.spec import parse_spec
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec


async def test_honest_job_is_audited_and_paid(chain: Chain, nodes: Nodes, probe_result: ProbeResult) -> None:
    provider_ctx, consumer_ctx, verifier_ctx = nodes("provider", 2), nodes("consumer", 1), nodes("verifier", 3)
    spec = parse_spec(matmul_spec())
    token = chain.token
    before = token.balance_of(provider_ctx.address), token.balance_of(consumer_ctx.address)
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(ProviderDaemon(provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT,
                                                 offer_interval=0.5).run)
            )
            await nursery.start(
                functools.partial(VerifierDaemon(verifier_ctx, bootstrap=[provider.addrs[0]], poll=0.2).run)
            )
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            best = rank_offers(offers, kind="matmul", n_units=8)[0]
            job_id = await consumer.submit(spec, best)
            report = await consumer.follow(job_id, timeout=60, poll=0.2)
            nursery.cancel_scope.cancel()
    assert report.status == "completed"
    assert report.audited and report.verdict == "pass"
    assert report.outputs_verified
    price = 8 * PRICE_PER_UNIT
    fee = price * chain.market.params().protocol_fee_bps // 10_000
    stake = chain.registry.staker(provider_ctx.address).active
    assert token.balance_of(provider_ctx.address) == before[0] - stake + price - fee
    assert token.balance_of(consumer_ctx.address) == before[1] - price
