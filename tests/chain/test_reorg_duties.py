"""Reorgs that drop a party's duty under running role daemons (real Anvil ``anvil_reorg``, libp2p,
torch, SQLite): the provider's secret reveal (which draws the audit), and a panel's ballots (the
commits, or only the reveals). The party sends it again on the new chain; nobody honest is
defaulted or slashed (no ``BallotMissing``), and the market owes what it holds.

The panel is staged as in ``tests/roles/test_contest.py``: every verifier is given the test verdict
policy ``Overriding(False)``, so whichever is drawn accuses falsely, the provider contests, and the
two others hold the panel's seats and vote honestly.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import Ballot, JobStatus
from node.roles.consumer import Consumer, rank_offers
from node.roles.provider import ProviderDaemon
from node.roles.strategies import Overriding, VerdictPolicy, honest_verdict
from node.roles.verifier import VerifierDaemon
from node.workloads.spec import parse_spec
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec


async def _until(chain: Chain, job_id: int, status: JobStatus, *, timeout: float = 60.0) -> None:
    with trio.fail_after(timeout):
        while await trio.to_thread.run_sync(chain.market.status_of, job_id) != status:
            await trio.sleep(0.1)


def _blocks_of(chain: Chain, job_id: int, name: str) -> list[int]:
    """Blocks of the job's ``name`` events on the chain as it is now."""
    return [
        e.block_number
        for e in chain.event_watcher().poll()
        if e.contract == "JobMarket" and e.name == name and int(e.args["jobId"]) == job_id
    ]


async def _reorged_job(
    tmp_path: Path,
    chain: Chain,
    probe_result: ProbeResult,
    *,
    drop_from: str,
    back_to: JobStatus,
    verifiers: int,
    verdict: VerdictPolicy,
) -> tuple[int, dict[str, int]]:
    """Run one job to its end, reorg away everything from the first ``drop_from`` event of the job
    on (the job is ``back_to`` again), and run it to its end once more. Returns the job id and the
    active stake of every node before the job."""
    nodes = Nodes(tmp_path, chain)
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    verifier_ctxs = [nodes(f"verifier{i}", 3 + i) for i in range(verifiers)]
    spec = parse_spec(matmul_spec())
    try:
        with trio.fail_after(240):
            async with trio.open_nursery() as nursery:
                daemon = ProviderDaemon(
                    provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                )
                provider = await nursery.start(functools.partial(daemon.run))
                for ctx in verifier_ctxs:
                    v = VerifierDaemon(ctx, bootstrap=[provider.addrs[0]], poll=0.2, verdict=verdict)
                    await nursery.start(functools.partial(v.run))
                consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
                stakes = {c.address: chain.registry.staker(c.address).active for c in nodes.opened}
                offers = await consumer.discover(peers=[provider.addrs[0]])
                job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=8)[0])
                await _until(chain, job_id, JobStatus.COMPLETED, timeout=150)
                first = min(_blocks_of(chain, job_id, drop_from))
                chain.client.raw("anvil_reorg", [chain.client.block_number() - first + 1, []])
                assert chain.market.status_of(job_id) == back_to
                assert not _blocks_of(chain, job_id, drop_from)
                await _until(chain, job_id, JobStatus.COMPLETED, timeout=90)
                nursery.cancel_scope.cancel()
    finally:
        for ctx in nodes.opened:
            ctx.close()
    # Nobody was slashed or defaulted along the way; the market holds exactly what it owes.
    assert not _blocks_of(chain, job_id, "JobDefaulted") and not _blocks_of(chain, job_id, "BallotMissing")
    assert chain.token.balance_of(chain.market.address) == chain.market.contract.call("totalOwed")
    return job_id, stakes


async def test_a_dropped_provider_reveal_is_sent_again(
    tmp_path: Path, own_chain: Chain, probe_result: ProbeResult
) -> None:
    chain = own_chain
    job_id, stakes = await _reorged_job(
        tmp_path,
        chain,
        probe_result,
        drop_from="AuditDrawn",  # the provider's reveal draws the audit: it and all that followed
        back_to=JobStatus.COMMITTED,
        verifiers=1,
        verdict=honest_verdict,
    )
    job = chain.market.job(job_id)
    assert job.consumer_revealed and len(_blocks_of(chain, job_id, "AuditDrawn")) == 1  # revealed again
    assert len(_blocks_of(chain, job_id, "JobCompleted")) == 1
    assert {a: chain.registry.staker(a).active for a in stakes} == stakes


@pytest.mark.parametrize("drop_from", ["BallotCommitted", "Voted"])
async def test_dropped_panel_ballots_are_sent_again(
    tmp_path: Path, own_chain: Chain, probe_result: ProbeResult, drop_from: str
) -> None:
    chain = own_chain
    job_id, stakes = await _reorged_job(
        tmp_path,
        chain,
        probe_result,
        drop_from=drop_from,  # the commits (and the reveals after them), or the reveals only
        back_to=JobStatus.VOTING,
        verifiers=3,
        verdict=Overriding(False),
    )
    market = chain.market
    panel = market.panel_of(job_id)
    assert panel and all(market.ballot_of(job_id, m) == Ballot.HONEST for m in panel)
    assert len(_blocks_of(chain, job_id, "Voted")) == len(set(panel))  # each member revealed on the new chain
    accuser = market.job(job_id).verifier
    slash = market.params().false_accuser_slash
    for address, before in stakes.items():
        assert chain.registry.staker(address).active == before - (slash if address == accuser else 0)
