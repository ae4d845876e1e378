"""Hostile providers against an honest verifier: real Anvil, real libp2p on 127.0.0.1, real torch.

Each hostile provider is the production daemon given a hostile compute strategy or a hostile audit
answer (a subclass written here: tests inject, the daemon has no switches). Every one of them must
end in a named fail attested on chain, and the verifier must go on judging: an honest provider's
job, submitted after all the hostile ones, still passes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.p2p.codec import FrameStream
from node.p2p.messages import AuditRequest, AuditResponse, AuditUnit, JobAccept, write_audit_response
from node.roles.consumer import Consumer
from node.roles.outputs import load_manifest
from node.roles.provider import ProviderDaemon
from node.roles.strategies import honest_compute
from node.roles.verifier import MAX_UNIT_BYTES, VerifierDaemon
from node.roles.wire import UnitRef
from node.workloads.runner import Output, ProviderCaps
from node.workloads.spec import JobSpec, parse_spec
from tests.hostile.helpers import judged, offer_of, post_and_propose, start_provider, wait_status
from tests.roles.conftest import Nodes, matmul_spec
from verifier.commitment import MerkleTree, unit_leaf


def _root(outputs: list[Output]) -> bytes:
    return MerkleTree([unit_leaf(i, *out) for i, out in enumerate(outputs)]).root


def commits_one_unit(
    job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
) -> tuple[bytes, list[Output]]:
    """Computes the job, commits only its first unit (paid for 1/8 of the work if nobody counts)."""
    _, outputs = honest_compute(job_id, spec, blobs, device, caps)
    return _root(outputs[:1]), outputs[:1]


def commits_three_times_the_units(
    job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
) -> tuple[bytes, list[Output]]:
    """Commits 24 leaves for an 8-unit job (sampled indices beyond the spec's units)."""
    _, outputs = honest_compute(job_id, spec, blobs, device, caps)
    return _root(outputs * 3), outputs * 3


class _Answering(ProviderDaemon):
    """Answers audits with :meth:`answer` instead of the honest units and proofs."""

    async def _on_audit(self, peer: str, fs: FrameStream) -> None:
        req = await fs.read_message(AuditRequest, max_size=64 * 1024)
        manifest = load_manifest(self.ctx.home, req.job_id)
        assert manifest is not None
        await self.answer(fs, req, manifest[1])

    async def answer(self, fs: FrameStream, req: AuditRequest, refs: tuple[UnitRef, ...]) -> None:
        raise NotImplementedError


class OversizedAnswer(_Answering):
    async def answer(self, fs: FrameStream, req: AuditRequest, refs: tuple[UnitRef, ...]) -> None:
        # The header announces a unit over the verifier's cap (no bytes need follow).
        from node.p2p.messages import AuditResponseHeader, AuditUnitHeader

        units = tuple(
            AuditUnitHeader(index=i, dtype="float32", shape=(8, 16), size=MAX_UNIT_BYTES + 1, proof=())
            for i in req.indices
        )
        await fs.write_message(AuditResponseHeader(job_id=req.job_id, units=units))


class MalformedAnswer(_Answering):
    async def answer(self, fs: FrameStream, req: AuditRequest, refs: tuple[UnitRef, ...]) -> None:
        # A well-formed frame of the wrong message: the schema check must name it.
        await fs.write_message(JobAccept(spec_hash=b"\0" * 32, accepted=True, provider="0x" + "0" * 40))


class ProofsForAnotherRoot(_Answering):
    async def answer(self, fs: FrameStream, req: AuditRequest, refs: tuple[UnitRef, ...]) -> None:
        # The true bytes, with proofs out of a tree over other leaves.
        other = MerkleTree([bytes([i + 1]) * 32 for i in range(len(refs))])
        units = tuple(
            AuditUnit(
                index=i,
                dtype=refs[i].dtype,
                shape=refs[i].shape,
                data=self.ctx.blobs.get(refs[i].data_hash.hex()),
                proof=tuple(other.proof(i)),
            )
            for i in req.indices
        )
        await write_audit_response(fs, AuditResponse(job_id=req.job_id, units=units))


class GarbageMidStream(_Answering):
    async def answer(self, fs: FrameStream, req: AuditRequest, refs: tuple[UnitRef, ...]) -> None:
        # An honest header, then random bytes where the data frames belong.
        from node.p2p.messages import AuditResponseHeader, AuditUnitHeader

        units = tuple(
            AuditUnitHeader(index=i, dtype=refs[i].dtype, shape=refs[i].shape, size=512, proof=())
            for i in req.indices
        )
        await fs.write_message(AuditResponseHeader(job_id=req.job_id, units=units))
        await fs.stream.write(b"\xff" * 8 + os.urandom(4096))


class NeverAnswers(_Answering):
    async def answer(self, fs: FrameStream, req: AuditRequest, refs: tuple[UnitRef, ...]) -> None:
        await trio.sleep_forever()


async def test_hostile_providers_each_fail_by_name_and_the_verifier_goes_on(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    consumer_ctx, verifier_ctx = nodes("consumer", 1), nodes("verifier", 9)
    cast: list[tuple[str, type[ProviderDaemon], dict[str, object], int, str]] = [
        (
            "fewer",
            ProviderDaemon,
            {"compute": commits_one_unit, "contest_fails": False},
            2,
            "unit count: 1 leaves",
        ),
        (
            "more",
            ProviderDaemon,
            {"compute": commits_three_times_the_units, "contest_fails": False},
            3,
            "unit count: 24 leaves",
        ),
        ("oversized", OversizedAnswer, {"contest_fails": False}, 4, "exceeds the cap of 268435456"),
        ("malformed", MalformedAnswer, {"contest_fails": False}, 5, "malformed answer"),
        ("other-root", ProofsForAnotherRoot, {"contest_fails": False}, 6, "bad_proof"),
        ("garbage", GarbageMidStream, {"contest_fails": False}, 7, "malformed answer"),
    ]
    verdicts: dict[str, tuple[bool, str]] = {}
    with trio.fail_after(240):
        async with trio.open_nursery() as nursery:
            verifier = VerifierDaemon(verifier_ctx, poll=0.2, fetch_timeout=10.0)
            await nursery.start(verifier.run)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            jobs: dict[str, int] = {}
            async with trio.open_nursery() as hostile:
                for i, (name, cls, options, index, _) in enumerate(cast):
                    provider = await start_provider(
                        hostile, nodes(name, index), probe_result, cls, offer_interval=30.0, **options
                    )
                    await verifier.host.connect(provider.addrs[0])
                    spec = parse_spec(matmul_spec(seed=100 + i))
                    job_id, answer = await post_and_propose(
                        consumer, await offer_of(consumer, provider), spec, min_units=1, max_units=64
                    )
                    assert answer.accepted, (name, answer.reason)
                    jobs[name] = job_id
                for name, job_id in jobs.items():
                    verdicts[name] = await judged(verifier, job_id)
                hostile.cancel_scope.cancel()
            # The same verifier still judges: an honest provider's job passes.
            honest = await start_provider(nursery, nodes("honest", 8), probe_result)
            await verifier.host.connect(honest.addrs[0])
            honest_job, answer = await post_and_propose(
                consumer, await offer_of(consumer, honest), parse_spec(matmul_spec(seed=99))
            )
            assert answer.accepted, answer.reason
            honest_verdict = await judged(verifier, honest_job)
            nursery.cancel_scope.cancel()
    for name, _, _, _, evidence in cast:
        passed, reason = verdicts[name]
        assert passed is False and evidence in reason, (name, reason)
    assert honest_verdict[0] is True, honest_verdict
    # Every audit is recorded in the verifier's store with its named outcome, and attested on chain.
    audits = {a.job_id: a for a in verifier_ctx.store.list_audits()}
    assert all(audits[str(j)].verdict == "fail" for j in jobs.values())
    assert all(chain.market.status_of(j) == JobStatus.FAILED for j in jobs.values())


async def test_silent_provider_is_withheld_only_at_the_end_of_the_window(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    consumer_ctx, verifier_ctx, provider_ctx = nodes("consumer", 1), nodes("verifier", 9), nodes("mute", 2)
    window = chain.market.params().attest_window
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            verifier = VerifierDaemon(verifier_ctx, poll=0.2, fetch_timeout=2.0)
            await nursery.start(verifier.run)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            provider = await start_provider(
                nursery, provider_ctx, probe_result, NeverAnswers, contest_fails=False
            )
            await verifier.host.connect(provider.addrs[0])
            job_id, answer = await post_and_propose(
                consumer, await offer_of(consumer, provider), parse_spec(matmul_spec(seed=5))
            )
            assert answer.accepted, answer.reason
            await wait_status(consumer_ctx, job_id, JobStatus.AUDITING)
            started = trio.current_time()
            # Leave 25 s of the window: the verifier keeps trying until 10 s before its end.
            await trio.to_thread.run_sync(chain.increase_time, window - 25)
            passed, reason = await judged(verifier, job_id)
            waited = trio.current_time() - started
            nursery.cancel_scope.cancel()
    assert passed is False and reason.startswith("withheld: no complete answer within "), reason
    tries = int(reason.split("(")[-1].split(" tries")[0])
    assert tries >= 3, reason
    assert waited >= 6.0, waited  # not at the first timeout: it retried through the window


async def test_provider_down_for_3_s_during_the_audit_is_not_withheld(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    consumer_ctx, verifier_ctx = nodes("consumer", 1), nodes("verifier", 9)
    provider_ctx = nodes("provider", 2)
    registry = chain.registry
    with trio.fail_after(150):
        async with trio.open_nursery() as nursery:
            verifier = VerifierDaemon(verifier_ctx, poll=0.2, fetch_timeout=5.0)
            await nursery.start(verifier.run)
            consumer = await nursery.start(Consumer(consumer_ctx).run)
            async with trio.open_nursery() as first_life:
                provider = await start_provider(first_life, provider_ctx, probe_result)
                address = provider.addrs[0]
                await verifier.host.connect(address)
                job_id, answer = await post_and_propose(
                    consumer, await offer_of(consumer, provider), parse_spec(matmul_spec(seed=61))
                )
                assert answer.accepted, answer.reason
                with trio.fail_after(60):
                    while await trio.to_thread.run_sync(chain.market.status_of, job_id) < JobStatus.COMMITTED:
                        await trio.sleep(0.05)
                first_life.cancel_scope.cancel()  # down right after its commit
            await trio.sleep(3.0)
            again = await start_provider(nursery, provider_ctx, probe_result)  # same home, no --listen
            again_address = again.addrs[0]
            passed, reason = await judged(verifier, job_id)
            await wait_status(consumer_ctx, job_id, JobStatus.COMPLETED)
            nursery.cancel_scope.cancel()
    assert again_address == address  # the same port and peer id after the restart
    assert passed is True, reason
    assert registry.staker(verifier_ctx.address).active == registry.params().min_verifier_stake
    assert registry.staker(provider_ctx.address).active == registry.params().min_provider_stake
