"""Helpers for the hostile suites: real daemons on the session's Anvil, jobs posted with chosen terms."""

from __future__ import annotations

import functools
from typing import Any

import trio

from node.capacity.probe import ProbeResult
from node.chain.market import JobStatus, JobTerms, commitment, new_secret
from node.p2p.messages import JobAccept, JobProposal
from node.p2p.reqresp import request
from node.roles.consumer import Consumer, FoundOffer
from node.roles.context import NodeContext
from node.roles.outputs import unit_count
from node.roles.provider import ProviderDaemon
from node.roles.settle import next_block_time
from node.roles.verifier import VerifierDaemon
from node.roles.wire import JOB
from node.store import Job as StoredJob
from node.workloads.spec import JobSpec, canonical_json, spec_hash, to_dict
from tests.roles.conftest import PRICE_PER_UNIT


async def start_provider(
    nursery: trio.Nursery,
    ctx: NodeContext,
    probe: ProbeResult,
    cls: type[ProviderDaemon] = ProviderDaemon,
    **options: Any,
) -> ProviderDaemon:
    daemon = cls(ctx, probe=probe, price_per_unit=PRICE_PER_UNIT, **{"offer_interval": 0.5, **options})
    started: ProviderDaemon = await nursery.start(functools.partial(daemon.run))
    return started


async def offer_of(consumer: Consumer, provider: ProviderDaemon) -> FoundOffer:
    return await consumer.offer_from(provider.addrs[0])


async def post_and_propose(
    consumer: Consumer,
    offer: FoundOffer,
    spec: JobSpec,
    *,
    min_units: int | None = None,
    max_units: int | None = None,
    commit_window: int = 300,
) -> tuple[int, JobAccept]:
    """Post ``spec`` with the given unit bounds (default: exactly the spec's) and propose it. The
    consumer's audit secret is kept in its store, so its daemon reveals it after the commitment."""
    ctx = consumer.ctx
    job_id = await post_only(
        consumer, offer, spec, min_units=min_units, max_units=max_units, commit_window=commit_window
    )
    job = await ctx.achain.run(ctx.chain.market.job, job_id)
    terms_commit_by, price = job.commit_by, job.price
    proposal = JobProposal(
        spec=to_dict(spec), spec_hash=spec_hash(spec), price=price, consumer=ctx.address,
        deadline=terms_commit_by, job_id=job_id,
    )
    await consumer.host.connect(offer.body.addrs[0])
    answer = await request(consumer.host, offer.peer_id, JOB, proposal)
    return job_id, answer


async def post_only(
    consumer: Consumer,
    offer: FoundOffer,
    spec: JobSpec,
    *,
    min_units: int | None = None,
    max_units: int | None = None,
    commit_window: int = 300,
) -> int:
    """Post ``spec`` on chain at ``offer``'s price (no proposal); the job id."""
    ctx = consumer.ctx
    n = unit_count(spec)
    price = offer.price_for(n)
    now = await ctx.achain.run(next_block_time, ctx.chain)
    secret = new_secret()
    await trio.to_thread.run_sync(
        functools.partial(ctx.store.put_secret, commitment(secret), secret, job_id="", purpose="consumer")
    )
    terms = JobTerms(
        spec_hash=spec_hash(spec),
        price=price,
        collateral=price,
        accept_by=now + min(120, commit_window // 2),
        commit_by=now + commit_window,
        secret_hash=commitment(secret),
        min_units=n if min_units is None else min_units,
        max_units=n if max_units is None else max_units,
    )
    job_id = await ctx.achain.run(ctx.chain.market.post_job, ctx.account, terms)
    record = StoredJob(
        job_id=str(job_id),
        role="consumer",
        kind=spec.kind,
        spec_hash="0x" + terms.spec_hash.hex(),
        spec_json=canonical_json(to_dict(spec)).decode(),
        status="posted",
        peer_id=offer.peer_id,
        price=price,
    )
    await trio.to_thread.run_sync(ctx.store.put_job, record)
    return job_id


async def judged(verifier: VerifierDaemon, job_id: int, *, timeout: float = 90.0) -> tuple[bool, str]:
    """The verdict ``verifier`` attested for ``job_id`` (waits for it)."""
    with trio.fail_after(timeout):
        while True:
            for jid, mode, passed, reason in verifier.judged:
                if jid == job_id and mode == "attest":
                    return passed, reason
            await trio.sleep(0.2)


async def wait_status(ctx: NodeContext, job_id: int, status: JobStatus, *, timeout: float = 60.0) -> None:
    with trio.fail_after(timeout):
        while await ctx.achain.run(ctx.chain.market.status_of, job_id) != status:
            await trio.sleep(0.1)


async def wait_committed(ctx: NodeContext, job_id: int, *, timeout: float = 60.0) -> None:
    """Wait until ``job_id`` has a root on chain (whatever came after the commit)."""
    with trio.fail_after(timeout):
        while (await ctx.achain.run(ctx.chain.market.job, job_id)).root == b"\0" * 32:
            await trio.sleep(0.1)
