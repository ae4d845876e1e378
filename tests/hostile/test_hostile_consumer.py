"""Hostile consumers against an honest provider: real Anvil, real libp2p on 127.0.0.1, real torch.

Every bad job is refused before ``acceptJob`` with a reason that names it (no collateral at risk), or,
once accepted, ends as that job's recorded outcome; the provider then still takes an honest job.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.cli import main
from node.p2p.messages import JobProposal
from node.p2p.reqresp import request
from node.roles.admission import PROPOSAL_BURST, PROPOSAL_RATE
from node.roles.consumer import Consumer
from node.roles.context import NodeContext
from node.roles.provider import MAX_ATTEMPTS
from node.roles.wire import JOB
from node.workloads import jobkinds
from node.workloads.runner import Output, ProviderCaps
from node.workloads.spec import JobSpec, parse_spec, spec_hash, to_dict
from tests.hostile.helpers import offer_of, post_and_propose, post_only, start_provider, wait_committed
from tests.roles.conftest import Nodes, matmul_spec

# The base job: n=64, k=32, m=16, 8 rows a unit -> 8 units; inputs + outputs 14336 bytes; one unit's
# working memory (8*32 + 32*16 + 8*16) * 4 * 2 = 7168 bytes. The provider's caps sit exactly there.
FLOOD = 120
CAPS = "[provider]\nmax_units = 8\nmax_bytes = 14336\nmax_memory = 7168\n"


def _capped(nodes: Nodes, name: str, index: int) -> NodeContext:
    (nodes.home(name) / "config.toml").write_text(CAPS, encoding="utf-8")
    return nodes(name, index)


async def test_specs_at_every_cap_are_taken_and_over_it_refused_by_name(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx = _capped(nodes, "provider", 2), nodes("consumer", 1)
    short_b = consumer_ctx.blobs.put(bytes(32 * 16 * 4 - 4))  # B is 32 x 16 float32: 4 bytes short
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("over units", matmul_spec(n=72), 300, "9 units exceed this provider's limit of 8"),
        ("over bytes", matmul_spec(k=33), 300, "bytes of inputs and outputs, limit is 14336"),
        ("over memory", matmul_spec(rows=16), 300, "bytes of working memory, limit is 7168"),
        ("no time to commit", matmul_spec(seed=3), 8, "cannot commit in time"),
        ("blob never served", _with_blob(matmul_spec(seed=4)), 300, "not served"),
        ("blob of the wrong size", _with_blob(matmul_spec(seed=9), short_b), 300, "expected 2048 for"),
        ("at every cap", matmul_spec(seed=5), 300, ""),
    ]
    answers: dict[str, tuple[bool, str]] = {}
    with trio.fail_after(180):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            offer = await offer_of(consumer, provider)
            for name, doc, window, _ in cases:
                job_id, answer = await post_and_propose(
                    consumer, offer, parse_spec(doc), commit_window=window
                )
                answers[name] = (answer.accepted, answer.reason)
            last = job_id
            assert answers["at every cap"] == (True, ""), answers
            try:
                await wait_committed(consumer_ctx, last, timeout=120)
            except trio.TooSlowError:
                pytest.fail(f"not committed: {provider_ctx.store.get_job(str(last))}")
            nursery.cancel_scope.cancel()
    for name, _, _, reason in cases:
        accepted, said = answers[name]
        assert accepted is (reason == ""), (name, said)
        assert reason in said, (name, said)
    # Nothing refused was accepted on chain: the refused jobs are still open (their escrow the consumer's).
    assert [chain.market.status_of(j) for j in range(1, last)] == [JobStatus.OPEN] * (last - 1)


async def test_a_spec_over_the_caps_is_refused_before_its_workload_is_built(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    real_workload = jobkinds.Kind.workload

    def counting(self: jobkinds.Kind, spec: JobSpec, device: Any, blobs: Mapping[str, bytes]) -> Any:
        built.append(spec.body.k)  # every workload of every role goes through the kind registry
        return real_workload(self, spec, device, blobs)

    monkeypatch.setattr(jobkinds.Kind, "workload", counting)
    provider_ctx, consumer_ctx = _capped(nodes, "provider", 2), nodes("consumer", 1)
    # B alone is 4096 x 4096 float32 (64 MiB) against a cap of 14336 bytes: refused from the numbers.
    huge = parse_spec(matmul_spec(k=4096, m=4096, seed=6))
    with trio.fail_after(180):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            offer = await offer_of(consumer, provider)
            refused_id, refused = await post_and_propose(consumer, offer, huge)
            built_when_refused = list(built)
            taken_id, taken = await post_and_propose(consumer, offer, parse_spec(matmul_spec(seed=5)))
            await wait_committed(consumer_ctx, taken_id, timeout=120)
            nursery.cancel_scope.cancel()
    assert not refused.accepted and "bytes of inputs and outputs, limit is 14336" in refused.reason, refused
    assert built_when_refused == [], built_when_refused
    assert chain.market.status_of(refused_id) == JobStatus.OPEN  # no collateral was put up for it
    # The hook does see builds: the job within the caps was built (its inputs checked, then computed).
    assert taken.accepted and built and set(built) == {32}, (taken, built)


def _with_blob(doc: dict[str, Any], digest: str = "ab" * 32) -> dict[str, Any]:
    body = dict(doc["matmul"])
    # B (a blob A would be resident whole: over the memory cap, refused before any fetch); by default
    # a digest the consumer does not have
    body["b"] = {"blob": digest}
    return {**doc, "matmul": body}


async def test_proposal_flood_is_rate_limited_and_never_told_of_others_jobs(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx, flooder_ctx = nodes("provider", 2), nodes("consumer", 1), nodes("flooder", 3)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            flooder = await nursery.start(Consumer(flooder_ctx).run)
            spec = parse_spec(matmul_spec(seed=8))
            job_id, answer = await post_and_propose(consumer, await offer_of(consumer, provider), spec)
            assert answer.accepted, answer.reason
            # The flooder proposes the consumer's (accepted) job, then junk, as fast as it can.
            await flooder.host.connect(provider.addrs[0])
            replies = []
            started = trio.current_time()
            for i in range(FLOOD):
                proposal = JobProposal(
                    spec=to_dict(spec), spec_hash=spec_hash(spec), price=0, consumer=flooder_ctx.address,
                    deadline=0, job_id=job_id if i % 2 == 0 else 10_000 + i,
                )
                replies.append(await request(flooder.host, provider.host.peer_id, JOB, proposal))
            elapsed = trio.current_time() - started
            # The job's own consumer hears "already accepted"; the provider still serves everyone.
            again, answer = job_id, await request(
                consumer.host, provider.host.peer_id, JOB,
                JobProposal(spec=to_dict(spec), spec_hash=spec_hash(spec), price=0,
                            consumer=consumer_ctx.address, deadline=0, job_id=job_id),
            )
            await wait_committed(consumer_ctx, again)
            nursery.cancel_scope.cancel()
    assert not any(r.accepted for r in replies)
    assert not any("already accepted" in r.reason for r in replies)
    limited = [r for r in replies if "too many proposals" in r.reason]
    # A token bucket lets through at most its burst plus its rate over the time the flood took.
    let_through = FLOOD - len(limited)
    assert let_through <= PROPOSAL_BURST + PROPOSAL_RATE * elapsed + 1, (let_through, elapsed)
    assert limited, [r.reason for r in replies]
    assert answer.accepted and answer.reason == "already accepted"


class _Gate:
    """A compute strategy that blocks until released, then raises (the node 'dies' meanwhile)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(
        self, job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
    ) -> tuple[bytes, list[Output]]:
        self.entered.set()
        self.release.wait(30)
        raise RuntimeError("killed mid-compute")


def cuda_oom(
    job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
) -> tuple[bytes, list[Output]]:
    raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")


async def test_a_job_that_raises_in_torch_is_its_own_outcome_and_the_provider_goes_on(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, capsys: pytest.CaptureFixture[str]
) -> None:
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            async with trio.open_nursery() as oom_life:
                provider = await start_provider(oom_life, provider_ctx, probe_result, compute=cuda_oom)
                bad, answer = await post_and_propose(
                    consumer, await offer_of(consumer, provider), parse_spec(matmul_spec(seed=12))
                )
                assert answer.accepted, answer.reason
                with trio.fail_after(30):
                    while (job := provider_ctx.store.get_job(str(bad))) is None or job.status != "error":
                        await trio.sleep(0.1)
                # The same daemon takes and completes the next job (its strategy is per job here).
                provider.compute = _honest
                good, answer = await post_and_propose(
                    consumer, await offer_of(consumer, provider), parse_spec(matmul_spec(seed=13))
                )
                assert answer.accepted, answer.reason
                await wait_committed(consumer_ctx, good)
                # After its commit deadline the failed job is closed by the provider itself.
                commit_by = chain.market.job(bad).commit_by
                await trio.to_thread.run_sync(chain.increase_time, commit_by - chain.client.timestamp() + 1)
                with trio.fail_after(30):
                    while (job := provider_ctx.store.get_job(str(bad))) is None or job.status != "defaulted":
                        await trio.sleep(0.1)
                oom_life.cancel_scope.cancel()
            nursery.cancel_scope.cancel()
    job = provider_ctx.store.get_job(str(bad))
    assert job is not None and job.status == "defaulted"
    assert chain.market.status_of(bad) == JobStatus.DEFAULTED
    assert job.error.startswith("RuntimeError: CUDA out of memory"), job.error
    # ccm job status on the provider's home shows the job's outcome.
    capsys.readouterr()
    home = str(provider_ctx.home)
    code = main(["job", "status", str(bad), "--home", home, "--account-index", "2", "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert code == 0 and shown["local_status"] == "defaulted" and "CUDA out of memory" in shown["error"]


def _honest(
    job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
) -> tuple[bytes, list[Output]]:
    from node.roles.strategies import honest_compute

    return honest_compute(job_id, spec, blobs, device, caps)


async def test_a_job_that_keeps_killing_the_provider_is_not_resumed_again(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            job_id = 0
            for life in range(MAX_ATTEMPTS + 1):
                gate = _Gate()
                async with trio.open_nursery() as one_life:
                    provider = await start_provider(one_life, provider_ctx, probe_result, compute=gate)
                    if life == 0:
                        job_id, answer = await post_and_propose(
                            consumer, await offer_of(consumer, provider), parse_spec(matmul_spec(seed=14))
                        )
                        assert answer.accepted, answer.reason
                    if life < MAX_ATTEMPTS:
                        await trio.to_thread.run_sync(gate.entered.wait, 30.0)
                        one_life.cancel_scope.cancel()  # "killed" while computing: nothing recorded
                        gate.release.set()
                    else:
                        with trio.fail_after(30):
                            while (job := provider_ctx.store.get_job(str(job_id))) is None or (
                                job.status != "error"
                            ):
                                await trio.sleep(0.1)
                        one_life.cancel_scope.cancel()
                        gate.release.set()
            nursery.cancel_scope.cancel()
    job = provider_ctx.store.get_job(str(job_id))
    assert job is not None and job.status == "error" and job.attempts == MAX_ATTEMPTS + 1
    assert f"computation started {MAX_ATTEMPTS} times without finishing" in job.error
    assert not gate.entered.is_set()  # the last life never started the computation


async def test_the_same_proposal_twice_at_once_is_taken_once(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    spec = parse_spec(matmul_spec(seed=21))
    answers: list[tuple[bool, str]] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            offer = await offer_of(consumer, provider)
            job_id = await post_only(consumer, offer, spec)
            proposal = JobProposal(
                spec=to_dict(spec), spec_hash=spec_hash(spec), price=offer.price_for(8),
                consumer=consumer_ctx.address, deadline=0, job_id=job_id,
            )

            async def propose() -> None:
                reply = await request(consumer.host, provider.host.peer_id, JOB, proposal)
                answers.append((reply.accepted, reply.reason))

            await consumer.host.connect(provider.addrs[0])
            async with trio.open_nursery() as both:
                both.start_soon(propose)
                both.start_soon(propose)
            await wait_committed(consumer_ctx, job_id)
            nursery.cancel_scope.cancel()
    assert sorted(answers) == [(True, ""), (True, "already accepted")], answers
    job = provider_ctx.store.get_job(str(job_id))
    assert job is not None and job.status in ("committed", "completed")
