"""Full market flows in one process: real Anvil, real libp2p hosts on 127.0.0.1, real torch."""

from __future__ import annotations

import dataclasses
import functools

import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.chain.registry import Role
from node.p2p.codec import encode_message
from node.p2p.gossip import Gossip, sign_envelope
from node.p2p.host import Host
from node.p2p.messages import OFFERS_TOPIC
from node.roles.consumer import Consumer, rank_offers
from node.roles.context import peer_id_bytes
from node.roles.provider import ProviderDaemon
from node.roles.strategies import Corrupting
from node.workloads.spec import parse_spec
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec, start_verifier


async def test_honest_job_is_audited_and_paid(chain: Chain, nodes: Nodes, probe_result: ProbeResult) -> None:
    provider_ctx, consumer_ctx, verifier_ctx = (
        nodes("provider", 2),
        nodes("consumer", 1),
        nodes("verifier", 3),
    )
    spec = parse_spec(matmul_spec())
    token = chain.token
    before = token.balance_of(provider_ctx.address), token.balance_of(consumer_ctx.address)
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                    ).run
                )
            )
            await start_verifier(nursery, verifier_ctx, provider)
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


async def _wait_status(chain: Chain, job_id: int, status: JobStatus, *, timeout: float = 60.0) -> None:
    with trio.fail_after(timeout):
        while await trio.to_thread.run_sync(chain.market.status_of, job_id) != status:
            await trio.sleep(0.1)


async def test_cheating_provider_is_caught_and_slashed(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx, verifier_ctx = nodes("cheater", 2), nodes("consumer", 1), nodes("verifier", 3)
    spec = parse_spec(matmul_spec(seed=11))
    token, registry = chain.token, chain.registry
    consumer_before = token.balance_of(consumer_ctx.address)
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        provider_ctx,
                        probe=probe_result,
                        price_per_unit=PRICE_PER_UNIT,
                        compute=Corrupting("1"),
                        contest_fails=False,
                        offer_interval=0.5,
                    ).run
                )
            )
            verifier = await start_verifier(nursery, verifier_ctx, provider)
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=8)[0])
            await _wait_status(chain, job_id, JobStatus.FAILED)
            await trio.to_thread.run_sync(chain.increase_time, chain.market.params().contest_window + 1)
            report = await consumer.follow(job_id, timeout=60, poll=0.2)
            nursery.cancel_scope.cancel()
    assert report.status == "slashed" and report.verdict == "fail"
    assert verifier.judged and verifier.judged[0][2] is False and "mismatch" in verifier.judged[0][3]
    job = chain.market.job(job_id)
    accuser = job.collateral * chain.market.params().accuser_reward_bps // 10_000
    # The consumer got its price back plus the provider's collateral minus the accuser's reward.
    assert token.balance_of(consumer_ctx.address) == consumer_before + job.collateral - accuser
    assert registry.staker(verifier_ctx.address).active > 0


async def test_offline_verifier_times_out_and_provider_is_paid(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx, absent_ctx = nodes("provider", 2), nodes("consumer", 1), nodes("absent", 3)
    registry = chain.registry
    # Staked and drawable, but never started.
    registry.stake_and_register(
        absent_ctx.account,
        registry.params().min_verifier_stake,
        Role.VERIFIER,
        peer_id_bytes(absent_ctx.peer_id),
        b"\0" * 32,
    )
    stake_before = registry.staker(absent_ctx.address).active
    spec = parse_spec(matmul_spec(seed=21))
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                    ).run
                )
            )
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=8)[0])
            await _wait_status(chain, job_id, JobStatus.AUDITING)
            await trio.to_thread.run_sync(chain.increase_time, chain.market.params().attest_window + 1)
            report = await consumer.follow(job_id, timeout=60, poll=0.2)
            nursery.cancel_scope.cancel()
    assert report.status == "completed" and report.verdict == "timeout"
    slash = chain.market.params().absent_verifier_slash
    assert registry.staker(absent_ctx.address).active == stake_before - slash


async def test_two_providers_compete_on_price(chain: Chain, nodes: Nodes, probe_result: ProbeResult) -> None:
    dear_ctx, cheap_ctx, consumer_ctx = nodes("dear", 2), nodes("cheap", 4), nodes("consumer", 1)
    spec = parse_spec(matmul_spec(seed=31))
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            dear = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        dear_ctx, probe=probe_result, price_per_unit=3 * PRICE_PER_UNIT, offer_interval=0.5
                    ).run
                )
            )
            cheap = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        cheap_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                    ).run
                )
            )
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[dear.addrs[0], cheap.addrs[0]])
            ranked = rank_offers(offers, kind="matmul", n_units=8)
            assert [o.body.provider for o in ranked] == [cheap_ctx.address, dear_ctx.address]
            # A price cap below the dear offer leaves only the cheap one; below both, none.
            assert len(rank_offers(offers, kind="matmul", n_units=8, max_price=8 * PRICE_PER_UNIT)) == 1
            assert rank_offers(offers, kind="matmul", n_units=8, max_price=8 * PRICE_PER_UNIT - 1) == []
            job_id = await consumer.submit(spec, ranked[0])
            report = await consumer.follow(job_id, timeout=60, poll=0.2)
            nursery.cancel_scope.cancel()
    assert report.provider == cheap_ctx.address
    assert report.price == 8 * PRICE_PER_UNIT
    assert report.status == "completed" and report.verdict == "not audited" and report.outputs_verified


async def test_forged_offer_signature_is_dropped(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx, rogue_ctx = nodes("provider", 2), nodes("consumer", 1), nodes("rogue", 5)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.3
                    ).run
                )
            )
            consumer = await nursery.start(
                functools.partial(Consumer(consumer_ctx, bootstrap=[provider.addrs[0]]).run)
            )
            # The rogue copies the honest offer, points it at itself and signs with a key that is not
            # the provider's: the consumer's validator must drop it and never list it.
            rogue_gossip = Gossip(is_bound=_always_bound)
            rogue = Host(rogue_ctx.key_pair, bootstrap=[consumer.host.addrs[0]], gossip=rogue_gossip)
            await nursery.start(functools.partial(rogue.run))
            await rogue_gossip.wait_for_peer(consumer.host.peer_id, OFFERS_TOPIC, timeout=15)
            body = {**provider.offer_body().to_body(), "price_per_unit": 1}
            honest = sign_envelope(
                rogue_ctx.account, topic=OFFERS_TOPIC, kind="offer", body=body, peer_id=rogue.peer_id
            )
            forged = dataclasses.replace(honest, signer=provider_ctx.address)
            rogue_gossip.pubsub.remove_topic_validator(OFFERS_TOPIC)  # a rogue does not check itself
            await rogue_gossip.pubsub.publish(OFFERS_TOPIC, encode_message(forged))
            with trio.fail_after(15):
                while consumer.gossip.dropped["signature"] == 0:
                    await trio.sleep(0.1)
            offers = await consumer.discover(wait_s=1.5)
            nursery.cancel_scope.cancel()
    assert rogue.peer_id not in {o.peer_id for o in offers}
    assert all(o.body.price_per_unit == PRICE_PER_UNIT for o in offers)
    assert provider.host.peer_id in {o.peer_id for o in offers}


async def _always_bound(address: str, peer_id: str) -> bool:
    return True
