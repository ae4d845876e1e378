"""The consumer's own jobs: concurrent submits from one account, recovery after a crash, cancel."""

from __future__ import annotations

import functools
import json
import time

import trio
from eth_utils import keccak

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus, JobTerms, commitment
from node.roles.consumer import Consumer, rank_offers
from node.roles.settle import next_block_time
from node.store import Job as StoredJob
from node.workloads.spec import canonical_json, parse_spec, spec_hash, to_dict
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec, start_provider
from tests.roles.test_cli import _ccm


async def test_concurrent_submits_from_one_account_do_not_race(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    jobs: list[int] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            offer = rank_offers(offers, kind="matmul", n_units=8)[0]

            async def submit(seed: int) -> None:
                jobs.append(await consumer.submit(parse_spec(matmul_spec(seed=seed)), offer))

            async with trio.open_nursery() as submits:
                for seed in range(6):
                    submits.start_soon(submit, 500 + seed)
            nursery.cancel_scope.cancel()
    assert len(set(jobs)) == 6
    assert all(chain.market.job(j).status >= JobStatus.ACCEPTED for j in jobs)
    assert all(chain.market.job(j).price == 8 * PRICE_PER_UNIT for j in jobs)


async def _post_only(consumer: Consumer, seed: int) -> int:
    """What a consumer that dies right after posting leaves behind: an Open job, its row 'posted'."""
    ctx = consumer.ctx
    spec = parse_spec(matmul_spec(seed=seed))
    now = await ctx.achain.run(next_block_time, ctx.chain)  # the post's block
    price = 8 * PRICE_PER_UNIT
    terms = JobTerms(
        spec_hash(spec),
        price,
        price,
        now + 120,
        now + 600,
        commitment(keccak(b"lost")),
        min_units=8,
        max_units=8,
    )
    job_id = await consumer._post(terms)
    record = StoredJob(
        job_id=str(job_id),
        role="consumer",
        kind="matmul",
        spec_hash="0x" + terms.spec_hash.hex(),
        spec_json=canonical_json(to_dict(spec)).decode(),
        status="posted",
        price=price,
        created_at=time.time() - 3600,
    )
    await trio.to_thread.run_sync(ctx.store.put_job, record)
    return job_id


async def test_a_restarted_consumer_takes_back_the_escrow_of_jobs_it_never_proposed(
    chain: Chain, nodes: Nodes
) -> None:
    consumer_ctx = nodes("consumer", 1)
    before = chain.token.balance_of(consumer_ctx.address)
    with trio.fail_after(60):
        job_id = await _post_only(Consumer(consumer_ctx), 600)
        assert chain.token.balance_of(consumer_ctx.address) == before - 8 * PRICE_PER_UNIT
        async with trio.open_nursery() as nursery:
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))  # "restart"
            while chain.market.status_of(job_id) != JobStatus.CANCELLED:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    assert consumer is not None
    assert chain.token.balance_of(consumer_ctx.address) == before
    stored = consumer_ctx.store.get_job(str(job_id))
    assert stored is not None and stored.status == "cancelled"


async def test_ccm_job_cancel(chain: Chain, nodes: Nodes) -> None:
    consumer_ctx = nodes("consumer", 1)
    with trio.fail_after(60):
        job_id = await _post_only(Consumer(consumer_ctx), 601)
    home = str(consumer_ctx.home)
    done = await trio.to_thread.run_sync(
        lambda: _ccm("job", "cancel", str(job_id), "--home", home, "--account-index", "1", "--json")
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "job_id": job_id,
        "cancelled": True,
        "status": "cancelled",
        "confirmations": 1,
    }
    again = await trio.to_thread.run_sync(
        lambda: _ccm("job", "cancel", str(job_id), "--home", home, "--account-index", "1")
    )
    assert again.returncode == 1 and "is cancelled, not open" in again.stderr
    assert again.stderr.strip().count("\n") == 0
