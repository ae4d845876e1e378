"""The consumer: find offers, choose one, escrow, propose, send inputs, receive and check outputs, settle.

:class:`Consumer` is a trio service (a libp2p host with gossip and a blob server for the job's
inputs) plus the steps of buying a job, each usable alone:

* :meth:`Consumer.discover` — offers from gossip and, directly, from providers whose multiaddrs were
  given (each one a signed envelope checked exactly as the gossip validator checks it: signature,
  expiry, and the signer staked and bound on chain to the sending peer);
* :meth:`Consumer.challenge` / :meth:`Consumer.challenge_offers` — a capacity challenge of a
  provider's claimed fp32 figure over libp2p (:mod:`node.roles.capacity`), the result kept per peer
  in the store; ``discover(challenge=True)`` challenges every offer it returns;
* :func:`rank_offers` — the offers that can take a job, in the order of :func:`order_offers` (the
  one ranking, also the ``ccm market offers`` table's): an offer whose latest capacity challenge
  failed ranks after every other (whatever its price: it advertised what it did not deliver); then
  the cheapest price, then the capacity verified by challenges (the store's per-peer figure; never
  challenged ranks below verified), then the claimed figure;
* :meth:`Consumer.submit` — post the job on chain (the price is escrowed), propose it to the chosen
  provider, which accepts on chain; a refusal cancels the job (escrow back);
* :meth:`Consumer.follow` — until the job is final: fetch the outputs as soon as a root is committed
  and check them against it (root recomputed from the unit refs, every unit's bytes hash-checked),
  and take whichever chain step is due (draw, timeouts; the refund after a missed commit deadline).

State: each job is a ``consumer`` row in the store, the verified manifest is written to
``<home>/jobs/<id>.json`` and the outputs stay in the blob store, so ``ccm job status`` and
``ccm job result`` work later from the home alone.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import trio

from node.capacity.errors import CapacityError
from node.capacity.verified import VerifiedFigure
from node.chain.errors import ContractRevert
from node.chain.market import JobStatus, JobTerms, commitment, new_secret
from node.errors import CcmError, ProtocolError, WorkloadError
from node.p2p.blob import BlobServer, fetch_blob
from node.p2p.codec import encode_message
from node.p2p.gossip import GossipDrop, SignedEnvelope
from node.p2p.host import DialError, peer_id_from_addr
from node.p2p.messages import OFFERS_TOPIC, JobProposal
from node.p2p.reqresp import request
from node.progress import Progress
from node.query.jobs import JobReport, job_report
from node.roles.context import NodeContext, offer_row, open_host, say_stderr
from node.roles.outputs import load_manifest, root_of_units, save_manifest, unit_count
from node.roles.settle import advance, chain_now, next_block_time
from node.roles.wire import JOB, JOBINFO, OFFER, JobInfoRequest, OfferBody, OfferRequest, UnitRef
from node.store import Job as StoredJob
from node.workloads.jobkinds.llm import LlmSpec
from node.workloads.llm_files import ModelCard, model_card
from node.workloads.spec import JobSpec, blob_fields, canonical_json, spec_hash, to_dict
from tokenomics.units import units_to_tokens

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from node.blobs import BlobStore
    from node.capacity.challenge import ChallengeResult
    from node.chain.client import BlockHeader

logger = logging.getLogger(__name__)

ROLE = "consumer"
POST_TRIES = 5
RECOVER_AFTER_S = 180.0
RECOVER_SCAN_BLOCKS = 50_000
"""How far back a starting consumer looks on chain for its own Open jobs it never recorded."""
"""A job posted this long ago and still not accepted is given up (the proposal's timeout is 60 s)."""
ZERO_ADDRESS = "0x" + "0" * 40


def _expired_open_jobs(ctx: NodeContext) -> list[int]:
    """Blocking: this account's Open jobs on chain whose acceptance deadline has passed."""
    me = ctx.address.lower()
    head = ctx.chain.client.block_number()
    start = max(ctx.chain.deployment.deploy_block, head - RECOVER_SCAN_BLOCKS)
    posted = [
        int(e.args["jobId"])
        for e in ctx.chain.event_watcher(from_block=start).poll()
        if e.contract == "JobMarket" and e.name == "JobPosted" and str(e.args["consumer"]).lower() == me
    ]
    now = chain_now(ctx.chain)
    jobs = [ctx.chain.market.job(job_id) for job_id in posted]
    return [j.job_id for j in jobs if j.status == JobStatus.OPEN and j.accept_by < now]


class NoOfferError(CcmError):
    """No live offer fits the job (kind, units, price, requested provider)."""


class ProposalRefused(CcmError):
    """The chosen provider refused the job; ``reason`` is its answer (the escrow was taken back)."""

    def __init__(self, job_id: int, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"provider refused job {job_id}: {reason} (escrow cancelled)")


@dataclass(frozen=True)
class FoundOffer:
    """A validated offer: the envelope, its body, who sent it and what challenges verified."""

    envelope: SignedEnvelope
    body: OfferBody
    peer_id: str
    verified: VerifiedFigure

    def price_for(self, n_units: int) -> int:
        return self.body.price_per_unit * n_units

    def advertised_gflops(self, dtype: str = "float32", n: int | None = None) -> int:
        """The figure the offer claims in ``dtype`` (0: not advertised): its probe's best, or with
        ``n`` the one its probe measured for an ``n × n`` product (``ProbeResult.gflops_at``)."""
        from node.capacity.probe import ProbeResult

        probe = ProbeResult.from_json(self.body.probe)
        return probe.best_gflops(dtype) if n is None else probe.gflops_at(dtype, n)

    def gpu_uuids(self) -> tuple[str, ...]:
        """The NVML UUIDs the offer's signed probe declares (none for a CPU)."""
        from node.capacity.probe import ProbeResult

        gpu = ProbeResult.from_json(self.body.probe).gpu
        return (gpu.uuid,) if gpu is not None and gpu.uuid else ()


def rank_offers(
    offers: Sequence[FoundOffer],
    *,
    kind: str,
    n_units: int,
    max_price: int = 0,
    provider: str | None = None,
    prefer_verified: bool = True,
    model: ModelCard | None = None,
) -> list[FoundOffer]:
    """Offers that can take the job, best first (see the module docstring for the order).

    ``model``: an llm job's model; only offers whose advert serves it fit.
    ``max_price`` 0 means no limit; ``provider`` (a peer id or an address) keeps only that provider;
    ``prefer_verified`` (``consumer.prefer_verified``): see :func:`order_offers`.
    """
    fit = [
        o
        for o in offers
        if kind in o.body.kinds
        and n_units <= o.body.max_units
        and (model is None or (o.body.llm is not None and o.body.llm.refusal(model) is None))
        and (max_price == 0 or o.price_for(n_units) <= max_price)
        and (
            provider is None
            or provider in (o.peer_id, o.body.provider)
            or provider.lower() == o.body.provider.lower()
        )
    ]
    return order_offers(fit, prefer_verified=prefer_verified)


def llm_model_card(spec: JobSpec, store: BlobStore, files: Sequence[Path] = ()) -> ModelCard | None:
    """An llm job's :class:`ModelCard` from the model files at hand (the blob store, then ``files``)
    for :func:`rank_offers`; ``None`` for other kinds or when a file is missing (submit names it)."""
    if not isinstance(spec.body, LlmSpec):
        return None
    given: dict[str, bytes] = {}
    for path in files:
        data = path.read_bytes()
        given[hashlib.sha256(data).hexdigest()] = data
    model: dict[str, bytes] = {}
    for name, digest in spec.body.files:
        if digest in given:
            model[name] = given[digest]
        elif store.has(digest):
            model[name] = store.get(digest)
        else:
            return None
    return model_card(model)


def order_offers(offers: Iterable[FoundOffer], *, prefer_verified: bool = True) -> list[FoundOffer]:
    """The market's one ranking, best first (see the module docstring); ``ccm market offers`` shows it.

    The price compared is per unit: for a given job every offer's price is that times the same unit
    count, so the order is the job's order too. ``prefer_verified`` False (``consumer.prefer_verified``)
    ranks equal prices by the claimed figure alone (a failed challenge still ranks last).
    """
    return sorted(
        offers,
        key=lambda o: (
            o.verified.failed,
            o.body.price_per_unit,
            -o.verified.rank_value if prefer_verified else 0,
            -o.body.gflops,
            o.peer_id,
        ),
    )


OUTPUTS_GRACE_S = 30.0
"""Seconds a consumer keeps asking a final job's provider for the outputs (it may be restarting)."""


class Consumer:
    """The consumer role (start with ``nursery.start(consumer.run)``; see the module docstring).

    ``challenge_options``: defaults for :meth:`challenge` (``n``, ``max_n``, ``threshold``…).
    ``progress_stream``: where the progress of output transfers goes (default stderr; see
    :mod:`node.progress`).
    """

    def __init__(
        self,
        ctx: NodeContext,
        *,
        listen: Sequence[str] | None = None,
        bootstrap: Sequence[str] | None = None,
        challenge_options: Mapping[str, Any] | None = None,
        say: Callable[[str], None] = say_stderr,
        progress_stream: TextIO | None = None,
    ) -> None:
        self.ctx = ctx
        self.say = say
        self.progress_stream = progress_stream
        verifier = ctx.config.verifier  # challenge size cap and pass threshold from the config
        defaults = {"max_n": verifier.challenge_n, "threshold": verifier.challenge_threshold}
        self.challenge_options = {**defaults, **dict(challenge_options or {})}
        self.host, self.gossip = open_host(ctx, listen=listen, bootstrap=bootstrap)
        BlobServer(ctx.blobs).register(self.host)
        self.offers: dict[str, FoundOffer] = {}
        self._following: set[int] = set()  # jobs follow() drives (the reveal loop leaves them)

    async def run(self, *, task_status: TaskStatus[Consumer] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the host, collect gossiped offers and reveal this consumer's audit secrets until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(self.host.run))
            await nursery.start(self.ctx.heads.run)
            nursery.start_soon(self._collect_gossip)
            nursery.start_soon(self._recover_quietly)
            nursery.start_soon(self._reveal_loop)
            task_status.started(self)

    async def _recover_quietly(self) -> None:
        try:
            await self.recover()
        except CcmError as err:
            logger.warning("recovering open jobs failed: %s", err)

    async def _reveal_loop(self, interval: float = 1.0) -> None:
        """Reveal the audit secret of every job this node posted as soon as its root is committed, whether
        or not anyone follows the job: an unrevealed secret counts as zero and weakens the audit.

        Looks at every new block while such jobs are open (one request a job; a job :meth:`follow`
        drives is left to it), at the store every ``interval`` seconds while there are none."""
        ctx = self.ctx
        head: BlockHeader | None = None
        while True:
            jobs = await self._unrevealed()
            for record in jobs:
                job_id = int(record.job_id)
                try:
                    job = await ctx.achain.run(ctx.chain.market.job, job_id)
                    if job.status == JobStatus.COMMITTED and not job.consumer_revealed:
                        now = head.timestamp if head is not None else None
                        await ctx.achain.run(
                            functools.partial(
                                advance, ctx.chain, ctx.account, job_id, store=ctx.store, job=job, now=now
                            )
                        )
                except CcmError as err:
                    logger.warning("job %s: reveal failed: %s", job_id, err)
            if not jobs or not await self._unrevealed():
                head = None
                await trio.sleep(interval)
                continue
            try:
                after = head.number if head is not None else None
                head = await ctx.heads.wait(after, at_most=interval) or head
            except CcmError as err:
                logger.warning("waiting for a block: %s", err)
                head = None
                await trio.sleep(interval)

    async def _unrevealed(self) -> list[StoredJob]:
        """This consumer's jobs whose secret may still be due (those :meth:`follow` drives aside)."""
        jobs = await trio.to_thread.run_sync(
            functools.partial(self.ctx.store.list_jobs, role=ROLE, statuses=("posted", "accepted"))
        )
        return [r for r in jobs if int(r.job_id) not in self._following]

    async def _collect_gossip(self) -> None:
        async for item in self.gossip.messages(OFFERS_TOPIC):
            env = item.envelope
            if env.kind != "offer":
                continue
            try:
                await self._keep(env)
            except ProtocolError as err:
                logger.info("offer from %s ignored: %s", env.peer_id, err)

    async def _keep(self, env: SignedEnvelope) -> FoundOffer:
        body = OfferBody.from_body(env.body)
        if body.provider.lower() != env.signer.lower():
            raise GossipDrop("malformed", "offer names another provider than its signer")
        verified = await trio.to_thread.run_sync(self.ctx.store.verified_figure, env.peer_id)
        found = FoundOffer(envelope=env, body=body, peer_id=env.peer_id, verified=verified)
        self.offers[env.peer_id] = found
        await trio.to_thread.run_sync(self.ctx.store.put_offer, offer_row(env, body))
        return found

    # --- discovery ------------------------------------------------------------------------------

    async def offer_from(self, addr: str, *, timeout: float = 10.0) -> FoundOffer:
        """Ask the provider at full multiaddr ``addr`` for its signed offer and validate it."""
        try:
            peer = await self.host.connect(addr, timeout=timeout)
        except DialError:
            # A restarted peer keeps its id but not its port: forget stale addresses and retry once.
            await self.host.forget(peer_id_from_addr(addr))
            peer = await self.host.connect(addr, timeout=timeout)
        env = await request(self.host, peer, OFFER, OfferRequest(), timeout=timeout)
        await self.gossip.check(OFFERS_TOPIC, peer, encode_message(env))
        return await self._keep(env)

    async def discover(
        self, *, peers: Sequence[str] = (), wait_s: float = 0.0, challenge: bool = False
    ) -> list[FoundOffer]:
        """Live offers: asked directly of ``peers`` (multiaddrs), plus gossip heard within ``wait_s``.

        ``challenge``: put every offer's claimed capacity to a challenge first (results kept per peer,
        so the returned offers carry the fresh verified figures).
        """
        for addr in peers:
            try:
                await self.offer_from(addr)
            except ProtocolError as err:
                self.say(f"no valid offer from {addr}: {err}")
        if wait_s > 0:
            await trio.sleep(wait_s)
        now = time.time()
        live = [o for o in self.offers.values() if o.envelope.expires > now]
        if challenge:
            live = await self.challenge_offers(live, **self.challenge_options)
        return live

    # --- capacity challenges --------------------------------------------------------------------

    async def challenge(
        self, offer: FoundOffer, *, dtype: str = "float32", **options: Any
    ) -> ChallengeResult:
        """Challenge ``offer``'s claimed figure in ``dtype`` (any dtype its signed probe advertises)
        at the figure its probe measured for the challenge's size, and, for fp32 (the figure offers
        are ranked by), keep the result for its peer.

        ``options`` go to :func:`node.roles.capacity.challenge_peer` (``n``, ``max_n``,
        ``threshold``…). Raises :class:`~node.roles.capacity.CapacityBusy` when the provider is busy
        (nothing kept), :class:`~node.capacity.errors.ChallengeError` when the offer advertises no
        figure in ``dtype`` and :class:`ProtocolError` when it cannot be reached at all.
        """
        from node.capacity.challenge import challenge_size
        from node.capacity.errors import ChallengeError
        from node.roles.capacity import DEFAULT_CLIENT_MAX_N, challenge_peer

        best = offer.advertised_gflops(dtype)
        if best <= 0:
            raise ChallengeError(f"the offer advertises no {dtype} figure", field="dtype")
        merged = {**self.challenge_options, **options, "dtype": dtype}
        # The size, then the claim at that size: probe and challenge measure the same product.
        n = merged.get("n") or min(challenge_size(best), merged.get("max_n", DEFAULT_CLIENT_MAX_N))
        merged["n"] = n
        advertised = offer.advertised_gflops(dtype, n)
        await self._ensure_connected(offer.peer_id, offer.body.addrs)
        result = await challenge_peer(self.host, offer.peer_id, advertised_gflops=advertised, **merged)
        if dtype != "float32":
            self.say(
                f"capacity challenge of {offer.body.provider} in {dtype}: n={result.n}, "
                f"{result.achieved_gflops} of {advertised} GFLOP/s claimed, "
                + ("passed" if result.passed else f"FAILED: {result.reason}")
            )
            return result
        await trio.to_thread.run_sync(self.ctx.store.add_capacity_result, result.to_record(offer.peer_id))
        verified = await trio.to_thread.run_sync(self.ctx.store.verified_figure, offer.peer_id)
        known = self.offers.get(offer.peer_id, offer)
        self.offers[offer.peer_id] = dataclasses.replace(known, verified=verified)
        outcome = "passed" if result.passed else f"FAILED: {result.reason}"
        self.say(
            f"capacity challenge of {offer.body.provider}: n={result.n}, {result.achieved_gflops} of "
            f"{result.advertised_gflops} GFLOP/s claimed, {outcome}"
        )
        return result

    async def challenge_offers(self, offers: Sequence[FoundOffer], **options: Any) -> list[FoundOffer]:
        """Challenge each offer in turn (a busy or unreachable provider is skipped and said so);
        returns the offers with their updated verified figures."""
        for offer in offers:
            try:
                await self.challenge(offer, **options)
            except (CapacityError, ProtocolError) as err:
                self.say(f"capacity challenge of {offer.body.provider} skipped: {err}")
        return [self.offers.get(o.peer_id, o) for o in offers]

    # --- buying ---------------------------------------------------------------------------------

    async def submit(
        self,
        spec: JobSpec,
        offer: FoundOffer,
        *,
        blob_files: Sequence[Path] = (),
        collateral: int | None = None,
        accept_window: int = 120,
        commit_window: int | None = None,
    ) -> int:
        """Escrow the job on chain and have ``offer``'s provider accept it; returns the job id.

        ``collateral`` defaults to the price; ``commit_window`` (seconds after acceptance) defaults to
        the spec's time limit plus two minutes. The spec's input blobs must be in ``blob_files`` or
        already in the blob store; they are served to the provider from here.
        """
        ctx = self.ctx
        for path in blob_files:
            await trio.to_thread.run_sync(ctx.blobs.put_file, path)
        for field, blob in blob_fields(spec).items():
            if not ctx.blobs.has(blob):
                raise WorkloadError(f"{field}: blob {blob} not provided (pass it with --blob FILE)")
        n_units = unit_count(spec)
        price = offer.price_for(n_units)
        if price <= 0:
            raise WorkloadError("the offer's price for this job is zero; the market needs a positive price")
        digest = spec_hash(spec)
        now = await ctx.achain.run(next_block_time, ctx.chain)  # the post's block
        window = commit_window if commit_window is not None else min(spec.limits.max_seconds, 3600) + 120
        secret = new_secret()
        secret_hash = commitment(secret)
        # Kept before the post: a consumer that crashes right after can still reveal.
        await trio.to_thread.run_sync(
            functools.partial(ctx.store.put_secret, secret_hash, secret, job_id="", purpose="consumer")
        )
        terms = JobTerms(
            spec_hash=digest,
            price=price,
            collateral=price if collateral is None else collateral,
            accept_by=now + accept_window,
            commit_by=now + accept_window + window,
            secret_hash=secret_hash,
            min_units=n_units,
            max_units=n_units,
        )
        job_id = await self._post(terms)
        escrow = units_to_tokens(price)
        self.say(f"posted job {job_id}: {spec.kind}, {n_units} units, {escrow} tokens escrowed")
        record = StoredJob(
            job_id=str(job_id),
            role=ROLE,
            kind=spec.kind,
            spec_hash="0x" + digest.hex(),
            spec_json=canonical_json(to_dict(spec)).decode(),
            status="posted",
            peer_id=offer.peer_id,
            price=price,
        )
        await trio.to_thread.run_sync(ctx.store.put_job, record)
        try:
            await self.propose(job_id, spec, offer, price=price, deadline=terms.commit_by)
        except ProposalRefused:
            await self.cancel(job_id)
            raise
        return job_id

    async def propose(
        self, job_id: int, spec: JobSpec, offer: FoundOffer, *, price: int, deadline: int
    ) -> None:
        """Send on-chain job ``job_id`` to ``offer``'s provider; once it accepts, the job's row in the
        store names the provider's peer (where ``follow`` and ``ccm job result`` fetch the outputs).

        Raises :class:`ProposalRefused` when it refuses or does not answer (nothing is cancelled here).
        """
        ctx = self.ctx
        proposal = JobProposal(
            spec=to_dict(spec), spec_hash=spec_hash(spec), price=price, consumer=ctx.address,
            deadline=deadline, job_id=job_id,
        )
        try:
            if not self.host.is_connected(offer.peer_id) and offer.body.addrs:
                await self.host.connect(offer.body.addrs[0])
            answer = await request(self.host, offer.peer_id, JOB, proposal)
        except ProtocolError as err:
            raise ProposalRefused(job_id, f"no answer: {err}") from None
        if not answer.accepted:
            raise ProposalRefused(job_id, answer.reason)
        record = await trio.to_thread.run_sync(ctx.store.get_job, str(job_id))
        if record is not None:
            accepted = dataclasses.replace(record, status="accepted", peer_id=offer.peer_id)
            await trio.to_thread.run_sync(ctx.store.put_job, accepted)
        self.say(f"job {job_id} accepted by {offer.body.provider} (peer {offer.peer_id})")

    async def deliver(self, job_id: int, spec: JobSpec, peers: Sequence[str]) -> FoundOffer | None:
        """Hand a prepaid job (a redeemed capacity claim) to its provider, found among ``peers``
        (multiaddrs); the provider that accepted it, or ``None`` when none of them did."""
        job = await self.ctx.achain.run(self.ctx.chain.market.job, job_id)
        for addr in peers:
            try:
                offer = await self.offer_from(addr)
            except ProtocolError as err:
                self.say(f"peer {addr}: {err}")
                continue
            if offer.body.provider.lower() != job.provider.lower():
                continue
            try:
                await self.propose(job_id, spec, offer, price=0, deadline=job.commit_by)
            except ProposalRefused as err:
                self.say(f"peer {addr}: {err.reason}")
                continue
            return offer
        return None

    async def _post(self, terms: JobTerms) -> int:
        """Post ``terms`` with an EIP-2612 permit for exactly its price, in one transaction.

        No shared allowance is read and then spent, so concurrent submits from one account (tasks or
        processes) do not take each other's escrow; two permits signed over the same token nonce
        make one of the posts revert, and that one is signed again and resent.
        """
        ctx = self.ctx
        for attempt in range(1, POST_TRIES + 1):
            now = await ctx.achain.run(next_block_time, ctx.chain)
            post = functools.partial(
                ctx.chain.market.post_job_with_permit, ctx.account, terms, permit_deadline=now + 600
            )
            try:
                job_id: int = await ctx.achain.run(post)
                return job_id
            except ContractRevert as err:
                if attempt == POST_TRIES:
                    raise
                logger.info("post attempt %d reverted (%s): signing a fresh permit", attempt, err.error_name)
                await trio.sleep(random.uniform(0.1, 0.5) * attempt)
        raise AssertionError("unreachable")

    async def cancel(self, job_id: int) -> bool:
        """Take back the escrow of this consumer's job while it is Open; True if it was cancelled now.

        A job a provider already accepted is not Open any more: it goes on (and is followed).
        """
        ctx = self.ctx
        cancelled = False
        try:
            status = await ctx.achain.run(ctx.chain.market.status_of, job_id)
            if status == JobStatus.OPEN:
                await ctx.achain.run(ctx.chain.market.cancel_job, ctx.account, job_id)
                cancelled = True
        except ContractRevert as err:
            logger.warning("job %s: cancel failed: %s", job_id, err)
        status = await ctx.achain.run(ctx.chain.market.status_of, job_id)
        if await trio.to_thread.run_sync(ctx.store.get_job, str(job_id)) is not None:
            local = "cancelled" if status == JobStatus.CANCELLED else status.name.lower()
            await trio.to_thread.run_sync(functools.partial(ctx.store.set_job_status, str(job_id), local))
        return cancelled

    async def recover(self, *, older_than: float = RECOVER_AFTER_S) -> list[int]:
        """Take back the escrow of this account's jobs that were posted but never accepted: the
        consumer died between posting and proposing, or before it even recorded the job.

        Cancelled: jobs this home recorded as ``posted`` more than ``older_than`` seconds ago (a
        younger one may still be in the hands of a process proposing it), and any Open job of this
        account on chain whose acceptance deadline has passed (nobody can accept it any more).
        """
        ctx = self.ctx
        stale = await trio.to_thread.run_sync(
            functools.partial(ctx.store.list_jobs, role=ROLE, statuses=("posted",))
        )
        cutoff = time.time() - older_than
        candidates = [int(r.job_id) for r in stale if r.created_at <= cutoff]
        candidates += await ctx.achain.run(_expired_open_jobs, ctx)
        cancelled = []
        for job_id in dict.fromkeys(candidates):
            if await self.cancel(job_id):
                self.say(f"job {job_id}: posted but never accepted; cancelled, escrow back")
                cancelled.append(job_id)
        return cancelled

    async def fetch_outputs(self, job_id: int, *, attempts: int = 3) -> bool:
        """Fetch the outputs of a committed job and check them against the on-chain root.

        Returns True once every unit is in the blob store and the root matches; False when the
        provider's refs do not lead to the committed root. Transport failures are retried, then raised.
        """
        ctx = self.ctx
        if await trio.to_thread.run_sync(load_manifest, ctx.home, job_id) is not None:
            return True
        record = await trio.to_thread.run_sync(ctx.store.get_job, str(job_id))
        if record is None:
            raise WorkloadError(f"job {job_id} is not one of this node's jobs")
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        if job.root == b"\0" * 32:
            raise WorkloadError(f"job {job_id} has no committed root yet")
        last: ProtocolError | None = None
        for _ in range(attempts):
            try:
                await self._ensure_connected(record.peer_id)
                info = await request(self.host, record.peer_id, JOBINFO, JobInfoRequest(job_id=job_id))
                if len(info.units) != job.n_units or root_of_units(info.units) != job.root:
                    self.say(f"job {job_id}: the provider's outputs do NOT match the committed root")
                    return False
                await self._fetch_units(job_id, record.peer_id, info.units)
                await trio.to_thread.run_sync(save_manifest, ctx.home, job_id, job.root, info.units)
                self.say(f"job {job_id}: {len(info.units)} outputs received and checked against the root")
                return True
            except ProtocolError as err:
                last = err
                await trio.sleep(0.5)
        assert last is not None
        raise last

    async def _fetch_units(self, job_id: int, peer_id: str, units: Sequence[UnitRef]) -> None:
        """Every unit's blob not held yet, with progress in bytes (a bar on a terminal, plain lines
        when stderr is piped; ``progress_stream`` overrides stderr)."""
        missing = [u for u in units if not self.ctx.blobs.has(u.data_hash.hex())]
        if not missing:
            return
        total = sum(u.nbytes for u in missing)
        with Progress(
            f"job {job_id}: {len(missing)} outputs", total=total, unit="bytes", stream=self.progress_stream
        ) as shown:
            done = 0
            for unit in missing:

                def report(got: int, _size: int, base: int = done) -> None:
                    shown.update(base + got)

                await fetch_blob(self.host, peer_id, self.ctx.blobs, unit.data_hash.hex(), on_progress=report)
                done += unit.nbytes
                shown.update(done)

    async def _ensure_connected(self, peer_id: str, addrs: Sequence[str] = ()) -> None:
        if self.host.is_connected(peer_id):
            return
        # A provider that restarted: drop stale connection state and py-libp2p's memory of the dials
        # that failed while it was down, or every dial keeps failing from that cache.
        await self.host.forget(peer_id)
        for addr in addrs:
            try:
                await self.host.connect(addr)
                return
            except ProtocolError as err:
                logger.info("cannot reach %s at %s: %s", peer_id, addr, err)
        stored = await trio.to_thread.run_sync(functools.partial(self.ctx.store.live_offers, now=0))
        for offer in stored:
            if offer.peer_id == peer_id:
                for addr in json.loads(offer.body_json).get("addrs", []):
                    try:
                        await self.host.connect(addr)
                        return
                    except ProtocolError as err:
                        logger.info("cannot reach %s at %s: %s", peer_id, addr, err)
        raise ProtocolError(f"no known address reaches provider {peer_id}")

    async def follow(self, job_id: int, *, timeout: float = 600.0, poll: float = 0.5) -> JobReport:
        """Drive ``job_id`` to a final state (bounded by ``timeout`` seconds); return its report.

        Each pass reads the job at a new block (the node's block waiter) and takes the step due at
        that block's timestamp; ``poll``: the longest wait for a block (a chain that mines on demand
        may not mine again), seconds between tries to fetch the outputs meanwhile.
        """
        ctx = self.ctx
        started = time.monotonic()
        outputs_ok: bool | None = None
        ended_at: float | None = None  # when the chain first showed the job final
        self._following.add(job_id)
        try:
            with trio.fail_after(timeout):
                head = await ctx.heads.latest()
                while True:
                    job = await ctx.achain.run(ctx.chain.market.job, job_id)
                    if job.status.terminal and ended_at is None:
                        ended_at = time.monotonic()
                    if outputs_ok is None and job.root != b"\0" * 32:
                        try:
                            outputs_ok = await self.fetch_outputs(job_id)
                        except (ProtocolError, WorkloadError) as err:
                            self.say(f"job {job_id}: outputs not received yet: {err}")
                            # A provider restarting when its job ends still holds the outputs: keep
                            # asking for a while before reporting them missing.
                            if ended_at is not None and time.monotonic() - ended_at > OUTPUTS_GRACE_S:
                                outputs_ok = False
                    never_committed = job.status in (JobStatus.CANCELLED, JobStatus.DEFAULTED)
                    if job.status.terminal and (outputs_ok is not None or never_committed):
                        break
                    due = functools.partial(advance, ctx.chain, ctx.account, job_id, store=ctx.store)
                    step = await ctx.achain.run(functools.partial(due, job=job, now=head.timestamp))
                    if step.name:
                        self.say(f"job {job_id}: {step.name.replace('_', ' ')} -> {step.status.name}")
                        continue
                    head = await ctx.heads.wait(head.number, at_most=poll) or head
        finally:
            self._following.discard(job_id)
        status = job.status.name.lower()
        await trio.to_thread.run_sync(functools.partial(ctx.store.set_job_status, str(job_id), status))
        report = await self.report(job_id, outputs_verified=bool(outputs_ok))
        return JobReport(**{**report.to_dict(), "wall_s": round(time.monotonic() - started, 3)})

    async def report(self, job_id: int, *, outputs_verified: bool | None = None) -> JobReport:
        """The job's report from the chain and the local store."""
        return await self.ctx.achain.run(job_report, self.ctx, job_id, outputs_verified)

