"""The provider daemon: stake, advertise, accept, compute, commit, serve audits and outputs, get paid.

Life of a job here (local status in the store's ``jobs`` table, role ``provider``)::

    accepting ─ acceptJob on chain ─▶ accepted ─ inputs fetched, units computed, outputs stored ─▶
    computed ─ commitResult ─▶ committed ─ drawAudit / timeouts / contest … ─▶ completed | slashed
                                                                                | defaulted
    (any step)  ─ commit deadline passed before the commit ─▶ abandoned (commit timeout claimed)
    (accepting) ─ the chain shows another provider ─▶ declined
    (any step)  ─ the job cannot run ─▶ error ─ commit deadline passed, timeout claimed ─▶ defaulted
                  (the error text is kept; the consumer is refunded, the collateral is lost)

Every transition is written to SQLite before the next step starts, and the outputs (blobs), leaves
(store) and manifest are on disk before the root goes on chain, so a node killed with SIGKILL at
any instant and started again picks each job up where the chain and its disk say it is: it resumes
(recomputing if the outputs were not all saved) while the commit deadline allows, and otherwise
abandons cleanly by claiming the commit timeout itself (the consumer is refunded; nothing is stuck).

Concurrency: the trio event loop only moves messages. Torch, hashing, disk and every chain call run
in worker threads (``trio.to_thread`` / :class:`~node.chain.aio.AsyncChain`), so a node that is
computing still answers pings, audits, offers and proposals. One job computes at a time.

Served protocols: capacity challenges (:mod:`node.roles.capacity`, never beside a job), job
proposals (:data:`~node.roles.wire.JOB`), direct offer requests
(:data:`~node.roles.wire.OFFER`), job info (spec + unit refs) to the job's consumer, drawn verifier
and panel, audits (unit bytes + Merkle proofs) to the same peers, and blobs (inputs it fetched and
outputs it computed, by digest).

Behaviour is injected, never switched by flags: ``compute`` (a
:data:`~node.roles.strategies.ComputeStrategy`, honest by default; tests and the demo pass a cheating
one) and ``contest_fails`` (an honest daemon contests every fail automatically while the contest
window is open; a test cheater may be told not to, or to contest anyway and lose its bond).

Hostile peers: each job's and each request's failure is that job's or request's outcome (recorded
in the store, logged with the job id), never the daemon's end; admission
(:mod:`node.roles.admission`) refuses before ``acceptJob`` what could not be delivered.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from node.chain.errors import ContractRevert
from node.chain.market import Job, JobStatus, commitment, new_secret
from node.chain.registry import Role
from node.errors import CcmError, ConfigError, JobSpecError, ProtocolError
from node.p2p.blob import BlobServer
from node.p2p.codec import FrameStream
from node.p2p.gossip import DEFAULT_TTL, SignedEnvelope, sign_envelope
from node.p2p.messages import (
    AUDIT_DATA_CHUNK,
    AUDIT_PROTOCOL,
    OFFERS_TOPIC,
    AuditRequest,
    AuditResponse,
    AuditUnit,
    JobAccept,
    JobProposal,
    write_audit_response,
)
from node.p2p.reqresp import RequestRefused, guard, serve
from node.roles.admission import (
    ProposalLimiter,
    Refused,
    admit,
    check_inputs,
    check_served,
    check_spec,
    fetch_inputs,
    fits_deadline,
)
from node.roles.capacity import CapacityServer
from node.roles.context import (
    NodeContext,
    configure_torch,
    daemon_lock,
    ensure_staked,
    open_host,
    peer_id_bytes,
    say_stderr,
    start_claims,
)
from node.roles.outputs import load_manifest, save_manifest, unit_count, unit_leaves
from node.roles.settle import advance, chain_now, next_block_time
from node.roles.strategies import ComputeStrategy, honest_compute
from node.roles.wire import JOB, JOBINFO, OFFER, JobInfo, JobInfoRequest, OfferBody, OfferRequest, UnitRef
from node.store import Commitment
from node.store import Job as StoredJob
from node.workloads.llm_files import ModelsServed
from node.workloads.spec import KINDS, JobSpec, canonical_json, load_spec, parse_spec, spec_hash, to_dict
from tokenomics.units import units_to_tokens

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from node.capacity.probe import ProbeResult
    from node.chain.client import BlockHeader
    from node.chain.follower import FollowUpdate
    from node.workloads.runner import Output, ProviderCaps

logger = logging.getLogger(__name__)

ROLE = "provider"
MAX_ATTEMPTS = 2
"""Starts of one job's computation allowed; a job that took the node down this often is not resumed."""
ACTIVE = ("accepting", "accepted", "computed", "committed")
TERMINAL_NAMES = {
    JobStatus.COMPLETED: "completed",
    JobStatus.SLASHED: "slashed",
    JobStatus.DEFAULTED: "defaulted",
    JobStatus.CANCELLED: "cancelled",
}


class JobCrashed(CcmError):
    """A job's computation was started ``attempts`` times and never finished (it took the node down)."""

    def __init__(self, job_id: int, attempts: int) -> None:
        self.job_id = job_id
        self.attempts = attempts
        super().__init__(
            f"job {job_id}: computation started {attempts} times without finishing; not resumed again"
        )


class ProviderDaemon:
    """The provider role as a trio service (start with ``nursery.start(daemon.run)``).

    ``probe``: this machine's measured capacity (advertised, and its hash bound on chain).
    ``price_per_unit``: the price policy (default ``provider.price_per_unit`` from the config).
    ``listen`` / ``bootstrap``: libp2p addresses (default: the config's ``p2p`` section).
    ``offer_interval``: seconds between gossiped offers. Unfinished jobs (draws, timeouts, contests,
    resumption) are looked at on every new block (the node's block waiter, :mod:`node.chain.heads`);
    ``settle_interval``: seconds between looks at the store while there are none.
    """

    def __init__(
        self,
        ctx: NodeContext,
        *,
        probe: ProbeResult,
        price_per_unit: int | None = None,
        compute: ComputeStrategy = honest_compute,
        contest_fails: bool = True,
        device: str | None = None,
        listen: Sequence[str] | None = None,
        bootstrap: Sequence[str] | None = None,
        offer_interval: float = 10.0,
        offer_ttl: int = DEFAULT_TTL,
        settle_interval: float = 1.0,
        say: object = say_stderr,
    ) -> None:
        cfg = ctx.config
        self.ctx = ctx
        self.probe = probe
        self.price_per_unit = cfg.provider.price_per_unit if price_per_unit is None else price_per_unit
        if self.price_per_unit < 0:
            raise ConfigError("price per unit must not be negative")
        self.compute = compute
        self.contest_fails = contest_fails
        self.device = device or cfg.provider.device
        self.offer_interval = offer_interval
        self.offer_ttl = offer_ttl
        self.settle_interval = settle_interval
        self.say = say if callable(say) else say_stderr
        self.host, self.gossip = open_host(ctx, listen=listen, bootstrap=bootstrap, stable=True)
        self.blob_server = BlobServer(ctx.blobs)
        self._running: set[int] = set()
        self._queued: dict[int, float] = {}
        self._speed: dict[str, float] = {}
        self._limiter = ProposalLimiter()
        self._compute_lock = trio.Lock()
        self._accept_lock = trio.Lock()
        self.capacity = CapacityServer(device=self.device, lock=self._compute_lock)
        self._nursery: trio.Nursery | None = None
        self._jobs_changed = trio.Event()
        self._envelope: SignedEnvelope | None = None
        self.offers_published = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[ProviderDaemon] = trio.TASK_STATUS_IGNORED) -> None:
        """Stake, start the host, advertise and serve until cancelled (holding the home's daemon lock)."""
        with daemon_lock(self.ctx.home):
            await self._run(task_status)

    async def _run(self, task_status: TaskStatus[ProviderDaemon]) -> None:
        ctx = self.ctx
        await ctx.achain.run(
            ensure_staked, ctx, Role.PROVIDER, advert_hash=self.probe.advert_hash(), say=self.say
        )
        serve(self.host, JOB, self._on_proposal)
        serve(self.host, OFFER, self._on_offer_request)
        serve(self.host, JOBINFO, self._on_job_info)
        self.host.set_handler(
            AUDIT_PROTOCOL,
            guard(
                self.host, AUDIT_PROTOCOL, self._on_audit, max_frame=AUDIT_DATA_CHUNK + 65536, timeout=30.0
            ),
        )
        self.blob_server.register(self.host)
        self.capacity.register(self.host)
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(self.host.run))
            await nursery.start(ctx.heads.run)
            self._nursery = nursery
            self.claims = await start_claims(nursery, ctx, self.host, self.gossip)
            nursery.start_soon(self._advertise_loop)
            nursery.start_soon(trio.to_thread.run_sync, configure_torch)  # not in the first admission
            confirmations = ctx.config.chain.confirmations
            reorgs = ctx.chain.follower(ctx.store, name="provider", confirmations=confirmations, events=False)
            running = lambda: bool(self._running)  # noqa: E731 - a block's pace while a job runs
            await nursery.start(
                functools.partial(reorgs.run, ctx.achain, self._on_chain, heads=ctx.heads, active=running)
            )
            nursery.start_soon(self._settle_loop)
            task_status.started(self)

    @property
    def addrs(self) -> list[str]:
        """Full multiaddrs (with ``/p2p/<peer id>``) of the running host."""
        return self.host.addrs

    # --- offers ---------------------------------------------------------------------------------

    def offer_body(self) -> OfferBody:
        """The offer this daemon advertises now."""
        p = self.probe
        return OfferBody(
            provider=self.ctx.address,
            addrs=tuple(self.host.addrs[:4]),
            price_per_unit=self.price_per_unit,
            device=p.device,
            device_name=p.device_name[:120],
            gflops=p.best_gflops("float32"),
            advert_hash=p.advert_hash(),
            max_units=self.ctx.config.provider.max_units,
            kinds=KINDS,
            probe=p.to_json(),
            llm=self.models_served(),
        )

    def models_served(self) -> ModelsServed:
        """The llm models this provider serves (``provider.llm_families`` / ``llm_max_params`` /
        ``max_bytes``): advertised, and held against every llm job at admission."""
        cfg = self.ctx.config.provider
        return ModelsServed(
            families=cfg.llm_families, max_params=cfg.llm_max_params, max_weight_bytes=cfg.max_bytes
        )

    def current_envelope(self) -> SignedEnvelope:
        """A signed offer envelope valid for at least half its lifetime (re-signed when older)."""
        env = self._envelope
        if env is None or env.expires - time.time() < self.offer_ttl / 2:
            env = sign_envelope(
                self.ctx.account,
                topic=OFFERS_TOPIC,
                kind="offer",
                body=self.offer_body().to_body(),
                peer_id=self.host.peer_id,
                ttl=self.offer_ttl,
            )
            self._envelope = env
        return env

    async def _advertise_loop(self) -> None:
        while True:
            try:
                await self.gossip.publish(
                    self.ctx.account,
                    topic=OFFERS_TOPIC,
                    kind="offer",
                    body=self.offer_body().to_body(),
                    ttl=self.offer_ttl,
                )
                self.offers_published += 1
            except ProtocolError as err:
                logger.warning("offer not published: %s", err)
            await trio.sleep(self.offer_interval)

    async def _on_offer_request(self, peer: str, req: OfferRequest) -> SignedEnvelope:
        return self.current_envelope()

    # --- proposals ------------------------------------------------------------------------------

    async def _on_proposal(self, peer: str, req: JobProposal) -> JobAccept:
        from node.workloads.runner import effective_limits

        ctx = self.ctx

        def answer(accepted: bool, reason: str = "") -> JobAccept:
            return JobAccept(
                spec_hash=req.spec_hash,
                accepted=accepted,
                provider=ctx.address,
                reason=reason,
                job_id=req.job_id,
            )

        if not self._limiter.allow(peer):
            return answer(False, "too many proposals from this peer: slow down")
        if req.job_id is None:
            return answer(False, "no job id: post the job on chain first")
        job_id = req.job_id
        try:
            spec = parse_spec(req.spec)
        except JobSpecError as err:
            return answer(False, f"invalid spec: {err}")
        if spec_hash(spec) != req.spec_hash:
            return answer(False, "spec_hash is not keccak256 of the canonical spec")
        n_units = unit_count(spec)
        if n_units > ctx.config.provider.max_units:
            return answer(
                False, f"{n_units} units exceed this provider's limit of {ctx.config.provider.max_units}"
            )
        caps = self._caps()
        try:
            check_spec(spec, caps=caps)  # from the spec's numbers alone: nothing built or fetched yet
        except Refused as refusal:
            return answer(False, refusal.reason)
        known = await self._already_taken(job_id, peer)
        if known is not None:
            return answer(*known)
        try:
            job, prepaid = await self._check_posted(job_id, req, n_units)
            max_size = effective_limits(spec.limits, caps).max_bytes
            blobs = await fetch_inputs(
                self.host, peer, ctx.blobs, spec, max_size=max_size, label=f"job {job_id}"
            )
            check_served(spec, blobs, self.models_served())
        except Refused as refusal:
            return answer(False, refusal.reason)
        async with self._accept_lock:
            known = await self._already_taken(job_id, peer)  # the same job proposed twice at once
            if known is not None:
                return answer(*known)
            try:
                estimate = admit(spec, blobs, caps=caps, flops_per_s=self.speed(spec))
                now = await ctx.achain.run(next_block_time, ctx.chain)  # when the accept lands
                fits_deadline(estimate, queued_s=sum(self._queued.values()), now=now, commit_by=job.commit_by)
                await trio.to_thread.run_sync(
                    functools.partial(check_inputs, spec, blobs, caps=caps, device=self.device)
                )
            except Refused as refusal:
                logger.info("job %s refused: %s", job_id, refusal.reason)
                return answer(False, refusal.reason)
            record = StoredJob(
                job_id=str(job_id),
                role=ROLE,
                kind=spec.kind,
                spec_hash="0x" + job.spec_hash.hex(),
                spec_json=canonical_json(to_dict(spec)).decode(),
                status="accepting",
                peer_id=peer,
                price=job.price,
            )
            await trio.to_thread.run_sync(ctx.store.put_job, record)
            try:
                if not prepaid:
                    await ctx.achain.run(ctx.chain.market.accept_job, ctx.account, job_id)
            except ContractRevert as err:
                await self._set_status(str(job_id), "declined", error=str(err))
                return answer(False, f"accept failed on chain: {err.error_name}")
            await self._set_status(str(job_id), "accepted")
            self._queued[job_id] = estimate.seconds
        self.say(f"accepted job {job_id} ({spec.kind}, {n_units} units, {units_to_tokens(job.price)} tokens)")
        self._start(job_id)
        return answer(True)

    async def _already_taken(self, job_id: int, peer: str) -> tuple[bool, str] | None:
        """The answer for a job this provider already took, or ``None`` when it did not."""
        existing = await trio.to_thread.run_sync(self.ctx.store.get_job, str(job_id))
        if existing is None or existing.status in ("declined", "accepting"):
            return None
        # Only the job's own consumer hears about it; anyone else learns nothing of another's job.
        if existing.role == ROLE and existing.peer_id == peer:
            return True, "already accepted"
        return False, f"job {job_id} is not open to this proposal"

    async def _check_posted(self, job_id: int, req: JobProposal, n_units: int) -> tuple[Job, bool]:
        """The on-chain job behind a proposal, if this provider may take it: ``(job, prepaid)``."""
        ctx = self.ctx
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        # A redeemed capacity claim (node.claims): the job is prepaid and already ACCEPTED with us.
        mine = job.provider.lower() == ctx.address.lower()
        prepaid = job.prepaid and job.status == JobStatus.ACCEPTED and mine
        if job.status != JobStatus.OPEN and not prepaid:
            raise Refused(f"job {job_id} is not open")
        if job.spec_hash != req.spec_hash:
            raise Refused("the posted job's specHash differs from the proposal's")
        if job.consumer.lower() != req.consumer.lower():
            raise Refused("the posted job belongs to another consumer")
        if n_units < job.min_units or (job.max_units != 0 and n_units > job.max_units):  # 0: unbounded
            bounds = f"[{job.min_units}, {job.max_units or 'any'}]"
            raise Refused(f"the spec's {n_units} units are outside the job's {bounds}")
        wanted = self.price_per_unit * n_units
        if job.price < wanted and not prepaid:
            raise Refused(
                f"price {units_to_tokens(job.price)} tokens is below {units_to_tokens(wanted)} "
                f"({n_units} units x {units_to_tokens(self.price_per_unit)})"
            )
        return job, prepaid

    def speed(self, spec: JobSpec) -> float:
        """FLOP/s this provider does on ``spec``'s kind: measured on the last job of the kind run here,
        else the probe's matmul figure for the dtype (float32's when the dtype was not measured)."""
        measured = self._speed.get(spec.kind)
        if measured is not None:
            return measured
        gflops = self.probe.best_gflops(spec.dtype) or self.probe.best_gflops("float32")
        return max(gflops, 1) * 1e9

    def _caps(self) -> ProviderCaps:
        from node.workloads.runner import ProviderCaps

        p = self.ctx.config.provider
        return ProviderCaps(
            max_units=p.max_units,
            max_bytes=p.max_bytes,
            max_seconds=p.max_seconds,
            max_memory_bytes=p.max_memory,
        )

    async def _set_status(self, key: str, status: str, *, error: str = "") -> None:
        await trio.to_thread.run_sync(
            functools.partial(self.ctx.store.set_job_status, key, status, error=error)
        )
        self._jobs_changed.set()  # the settle loop looks again without waiting for a block

    def _start(self, job_id: int) -> None:
        if job_id not in self._running and self._nursery is not None:
            self._running.add(job_id)
            self._nursery.start_soon(self._execute, job_id)

    # --- execution ------------------------------------------------------------------------------

    async def _execute(self, job_id: int) -> None:
        """Run one job to its commit; whatever goes wrong is this job's outcome, never the daemon's end."""
        try:
            await self._run_job(job_id)
        except Exception as err:  # noqa: BLE001 - trio's serve_listeners habit: one task's failure is its own
            await self._job_failed(job_id, err)
        finally:
            self._running.discard(job_id)

    async def _run_job(self, job_id: int) -> None:
        ctx = self.ctx
        key = str(job_id)
        record = await trio.to_thread.run_sync(ctx.store.get_job, key)
        if record is None:
            return
        spec = load_spec(record.spec_json)
        manifest = await trio.to_thread.run_sync(load_manifest, ctx.home, job_id)
        if manifest is None:
            attempts = await trio.to_thread.run_sync(ctx.store.add_job_attempt, key)
            if attempts > MAX_ATTEMPTS:
                raise JobCrashed(job_id, attempts - 1)
            blobs = await fetch_inputs(self.host, record.peer_id, ctx.blobs, spec, label=f"job {job_id}")
            async with self._compute_lock:
                self.say(f"job {job_id}: computing {unit_count(spec)} units (attempt {attempts})")
                try:
                    root, outputs = await trio.to_thread.run_sync(self._compute, job_id, spec, blobs)
                finally:
                    self._queued.pop(job_id, None)
            units = await trio.to_thread.run_sync(self._save_outputs, job_id, root, outputs)
            manifest = (root, units)
        root, units = manifest
        await self._set_status(key, "computed")
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        if job.status == JobStatus.ACCEPTED:
            secret_hash = await self._audit_secret(key)
            await ctx.achain.run(
                functools.partial(
                    ctx.chain.market.commit_result,
                    ctx.account,
                    job_id,
                    root,
                    len(units),
                    secret_hash=secret_hash,
                )
            )
            self.say(f"job {job_id}: committed root 0x{root.hex()[:16]}… over {len(units)} units")
        await self._set_status(key, "committed")
        await self._settle(job_id, StoredJob(key, ROLE, "", "", "", "committed"))

    async def _audit_secret(self, key: str) -> bytes:
        """The commitment of this job's audit secret, kept before it goes on chain (reused after a crash)."""
        store = self.ctx.store
        kept = await trio.to_thread.run_sync(store.secrets_of, key, "provider")
        if kept:
            return kept[0][0]
        secret = new_secret()
        hashed = commitment(secret)
        await trio.to_thread.run_sync(
            functools.partial(store.put_secret, hashed, secret, job_id=key, purpose="provider")
        )
        return hashed

    async def _job_failed(self, job_id: int, err: Exception) -> None:
        """Record ``err`` as job ``job_id``'s outcome (status ``error``, or back to ``computed`` when
        the outputs are safe on disk and only the commit failed: the settle loop retries it)."""
        key = str(job_id)
        text = f"{type(err).__name__}: {err}"[:500]
        if isinstance(err, CcmError):
            logger.warning("job %s failed: %s", job_id, text)
        else:
            logger.error("job %s failed: %s", job_id, text, exc_info=err)
        try:
            manifest = await trio.to_thread.run_sync(load_manifest, self.ctx.home, job_id)
            status = "computed" if manifest is not None and not isinstance(err, JobCrashed) else "error"
            await self._set_status(key, status, error=text)
        except Exception as store_err:  # noqa: BLE001 - the store itself failing must not end the daemon
            logger.error("job %s: cannot record its failure: %s", job_id, store_err)
            return
        if status == "error":
            self.say(f"job {job_id}: cannot complete: {text}")
        else:
            self.say(f"job {job_id}: commit not sent yet ({text}); retrying")

    def _compute(self, job_id: int, spec: JobSpec, blobs: dict[str, bytes]) -> tuple[bytes, list[Output]]:
        """Run the compute strategy (a worker thread); its speed on the job's kind is kept for admission."""
        from node.workloads.runner import spec_footprint

        started = time.perf_counter()
        result = self.compute(job_id, spec, blobs, self.device, self._caps())
        flops, took = spec_footprint(spec, blobs).flops, time.perf_counter() - started
        if flops > 0 and took > 0:
            self._speed[spec.kind] = flops / took
        return result

    def _save_outputs(self, job_id: int, root: bytes, outputs: list[Output]) -> tuple[UnitRef, ...]:
        units = tuple(
            UnitRef(dtype=dtype, shape=tuple(shape), data_hash=bytes.fromhex(self.ctx.blobs.put(data)))
            for dtype, shape, data in outputs
        )
        leaves = unit_leaves(units)
        self.ctx.store.put_commitment(Commitment(job_id=str(job_id), root=root, leaves=tuple(leaves)))
        save_manifest(self.ctx.home, job_id, root, units)
        return units

    # --- settlement and resumption --------------------------------------------------------------

    async def _settle_loop(self) -> None:
        """Each unfinished job's due step, at every new block while there are any (at its timestamp)."""
        head: BlockHeader | None = None
        while True:
            for record in await self._unsettled():
                try:
                    await self._settle(int(record.job_id), record, now=head.timestamp if head else None)
                except Exception as err:  # noqa: BLE001 - one job's trouble is logged, the loop goes on
                    logger.warning("job %s: settlement step failed: %s", record.job_id, err)
            if not await self._unsettled():  # (a chain that mines on demand may not mine again)
                head = None
                await trio.sleep(self.settle_interval)
                continue
            try:
                after = head.number if head else None
                kick, self._jobs_changed = self._jobs_changed, trio.Event()
                head = await self.ctx.heads.wait(after, at_most=self.settle_interval, kick=kick) or head
            except CcmError as err:
                logger.warning("waiting for a block: %s", err)
                head = None
                await trio.sleep(self.settle_interval)

    async def _unsettled(self) -> list[StoredJob]:
        """This provider's jobs that wait on the chain (not those still computing here)."""
        jobs = await trio.to_thread.run_sync(
            lambda: self.ctx.store.list_jobs(role=ROLE, statuses=(*ACTIVE, "error"))
        )
        return [r for r in jobs if int(r.job_id) not in self._running or r.status == "committed"]

    async def _settle(self, job_id: int, record: StoredJob, *, now: int | None = None) -> None:
        """Take ``job_id``'s due step; ``now``: the timestamp of the newest block seen (else read)."""
        ctx = self.ctx
        if job_id in self._running and record.status != "committed":
            return
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        key = str(job_id)
        if job.provider.lower() != ctx.address.lower():
            if record.status == "accepting":
                await self._set_status(key, "declined")
            return
        if now is None:
            now = await ctx.achain.run(chain_now, ctx.chain)
        if job.status == JobStatus.ACCEPTED and record.status == "error":
            # It failed here and is not retried: after its commit deadline the timeout is claimed (the
            # consumer is refunded; the collateral is lost either way) so that nothing stays locked.
            if now <= job.commit_by:
                return
        elif job.status == JobStatus.ACCEPTED and record.status != "committed":
            if now <= job.commit_by:
                self._start(job_id)
                return
            await self._set_status(key, "abandoned", error="commit deadline passed")
            self.say(f"job {job_id}: commit deadline passed; abandoning (the consumer is refunded)")
        step = await ctx.achain.run(
            functools.partial(
                advance,
                ctx.chain,
                ctx.account,
                job_id,
                store=ctx.store,
                contest=self.contest_fails,
                job=job,
                now=now,
            )
        )
        if step.name:
            self.say(f"job {job_id}: {step.name.replace('_', ' ')} -> {step.status.name}")
        status = step.status
        if status in TERMINAL_NAMES:
            await self._set_status(key, TERMINAL_NAMES[status], error=record.error)
            if status == JobStatus.COMPLETED:
                self.say(f"job {job_id}: paid")
            elif status in (JobStatus.SLASHED, JobStatus.DEFAULTED):
                logger.warning("job %s: %s: this provider's collateral is lost", job_id, status.name)
                self.say(f"job {job_id}: {status.name} - this provider lost the job's collateral")
        elif status >= JobStatus.COMMITTED and record.status != "committed":
            await self._set_status(key, "committed")

    async def _on_chain(self, update: FollowUpdate) -> None:
        """After a reorg, put each job's local state back to what the chain now says: a job whose
        commitment is gone (ACCEPTED again) is committed again from the outputs on disk, one back
        from a terminal state is settled again."""
        if update.fork is None:
            return
        ctx = self.ctx
        for record in await trio.to_thread.run_sync(lambda: ctx.store.list_jobs(role=ROLE)):
            if record.status in ("accepting", "accepted", "computed", "error", "declined"):
                continue
            job_id = int(record.job_id)
            status = await ctx.achain.run(ctx.chain.market.status_of, job_id)
            if status == JobStatus.ACCEPTED:
                self.say(f"job {job_id}: its commitment was undone by a reorg; committing again")
                await self._set_status(record.job_id, "computed")
            elif status not in TERMINAL_NAMES and record.status != "committed":
                await self._set_status(record.job_id, "committed")

    # --- serving the job's data -----------------------------------------------------------------

    def _authorized(self, peer: str, job_id: int, record: StoredJob | None) -> bool:
        """The job's consumer peer, its drawn verifier and its panel may see its data (blocking)."""
        if record is not None and record.peer_id == peer:
            return True
        market, registry = self.ctx.chain.market, self.ctx.chain.registry
        job = market.job(job_id)
        members = [job.verifier, *market.panel_of(job_id)]
        want = peer_id_bytes(peer)
        return any(int(m, 16) != 0 and registry.peer_id_of(m) == want for m in members)

    async def _job_record(self, peer: str, job_id: int) -> StoredJob:
        record = await trio.to_thread.run_sync(self.ctx.store.get_job, str(job_id))
        if record is None or record.role != ROLE:
            raise RequestRefused("not_found", f"no job {job_id} here")
        if not await self.ctx.achain.run(self._authorized, peer, job_id, record):
            raise RequestRefused(
                "forbidden", f"peer {peer} is not the consumer, verifier or panel of job {job_id}"
            )
        return record

    async def _on_job_info(self, peer: str, req: JobInfoRequest) -> JobInfo:
        record = await self._job_record(peer, req.job_id)
        manifest = await trio.to_thread.run_sync(load_manifest, self.ctx.home, req.job_id)
        root, units = manifest if manifest is not None else (b"", ())
        spec = load_spec(record.spec_json)
        return JobInfo(job_id=req.job_id, spec=to_dict(spec), status=record.status, root=root, units=units)

    async def _on_audit(self, peer: str, fs: FrameStream) -> None:
        req = await fs.read_message(AuditRequest, max_size=64 * 1024)
        await self._job_record(peer, req.job_id)
        manifest = await trio.to_thread.run_sync(load_manifest, self.ctx.home, req.job_id)
        commitment = await trio.to_thread.run_sync(self.ctx.store.get_commitment, str(req.job_id))
        if manifest is None or commitment is None:
            raise RequestRefused("not_committed", f"job {req.job_id} has no committed result here")
        _, refs = manifest
        for i in req.indices:
            if i >= len(refs):
                raise RequestRefused("bad_index", f"unit {i} out of range ({len(refs)} units)")

        def build() -> AuditResponse:
            from verifier.commitment import MerkleTree

            tree = MerkleTree(list(commitment.leaves))
            units = tuple(
                AuditUnit(
                    index=i,
                    dtype=refs[i].dtype,
                    shape=refs[i].shape,
                    data=self.ctx.blobs.get(refs[i].data_hash.hex()),
                    proof=tuple(tree.proof(i)),
                )
                for i in req.indices
            )
            return AuditResponse(job_id=req.job_id, units=units)

        response = await trio.to_thread.run_sync(build)
        await write_audit_response(fs, response)
