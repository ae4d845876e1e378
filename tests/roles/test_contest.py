"""Contested fails before a panel: real Anvil, real libp2p hosts on 127.0.0.1, real torch recomputation.

Three verifier daemons run; whichever one the chain draws for the audit is the accuser. To stage a
*false* accusation every verifier is given the test verdict policy ``Overriding(False)`` (it only
changes the verdict a verifier attests when drawn; panel votes are always its honest recomputation),
so the drawn one accuses and the two others hold the panel's seats (the contract never seats the
accuser; each seat is an independent stake-weighted draw, so one member may hold several).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import Ballot, JobStatus
from node.roles.consumer import Consumer, rank_offers
from node.roles.context import NodeContext
from node.roles.provider import ProviderDaemon
from node.roles.strategies import Corrupting, Overriding, VerdictPolicy, honest_verdict
from node.roles.verifier import VerifierDaemon
from node.workloads.spec import parse_spec
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec

N_UNITS = 8


def _contest_events(chain: Chain, job_id: int) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in chain.event_watcher().poll():
        if event.contract == "JobMarket" and int(event.args.get("jobId", -1)) == job_id:
            found[event.name] = dict(event.args)
    return found


async def _run_market(
    nodes: Nodes,
    chain: Chain,
    probe_result: ProbeResult,
    *,
    seed: int,
    provider_options: dict[str, object],
    verdict: VerdictPolicy = honest_verdict,
) -> tuple[int, NodeContext, NodeContext, list[VerifierDaemon], dict[str, int]]:
    """One job through provider, three verifiers and a consumer; returns the job id and who was who."""
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    verifier_ctxs = [nodes(f"verifier{i}", 3 + i) for i in range(3)]
    token = chain.token
    before = {c.address: token.balance_of(c.address) for c in (provider_ctx, consumer_ctx, *verifier_ctxs)}
    spec = parse_spec(matmul_spec(seed=seed))
    with trio.fail_after(150):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(
                    ProviderDaemon(
                        provider_ctx,
                        probe=probe_result,
                        price_per_unit=PRICE_PER_UNIT,
                        offer_interval=0.5,
                        **provider_options,  # type: ignore[arg-type]
                    ).run
                )
            )
            verifiers = []
            for ctx in verifier_ctxs:
                daemon = VerifierDaemon(ctx, bootstrap=[provider.addrs[0]], poll=0.2, verdict=verdict)
                verifiers.append(await nursery.start(functools.partial(daemon.run)))
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=N_UNITS)[0])
            report = await consumer.follow(job_id, timeout=120, poll=0.2)
            # The verifiers close their own books (audit rows final) before the daemons stop.
            with trio.fail_after(20):
                while any(
                    a.status != "final"
                    for v in verifiers
                    for a in v.ctx.store.list_audits()
                    if a.job_id == str(job_id)
                ):
                    await trio.sleep(0.2)
            nursery.cancel_scope.cancel()
    assert report.job_id == job_id
    return job_id, provider_ctx, consumer_ctx, verifiers, before


async def test_falsely_accused_provider_contests_and_wins(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    registry, market, token = chain.registry, chain.market, chain.token
    job_id, provider_ctx, consumer_ctx, verifiers, before = await _run_market(
        nodes, chain, probe_result, seed=41, provider_options={}, verdict=Overriding(False)
    )
    job, params = market.job(job_id), market.params()
    assert job.status == JobStatus.COMPLETED
    events = _contest_events(chain, job_id)
    # The drawn verifier accused (a staged false fail), the provider contested on its own, a panel of
    # the two other verifiers recomputed and found the units correct, and the fail was overturned.
    assert events["Attested"]["passed"] is False
    assert "Contested" in events and int(events["ContestResolved"]["outcome"]) == 0  # Overturned
    accuser = job.verifier
    panel = market.panel_of(job_id)
    by_address = {v.ctx.address: v for v in verifiers}
    assert accuser in by_address and len(panel) == params.panel_size and accuser not in panel
    assert set(panel) <= set(by_address) - {accuser}
    assert all(market.ballot_of(job_id, m) == Ballot.HONEST for m in panel)
    for member in panel:
        votes = [j for j in by_address[member].judged if j[0] == job_id and j[1] == "vote"]
        assert votes and votes[0][2] is True, votes
    # The false accuser lost the false-accuser slash from its stake.
    min_stake = registry.params().min_verifier_stake
    assert registry.staker(accuser).active == min_stake - params.false_accuser_slash
    # The provider was paid as for an honest job: price minus fee, collateral and bond back.
    price = N_UNITS * PRICE_PER_UNIT
    fee = price * params.protocol_fee_bps // 10_000
    provider_stake = registry.staker(provider_ctx.address).active
    provider_now = token.balance_of(provider_ctx.address)
    assert provider_now == before[provider_ctx.address] - provider_stake + price - fee
    assert token.balance_of(consumer_ctx.address) == before[consumer_ctx.address] - price
    # The panel's seats shared the fee and the slashed stake.
    share = (fee + params.false_accuser_slash) // len(panel)
    for member in set(panel):
        stake = registry.staker(member).active
        assert token.balance_of(member) == before[member] - stake + share * panel.count(member)


async def test_cheating_provider_that_contests_loses_its_bond(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    registry, market, token = chain.registry, chain.market, chain.token
    job_id, provider_ctx, consumer_ctx, _verifiers, before = await _run_market(
        nodes,
        chain,
        probe_result,
        seed=43,
        provider_options={"compute": Corrupting("1"), "contest_fails": True},
    )
    job, params = market.job(job_id), market.params()
    assert job.status == JobStatus.SLASHED
    events = _contest_events(chain, job_id)
    assert events["Attested"]["passed"] is False
    assert "Contested" in events and int(events["ContestResolved"]["outcome"]) == 1  # Upheld
    panel = market.panel_of(job_id)
    assert len(panel) == params.panel_size and all(
        market.ballot_of(job_id, m) == Ballot.CHEATED for m in panel
    )
    # The cheater lost its collateral and its contest bond; the panel shared the bond.
    provider_stake = registry.staker(provider_ctx.address).active
    lost = job.collateral + params.contest_bond
    assert token.balance_of(provider_ctx.address) == before[provider_ctx.address] - provider_stake - lost
    seats = len(panel)
    for member in set(panel):
        stake = registry.staker(member).active
        share = params.contest_bond // seats * panel.count(member)
        assert token.balance_of(member) == before[member] - stake + share
    accuser_reward = job.collateral * params.accuser_reward_bps // 10_000
    # The consumer got its price back, plus the collateral minus the accuser's reward (and bond dust).
    consumer_gain = job.collateral - accuser_reward + params.contest_bond % seats
    assert token.balance_of(consumer_ctx.address) == before[consumer_ctx.address] + consumer_gain


def test_role_commands_have_no_test_switches() -> None:
    # Cheating and false verdicts are strategies that tests and the demo pass to the daemons.
    from node.cli import build_parser

    parser = build_parser()
    for argv, switch in (
        (["provider", "start", "--cheat-fraction", "1"], "--cheat-fraction"),
        (["provider", "start", "--contest-anyway"], "--contest-anyway"),
        (["verifier", "start", "--attest-override", "fail"], "--attest-override"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        assert exit_info.value.code == 2, switch
