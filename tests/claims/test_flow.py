"""The whole claims market between real nodes: Anvil, libp2p hosts on 127.0.0.1 gossiping orders,
the provider and verifier daemons running the redeemed job like any job.

Provider node: ProviderDaemon, whose ClaimsService gossips the order ``create`` put in its book.
Verifier node: VerifierDaemon, whose ClaimsService is a staked relay (takes a reseller's pushed
order and gossips it).
Buyer node: a plain host with gossip + ClaimsService (unstaked: ingests only). A third party reads
the verifier's book over request/response. Then: redeem → verified job; redeem without delivering
the spec → provider default paid from collateral; window end → nothing live, collateral released.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.claims import market
from node.claims.book import OrderBook, judge, live_orders
from node.claims.capacity import devnet_verify
from node.claims.service import ClaimsService, fetch_book, submit_orders
from node.p2p.codec import to_jsonable
from node.p2p.gossip import Gossip
from node.p2p.host import Host
from node.p2p.identity import generate_key_pair
from node.p2p.messages import ORDERS_TOPIC, JobProposal
from node.p2p.reqresp import request
from node.roles.context import make_is_bound
from node.roles.outputs import unit_count
from node.roles.provider import ProviderDaemon
from node.roles.settle import advance
from node.roles.verifier import VerifierDaemon
from node.roles.wire import JOB
from node.workloads.spec import parse_spec, spec_hash, to_dict
from tests.roles.conftest import Nodes, matmul_spec

T = TypeVar("T")
SUPPLY = 10


async def _thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


async def _until(check: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
    with trio.fail_after(timeout):
        while not await trio.to_thread.run_sync(check):
            await trio.sleep(0.2)


async def test_create_gossip_buy_resell_redeem_default_expiry(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, tmp_path: Path
) -> None:
    provider_ctx, verifier_ctx = nodes("provider", 2), nodes("verifier", 3)
    buyer_ctx, third_ctx = nodes("buyer", 1), nodes("third", 8)
    books = {
        name: OrderBook(ctx.store)
        for name, ctx in (
            ("provider", provider_ctx),
            ("verifier", verifier_ctx),
            ("buyer", buyer_ctx),
            ("third", third_ctx),
        )
    }
    buyer_gossip = Gossip(is_bound=make_is_bound(buyer_ctx.achain, chain))
    buyer_host = Host(buyer_ctx.key_pair, gossip=buyer_gossip)
    third_host = Host(generate_key_pair())
    spec = parse_spec(matmul_spec())
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        provider_ctx, probe=probe_result, price_per_unit=10**15, offer_interval=0.5
                    ).run
                )
            )
            p_addr = provider.addrs[0]
            verifier = await nursery.start(
                functools.partial(VerifierDaemon(verifier_ctx, bootstrap=[p_addr], poll=0.2).run)
            )
            await nursery.start(functools.partial(buyer_host.run))
            await nursery.start(functools.partial(third_host.run))
            await buyer_host.connect(p_addr)
            v_addr = verifier.host.addrs[0]
            await buyer_host.connect(v_addr)
            # The daemons run the claims service themselves; the buyer's plain node starts its own.
            buyer_service = ClaimsService(
                book=books["buyer"], chain=chain, host=buyer_host, gossip=buyer_gossip, account=None
            )
            services = {
                "provider": provider.claims,
                "verifier": verifier.claims,
                "buyer": await nursery.start(functools.partial(buyer_service.run)),
            }
            await buyer_gossip.wait_for_peer(provider.host.peer_id, ORDERS_TOPIC)
            await buyer_gossip.wait_for_peer(verifier.host.peer_id, ORDERS_TOPIC)

            # 0. the staked verifier attests the provider's A100 capacity (a raise: over the dispute window)
            await _thread(
                devnet_verify,
                chain,
                verifier_ctx.account,
                provider=provider_ctx.account.address,
                gpu_class="A100",
                gpus=16,
                gflops_per_gpu=19_500,
            )
            # 1. the provider lists a series priced by tokenomics; gossip brings the order to the buyer
            now = await _thread(chain.client.timestamp)
            created = await _thread(
                market.create_series,
                chain,
                books["provider"],
                provider_ctx.account,
                gpu_class="A100",
                window_start=now + 120,
                window_end=now + 7200,
                supply=SUPPLY,
            )
            price = created.quote.price_per_token
            await _until(lambda: len(live_orders(books["buyer"], chain)) == 1)
            stored = books["buyer"].get(created.order.order_hash)
            assert stored is not None and stored.source == "gossip"

            # 2. the buyer buys 6 from its own book
            purchase = await _thread(
                market.buy, chain, books["buyer"], buyer_ctx.account, series_id=created.series_id, amount=6
            )
            assert (purchase.bought, purchase.paid) == (6, 6 * price)

            # 3. it resells 3, cheaper; unstaked, it pushes the order to the verifier node, which gossips it
            resale = await _thread(
                market.sell,
                chain,
                books["buyer"],
                buyer_ctx.account,
                series_id=created.series_id,
                amount=3,
                price=price // 2,
            )
            verdicts = await submit_orders(buyer_host, v_addr, [resale.message])
            assert [(v.order_hash, v.reason) for v in verdicts] == [(resale.order_hash, "")]
            await _until(lambda: books["provider"].get(resale.order_hash) is not None)

            # 4. a third party reads the verifier's book and buys the cheapest claims: the resale
            for message in await fetch_book(third_host, v_addr, series_id=created.series_id):
                books["third"].add(message.digest(chain.claims), message, source="peer")
            bought = await _thread(
                market.buy, chain, books["third"], third_ctx.account, series_id=created.series_id, amount=3
            )
            assert [(f.order_hash, f.amount) for f in bought.fills] == [(resale.order_hash, 3)]

            # a forged order (price changed after signing) gossiped by a staked node is never kept
            forged = replace(created.order.message, price_per_token="1")
            await provider.gossip.publish(
                provider_ctx.account, topic=ORDERS_TOPIC, kind="order", body=to_jsonable(forged)
            )
            await _until(lambda: services["buyer"].dropped["bad-signature"] >= 1)
            assert [s.reason for s in judge(chain, [forged])] == ["bad-signature"]

            # 5. in the window the buyer redeems 2: a prepaid job the provider runs and a verifier audits
            await _thread(chain.increase_time, 121)
            digest = spec_hash(spec)
            redemption = await _thread(
                market.redeem,
                chain,
                buyer_ctx.store,
                buyer_ctx.account,
                series_id=created.series_id,
                amount=2,
                spec_json="{}",
                spec_hash=digest,
                kind=spec.kind,
                n_units=unit_count(spec),
            )
            job = await _thread(chain.market.job, redemption.job_id)
            answer = await request(
                buyer_host,
                provider.host.peer_id,
                JOB,
                JobProposal(
                    spec=to_dict(spec),
                    spec_hash=digest,
                    price=0,
                    consumer=buyer_ctx.address,
                    deadline=job.commit_by,
                    job_id=redemption.job_id,
                ),
            )
            assert answer.accepted, answer.reason

            def holder_settled() -> bool:  # the holder reveals its audit secret once the root is committed
                advance(chain, buyer_ctx.account, redemption.job_id, store=buyer_ctx.store)
                return chain.market.status_of(redemption.job_id).terminal

            await _until(holder_settled, timeout=60)
            final = await _thread(chain.market.job, redemption.job_id)
            assert final.status is JobStatus.COMPLETED and final.verifier == verifier_ctx.address

            # 6. the third party redeems 1 but the provider never runs it: paid from the collateral
            other = await _thread(
                market.redeem,
                chain,
                third_ctx.store,
                third_ctx.account,
                series_id=created.series_id,
                amount=1,
                spec_json="{}",
                spec_hash=b"\x01" * 32,
                kind="matmul",
                n_units=unit_count(spec),
            )
            nursery.cancel_scope.cancel()
    before = chain.token.balance_of(third_ctx.address)
    chain.increase_time(other.commit_by - chain.client.timestamp() + 1)
    assert chain.market.claim_commit_timeout(third_ctx.account, other.job_id).status is JobStatus.DEFAULTED
    assert chain.token.balance_of(third_ctx.address) == before + created.collateral_per_token + other.fee

    # 7. after the window nothing is live anywhere and the unredeemed collateral goes back
    chain.increase_time(7200)
    assert all(live_orders(b, chain) == [] for b in books.values())
    provider_before = chain.token.balance_of(provider_ctx.address)
    released = chain.claims.release_collateral(third_ctx.account, created.series_id)
    assert released == (SUPPLY - 3) * created.collateral_per_token
    assert chain.token.balance_of(provider_ctx.address) == provider_before + released
    holders = {
        a: chain.claims.balance_of(a, created.series_id)
        for a in (provider_ctx.address, buyer_ctx.address, third_ctx.address)
    }
    assert holders == {provider_ctx.address: SUPPLY - 6, buyer_ctx.address: 1, third_ctx.address: 2}
