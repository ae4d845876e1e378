"""The verifier daemon: stake, watch for audits and panels, fetch what is needed, recompute, attest or vote.

Watching: ``AuditDrawn`` events naming this node's address start an audit (verdict by ``attest``),
``PanelDrawn`` events listing it start the same audit for a contest (verdict by ``vote``). They come
from the node's chain follower (:mod:`node.chain.follower`: ``[chain] confirmations`` deep, its
cursor in the store, polls paced by the block time): each draw is recorded (``judging``) before the
follower moves on, so a restarted daemon resumes the audits it had not finished and judges none
twice. A draw that a reorg undid puts its audit back to ``judging``: the redrawn one (with its new
seed and units) is judged again, never the old verdict kept.

One audit (:meth:`VerifierDaemon.check`):

1. the sampled indices from the chain (``sampledIndices``: the seed was fixed after the commit);
2. the provider's peer id from the staking registry, its addresses from its offers (gossip, kept in
   the store so a restarted verifier still has them), the bootstrap list or an existing connection;
   a provider that cannot be reached or breaks off is tried again, re-resolved, with backoff, until
   :data:`ATTEST_MARGIN_S` before the window closes ("withheld" only then);
3. the spec from the provider, accepted only if keccak256 of its canonical JSON is the on-chain
   ``specHash``; the input blobs it names, each hash-checked on arrival; then what was committed,
   against the spec: the unit count first (``nUnits`` on chain vs the spec's), the unit list against
   the root, every unit's shape;
4. the sampled units (for ``train`` also each previous checkpoint) with Merkle proofs;
5. :func:`node.workloads.audit.audit_job` recomputes them here (worker thread) and compares with
   the spec's tolerance; every proof is checked against the on-chain root.

A provider that does not answer, refuses, or sends anything that does not check out fails: "withheld"
is a fail. After a fail the daemon settles it (``finalizeFail`` once the contest window is over)
unless the provider contests; after a vote it resolves the contest when it can.

The attested verdict goes through ``verdict`` (a :data:`~node.roles.strategies.VerdictPolicy`, honest
by default; tests pass one that stages a false accusation a panel must overturn). Panel votes never
go through it. Any failure while judging is that audit's outcome (logged with the job id, recorded
in the store), never the daemon's end.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import trio
from eth_utils import keccak

from node.chain.errors import ContractRevert
from node.chain.market import Ballot, JobStatus, ballot_commitment, new_secret
from node.chain.registry import Role
from node.errors import CcmError, JobSpecError, ProtocolError, WorkloadError
from node.p2p.blob import fetch_blob
from node.p2p.codec import FrameStream, FrameTooLargeError, SchemaError, UnexpectedFrameError
from node.p2p.messages import (
    AUDIT_DATA_CHUNK,
    AUDIT_PROTOCOL,
    OFFERS_TOPIC,
    AuditRequest,
    read_audit_response,
)
from node.p2p.reqresp import close_quietly, request
from node.roles.context import (
    NodeContext,
    configure_torch,
    daemon_lock,
    ensure_staked,
    offer_row,
    open_host,
    peer_id_from_bytes,
    say_stderr,
    start_claims,
)
from node.roles.outputs import root_of_units, unit_count
from node.roles.settle import BENIGN_REVERTS, advance, chain_now, next_block_time
from node.roles.strategies import VerdictPolicy, honest_verdict
from node.roles.wire import JOBINFO, JobInfoRequest, OfferBody, UnitRef
from node.store import Audit
from node.workloads.spec import JobSpec, blob_fields, needs_prev, parse_spec, spec_hash
from verifier.audit import RevealedUnit
from verifier.errors import VerifierError

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from node.chain.client import BlockHeader
    from node.chain.events import DecodedEvent
    from node.chain.follower import Follower, FollowUpdate
    from node.chain.market import MarketParams
    from node.config import VerifierSection

logger = logging.getLogger(__name__)

MAX_UNIT_BYTES = 256 << 20
DRAW_PENDING = frozenset(
    {"JobAccepted", "PrepaidJobOpened", "ResultCommitted", "ConsumerRevealed", "Contested"}
)
"""Events after which a draw (an audit, a panel) may follow: the follower follows every block until
it comes or can no longer come (:meth:`VerifierDaemon._draw_horizon`)."""
DRAW_SETTLED = frozenset(
    {"AuditDrawn", "PanelDrawn", "RevealTimedOut", "JobCompleted", "JobDefaulted", "JobSlashed"}
)
MAX_AUDIT_BYTES = 1 << 30
ATTEST_MARGIN_S = 10.0
"""Seconds kept before the chain's deadline for sending the verdict (no more retries after that)."""
RETRY_FIRST_S = 0.5
MALFORMED = (SchemaError, FrameTooLargeError, UnexpectedFrameError, JobSpecError, WorkloadError)
"""Answers that break the protocol (a fail at once); other transport errors are retried."""
RETRY_MAX_S = 4.0


def audit_policy_notes(settings: VerifierSection, params: MarketParams) -> list[str]:
    """What this verifier's audit policy (``verifier.detection_target``, ``max_units_per_audit``)
    says about the market it joins. The market fixes the units sampled per audit (``samples_k``);
    a verifier cannot sample fewer or more, so a policy the market does not meet is said at start."""
    k = params.samples_k
    detection = 1 - 0.9**k  # a cheat on 10 % of a large job's units, k samples
    notes = []
    if detection < settings.detection_target:
        notes.append(
            f"this market samples {k} units per audit: a provider cheating on 10 % of a job is caught with"
            f" probability {detection:.3f}, below verifier.detection_target {settings.detection_target}"
        )
    if k > settings.max_units_per_audit:
        notes.append(
            f"this market samples {k} units per audit, more than verifier.max_units_per_audit "
            f"{settings.max_units_per_audit}: drawn audits are still judged (an absent verifier is slashed)"
        )
    return notes


class VerifierDaemon:
    """The verifier role as a trio service (start with ``nursery.start(daemon.run)``).

    ``device``: where units are recomputed (``cpu`` by default: see node/workloads/README.md on
    auditing CUDA units on a CPU). ``fetch_timeout``: seconds allowed for fetching one job's data
    before the provider counts as withholding. The chain is followed block by block while an audit
    or a draw is in flight (the node's block waiter); ``poll``: seconds between looks at the store
    while nothing is.
    """

    def __init__(
        self,
        ctx: NodeContext,
        *,
        device: str = "cpu",
        listen: Sequence[str] | None = None,
        bootstrap: Sequence[str] | None = None,
        poll: float = 1.0,
        fetch_timeout: float = 30.0,
        verdict: VerdictPolicy = honest_verdict,
        say: Callable[[str], None] = say_stderr,
    ) -> None:
        self.ctx = ctx
        self.device = device
        self.poll = poll
        self.fetch_timeout = fetch_timeout
        self.verdict = verdict
        self.say = say
        self.host, self.gossip = open_host(ctx, listen=listen, bootstrap=bootstrap, stable=True)
        self.provider_addrs: dict[str, tuple[str, ...]] = {}
        self._busy: set[tuple[int, str]] = set()
        self._redo: set[tuple[int, str]] = set()  # undone by a reorg while being judged
        # Jobs whose audit (or panel) may be drawn soon -> the chain time after which it cannot be.
        self._awaiting_draw: dict[int, float] = {}
        self._reveal_window = 0
        self._compute_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self.judged: list[tuple[int, str, bool, str]] = []

    async def run(self, *, task_status: TaskStatus[VerifierDaemon] = trio.TASK_STATUS_IGNORED) -> None:
        """Stake, start the host, watch the chain and judge until cancelled (holding the home's lock)."""
        with daemon_lock(self.ctx.home):
            await self._run(task_status)

    async def _run(self, task_status: TaskStatus[VerifierDaemon]) -> None:
        ctx = self.ctx
        await ctx.achain.run(ensure_staked, ctx, Role.VERIFIER, say=self.say)
        market = await ctx.achain.run(ctx.chain.market.params)
        self._reveal_window = market.reveal_window
        for line in audit_policy_notes(ctx.config.verifier, market):
            self.say(line)
        confirmations = ctx.config.chain.confirmations
        follower = ctx.chain.follower(ctx.store, name="verifier", confirmations=confirmations)
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(self.host.run))
            await nursery.start(ctx.heads.run)
            self._nursery = nursery
            self.claims = await start_claims(nursery, ctx, self.host, self.gossip)
            nursery.start_soon(self._collect_offers)
            nursery.start_soon(trio.to_thread.run_sync, configure_torch)  # not in the first audit's window
            for audit in await trio.to_thread.run_sync(ctx.store.list_audits):
                if audit.status == "judging" and audit.auditor.startswith(self.auditor):
                    mode = "vote" if audit.auditor.endswith("/panel") else "attest"
                    self._spawn(int(audit.job_id), mode)  # drawn before a restart, not judged yet
            # The follower polls once a block while this node judges or a draw is coming, else slowly.
            busy = lambda: bool(self._busy) or self._expecting_draw(follower)  # noqa: E731
            await nursery.start(
                functools.partial(follower.run, ctx.achain, self._on_chain, heads=ctx.heads, active=busy)
            )
            nursery.start_soon(self._settle_loop)
            task_status.started(self)

    @property
    def auditor(self) -> str:
        return self.ctx.address

    async def _collect_offers(self) -> None:
        async for item in self.gossip.messages(OFFERS_TOPIC):
            try:
                body = OfferBody.from_body(item.envelope.body)
            except ProtocolError:
                continue
            if self.provider_addrs.get(item.envelope.peer_id) != body.addrs:
                # Kept in the store too: a restarted verifier still knows where each provider listens.
                await trio.to_thread.run_sync(self.ctx.store.put_offer, offer_row(item.envelope, body))
            self.provider_addrs[item.envelope.peer_id] = body.addrs

    def _draw_horizon(self, event: DecodedEvent) -> float:
        """The chain time after which ``event``'s job can no longer be drawn without a new event
        (a commit by ``commitBy``, the reveals by their windows; a contest's panel: no bound)."""
        args = event.args
        if event.name in ("JobAccepted", "PrepaidJobOpened"):
            return float(args["commitBy"])
        if event.name == "ResultCommitted":  # the consumer's window, then the provider's
            return float(args["revealBy"]) + self._reveal_window
        if event.name == "ConsumerRevealed":
            return float(args["revealBy"])
        return math.inf

    def _expecting_draw(self, follower: Follower) -> bool:
        """Whether a draw may come in the next blocks (expired expectations are dropped)."""
        now = follower.head.timestamp if follower.head is not None else 0
        self._awaiting_draw = {j: h for j, h in self._awaiting_draw.items() if h >= now}
        return bool(self._awaiting_draw)

    def _draw_for_me(self, event: DecodedEvent) -> str:
        """``attest`` / ``vote`` when ``event`` draws this node for an audit / a panel, else ``""``."""
        me = self.ctx.address.lower()
        if event.contract != "JobMarket":
            return ""
        if event.name == "AuditDrawn" and str(event.args["verifier"]).lower() == me:
            return "attest"
        if event.name == "PanelDrawn" and me in (str(a).lower() for a in event.args["panel"]):
            return "vote"
        return ""

    def _verdict_of_mine(self, event: DecodedEvent) -> str:
        """``attest`` / ``vote`` when ``event`` is this node's own verdict on chain, else ``""``."""
        me = self.ctx.address.lower()
        if event.contract != "JobMarket":
            return ""
        if event.name == "Attested" and str(event.args["verifier"]).lower() == me:
            return "attest"
        if event.name in ("Voted", "BallotCommitted") and str(event.args["member"]).lower() == me:
            return "vote"
        return ""

    async def _on_chain(self, update: FollowUpdate) -> None:
        """The follower's update: undo what a reorg removed (a draw of this node, or its verdict: the
        audit is judged again, on the chain's new state), record and start the new draws."""
        store = self.ctx.store
        for event in update.dropped:
            mode = self._draw_for_me(event) or self._verdict_of_mine(event)
            if mode:
                job_id = int(event.args["jobId"])
                self.say(f"job {job_id}: {event.name} undone by a reorg; judged again on the new chain")
                undone = Audit(job_id=str(job_id), auditor=self._audit_key(mode), status="judging")
                await trio.to_thread.run_sync(store.put_audit, undone)
                if (job_id, mode) in self._busy:
                    self._redo.add((job_id, mode))
                else:
                    self._spawn(job_id, mode)
        if update.fork is not None:
            await self._recheck_verdicts()
        for event in update.events:
            if event.contract == "JobMarket" and event.name in DRAW_PENDING:
                self._awaiting_draw[int(event.args["jobId"])] = self._draw_horizon(event)
            elif event.contract == "JobMarket" and event.name in DRAW_SETTLED:
                self._awaiting_draw.pop(int(event.args["jobId"]), None)
            mode = self._draw_for_me(event)
            if not mode:
                continue
            job_id = int(event.args["jobId"])
            known = await trio.to_thread.run_sync(store.get_audit, str(job_id), self._audit_key(mode))
            if known is None:  # recorded before the follower moves on: a restart resumes it
                drawn = Audit(job_id=str(job_id), auditor=self._audit_key(mode), status="judging")
                await trio.to_thread.run_sync(store.put_audit, drawn)
            self._spawn(job_id, mode)

    async def _recheck_verdicts(self) -> None:
        """After a reorg: a verdict this node recorded that the chain no longer holds (the job is
        back to waiting for it) is judged again, whether or not the follower had seen it."""
        ctx = self.ctx
        for audit in await trio.to_thread.run_sync(ctx.store.list_audits):
            done = ("attested", "voted", "final")
            if audit.status not in done or not audit.auditor.startswith(self.auditor):
                continue
            mode = "vote" if audit.auditor.endswith("/panel") else "attest"
            status = await ctx.achain.run(ctx.chain.market.status_of, int(audit.job_id))
            if status == (JobStatus.AUDITING if mode == "attest" else JobStatus.VOTING):
                again = Audit(job_id=audit.job_id, auditor=audit.auditor, status="judging")
                await trio.to_thread.run_sync(ctx.store.put_audit, again)
                self._spawn(int(audit.job_id), mode)

    def _spawn(self, job_id: int, mode: str) -> None:
        if (job_id, mode) in self._busy or self._nursery is None:
            return
        self._busy.add((job_id, mode))
        self._nursery.start_soon(self._judge, job_id, mode)

    def _audit_key(self, mode: str) -> str:
        return self.auditor if mode == "attest" else f"{self.auditor}/panel"

    async def _judge(self, job_id: int, mode: str) -> None:
        """Judge one drawn audit or panel seat; a failure is this audit's outcome, not the daemon's end."""
        try:
            await self._judge_once(job_id, mode)
        except ContractRevert as err:
            logger.warning("job %s: %s not recorded on chain: %s", job_id, mode, err)
            self.say(f"job {job_id}: {mode} refused by the chain: {err.error_name}")
        except Exception as err:  # trio's serve_listeners habit: one task's failure is its own
            text = f"{type(err).__name__}: {err}"[:500]
            logger.error("job %s: %s failed: %s", job_id, mode, text, exc_info=not isinstance(err, CcmError))
            self.say(f"job {job_id}: {mode} failed here: {text}")
            try:
                failed = Audit(job_id=str(job_id), auditor=self._audit_key(mode), status="error", detail=text)
                await trio.to_thread.run_sync(self.ctx.store.put_audit, failed)
            except Exception as store_err:  # noqa: BLE001 - recording must not end the daemon
                logger.error("job %s: cannot record the failed %s: %s", job_id, mode, store_err)
        finally:
            self._busy.discard((job_id, mode))
            if (job_id, mode) in self._redo:  # its draw was undone meanwhile: judge the new one
                self._redo.discard((job_id, mode))
                self._spawn(job_id, mode)

    async def _judge_once(self, job_id: int, mode: str) -> None:
        ctx = self.ctx
        key = self._audit_key(mode)
        previous = await trio.to_thread.run_sync(ctx.store.get_audit, str(job_id), key)
        if previous is not None and previous.status not in ("judging", "error"):
            return
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        wanted = JobStatus.AUDITING if mode == "attest" else JobStatus.VOTING
        if job.status != wanted:
            return
        indices = await ctx.achain.run(ctx.chain.market.sampled_indices, job_id)
        record = Audit(
            job_id=str(job_id),
            auditor=key,
            status="judging",
            seed="0x" + job.seed.hex(),
            indices=tuple(indices),
        )
        await trio.to_thread.run_sync(ctx.store.put_audit, record)
        what = "auditing" if mode == "attest" else "panel audit of"
        self.say(f"job {job_id}: {what} units {list(indices)}")
        passed, reason = await self.check(job_id)
        if mode == "attest":  # panel votes never go through the policy
            passed, reason = self.verdict(job_id, passed, reason)
        detail = json.dumps({"job_id": job_id, "passed": passed, "reason": reason}, sort_keys=True)
        if mode == "attest":
            evidence = b"\0" * 32 if passed else keccak(detail.encode())
            await ctx.achain.run(
                functools.partial(
                    ctx.chain.market.attest, ctx.account, job_id, passed=passed, evidence_hash=evidence
                )
            )
            status = "attested"
        else:
            await self._commit_ballot(job_id, passed)
            status = "voted"
        verdict = "pass" if passed else "fail"
        self.judged.append((job_id, mode, passed, reason))
        self.say(f"job {job_id}: {mode} {verdict} ({reason})")
        done = Audit(
            job_id=str(job_id),
            auditor=key,
            status=status,
            seed=record.seed,
            indices=record.indices,
            verdict=verdict,
            detail=reason[:2000],
        )
        await trio.to_thread.run_sync(ctx.store.put_audit, done)

    async def _commit_ballot(self, job_id: int, passed: bool) -> None:
        """Commit a hidden ballot. The salt is kept before the transaction and reused if the judgement
        runs again after a crash, so the ballot on chain can always be revealed."""
        ctx = self.ctx
        key = str(job_id)
        kept = await trio.to_thread.run_sync(ctx.store.secrets_of, key, "ballot")
        salt = kept[0][1] if kept else new_secret()
        ballot = ballot_commitment(job_id, ctx.address, passed, salt)
        await trio.to_thread.run_sync(
            functools.partial(ctx.store.put_secret, ballot, salt, job_id=key, purpose="ballot")
        )
        try:
            await ctx.achain.run(ctx.chain.market.commit_vote, ctx.account, job_id, ballot)
        except ContractRevert as err:
            if err.error_name != "JobMarket_AlreadyVoted":
                raise

    async def _reveal_ballot(self, job_id: int, audit: Audit, *, now: int | None = None) -> None:
        """Reveal this member's committed ballot once every seat committed or the vote window is over."""
        ctx = self.ctx
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        if job.status != JobStatus.VOTING:
            return
        if await ctx.achain.run(ctx.chain.market.ballot_of, job_id, ctx.address) != Ballot.COMMITTED:
            return
        if (now if now is not None else await ctx.achain.run(chain_now, ctx.chain)) <= job.deadline:
            panel = await ctx.achain.run(ctx.chain.market.panel_of, job_id)
            ballots = [await ctx.achain.run(ctx.chain.market.ballot_of, job_id, m) for m in set(panel)]
            if any(b == Ballot.PENDING for b in ballots):
                return  # reveal once every seat committed or the vote window is over
        kept = await trio.to_thread.run_sync(ctx.store.secrets_of, audit.job_id, "ballot")
        if not kept:
            logger.error("job %s: ballot committed but its salt is lost; it cannot be revealed", job_id)
            return
        honest = audit.verdict == "pass"
        try:
            await ctx.achain.run(
                functools.partial(
                    ctx.chain.market.reveal_vote, ctx.account, job_id, provider_honest=honest, salt=kept[0][1]
                )
            )
            self.say(f"job {job_id}: ballot revealed ({'honest' if honest else 'cheated'})")
        except ContractRevert as err:
            if err.error_name not in BENIGN_REVERTS:
                raise

    async def check(self, job_id: int) -> tuple[bool, str]:
        """Audit ``job_id``'s sampled units; ``(passed, reason)``. Withholding is a fail.

        "Withheld" is only said once the provider stayed unreachable (or its answers kept breaking
        off) through the rest of the window: each failed try drops the connection, re-reads the
        provider's peer id from the registry and dials its latest known addresses again, with
        backoff, until :data:`ATTEST_MARGIN_S` before the chain's deadline.
        """
        ctx = self.ctx
        job = await ctx.achain.run(ctx.chain.market.job, job_id)
        indices = await ctx.achain.run(ctx.chain.market.sampled_indices, job_id)
        started = trio.current_time()
        delay, tries, last = RETRY_FIRST_S, 0, ""
        while True:
            tries += 1
            # The time left is counted to the block an attestation sent now would land in.
            left = job.deadline - await ctx.achain.run(next_block_time, ctx.chain) - ATTEST_MARGIN_S
            raw_peer = await ctx.achain.run(ctx.chain.registry.peer_id_of, job.provider)
            peer = peer_id_from_bytes(raw_peer)
            if peer is None:
                last = f"provider {job.provider} has no peer id bound on chain"
            else:
                limit = max(1.0, min(self.fetch_timeout, left))
                try:
                    with trio.fail_after(limit):
                        fetched = await self._fetch(job_id, peer, job.spec_hash, indices)
                    break
                except trio.TooSlowError:
                    last = f"no complete answer within {limit:g} s"
                except MALFORMED as err:
                    return False, f"malformed answer: {err}"  # it answered, and not as the protocol says
                except ProtocolError as err:
                    last = str(err)  # unreachable, refused, cut off: perhaps a restart, so try again
                await self.host.forget(peer)
            if job.deadline - await ctx.achain.run(next_block_time, ctx.chain) - ATTEST_MARGIN_S < delay:
                waited = trio.current_time() - started
                return False, f"withheld: {last} ({tries} tries over {waited:.0f} s)"
            logger.info("job %s: provider not answering (%s); retrying in %.1f s", job_id, last, delay)
            await trio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
        if isinstance(fetched, str):
            return False, fetched
        spec, blobs, revealed, refs = fetched
        expected = unit_count(spec)
        if job.n_units != expected:
            return False, f"unit count: {job.n_units} leaves committed, the spec has {expected} units"
        if len(refs) != job.n_units or root_of_units(refs) != job.root:
            return False, "the provider's unit list does not lead to the committed root"

        def recompute() -> tuple[bool, str]:
            from node.workloads.audit import audit_job
            from node.workloads.runner import prepare

            work = prepare(spec, device=self.device, blobs=blobs)
            for i, ref in enumerate(refs):
                want = tuple(work.unit_shape(i))
                if tuple(ref.shape) != want:
                    return False, f"unit {i}: shape {list(ref.shape)} committed, the spec gives {list(want)}"
            try:
                result = audit_job(work, root=job.root, indices=list(indices), revealed=revealed)
            except VerifierError as err:
                return False, f"the revealed units cannot be audited: {err}"
            if result.verdict is not None and not result.passed:
                bad = [f"unit {u.index}: {u.status}" for u in result.verdict.units if u.status != "pass"]
                return False, "; ".join(bad)[:500] or result.reason
            return result.passed, result.reason

        async with self._compute_lock:
            return await trio.to_thread.run_sync(recompute)

    async def _connect(self, peer: str) -> None:
        if self.host.is_connected(peer):
            return
        addrs = list(self.provider_addrs.get(peer, ()))
        stored = await trio.to_thread.run_sync(functools.partial(self.ctx.store.live_offers, now=0))
        addrs += [a for o in stored if o.peer_id == peer for a in json.loads(o.body_json).get("addrs", [])]
        addrs += [a for a in self.host.bootstrap if a.endswith(f"/p2p/{peer}")]
        for addr in dict.fromkeys(addrs):
            try:
                await self.host.connect(addr)
                return
            except ProtocolError as err:
                logger.info("cannot reach %s at %s: %s", peer, addr, err)
        raise ProtocolError(f"provider {peer} is unreachable (no offer or address known)")

    async def _fetch(
        self, job_id: int, peer: str, want_hash: bytes, indices: Sequence[int]
    ) -> tuple[JobSpec, dict[str, bytes], dict[int, RevealedUnit], tuple[UnitRef, ...]] | str:
        from node.workloads.audit import needed_indices

        await self._connect(peer)
        info = await request(self.host, peer, JOBINFO, JobInfoRequest(job_id=job_id))
        spec = parse_spec(info.spec)
        if spec_hash(spec) != want_hash:
            return "the provider's spec does not hash to the on-chain specHash"
        blobs: dict[str, bytes] = {}
        for digest in blob_fields(spec).values():
            await fetch_blob(self.host, peer, self.ctx.blobs, digest)
            blobs[digest] = await trio.to_thread.run_sync(self.ctx.blobs.get, digest)
        needed = needed_indices(indices, needs_prev=needs_prev(spec))
        stream = await self.host.open_stream(peer, AUDIT_PROTOCOL)
        try:
            fs = FrameStream(stream, max_frame=AUDIT_DATA_CHUNK + 65536, timeout=self.fetch_timeout)
            await fs.write_message(AuditRequest(job_id=job_id, indices=tuple(needed)))
            response = await read_audit_response(
                fs, max_unit_bytes=MAX_UNIT_BYTES, max_total_bytes=MAX_AUDIT_BYTES
            )
        finally:
            await close_quietly(stream)
        revealed = {
            u.index: RevealedUnit(
                index=u.index, dtype=u.dtype, shape=tuple(u.shape), data=u.data, proof=u.proof
            )
            for u in response.units
            if u.index in needed
        }
        return spec, blobs, revealed, info.units

    async def _unsettled(self) -> list[Audit]:
        """This verifier's verdicts whose jobs are not final yet."""
        audits = await trio.to_thread.run_sync(self.ctx.store.list_audits)
        return [a for a in audits if a.status in ("attested", "voted") and a.auditor.startswith(self.auditor)]

    async def _settle_loop(self) -> None:
        """Finish what this verifier started: a fail nobody contests, a contest everybody voted on.
        Looked at on every new block while there is any (at its timestamp), else every ``poll`` s."""
        ctx = self.ctx
        head: BlockHeader | None = None
        while True:
            now = head.timestamp if head is not None else None
            for audit in await self._unsettled():
                job_id = int(audit.job_id)
                try:
                    if audit.status == "voted":
                        await self._reveal_ballot(job_id, audit, now=now)
                    step = await ctx.achain.run(
                        functools.partial(advance, ctx.chain, ctx.account, job_id, store=ctx.store, now=now)
                    )
                except CcmError as err:
                    logger.warning("job %s: settlement step failed: %s", job_id, err)
                    continue
                if step.name:
                    self.say(f"job {job_id}: {step.name.replace('_', ' ')} -> {step.status.name}")
                if step.status.terminal:
                    final = Audit(
                        job_id=audit.job_id,
                        auditor=audit.auditor,
                        status="final",
                        seed=audit.seed,
                        indices=audit.indices,
                        verdict=audit.verdict,
                        detail=f"{audit.detail} | job {step.status.name.lower()}"[:2000],
                    )
                    await trio.to_thread.run_sync(ctx.store.put_audit, final)
            if not await self._unsettled():  # (a chain that mines on demand may not mine again)
                head = None
                await trio.sleep(self.poll)
                continue
            try:
                after = head.number if head is not None else None
                head = await ctx.heads.wait(after, at_most=self.poll) or head
            except CcmError as err:
                logger.warning("waiting for a block: %s", err)
                head = None
                await trio.sleep(self.poll)
