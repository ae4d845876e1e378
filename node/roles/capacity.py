"""Capacity challenges over libp2p (``/ccm/capacity/2.0.0``): the provider's server, anyone's client.

The pure logic (inputs from a seed, π from a nonce, the deadline, the verdict with Freivalds) is
:mod:`node.capacity.challenge`; this module moves it over one stream, in two phases so that the
timed window holds the matmul and not the building of its inputs::

    challenger                                   provider
    ── ping ×3 on the connection (round trip, not counted) ──▶
       ── CapacityRequest (seed, n, deadline…) ─────────────▶  A, B0 from the seed on its device
                                                               (worker thread; untimed, bounded)
       ◀── CapacityReady ──────────────────────────────────
    t0 ── CapacityNonce (fresh 32 random bytes) ─────────────▶  π and the digest keys from the nonce;
                                                               C = A·B0[π] and its digest, both
                                                               on the device
    t1 ◀── CapacityDigest (32 bytes, size of C) ────────────
       ◀── C as data frames (outside the timed window) ──────
    judge(): digest matches C, Freivalds passes, t1 - t0 ≤ deadline, achieved/advertised ≥ threshold

The challenger's clock is the only one that counts; the provider's ``prepare_ms`` and
``compute_ms`` are informational. Version 1 (one phase, inputs built inside the window) is gone:
on a CPU it showed an honest provider 0.15-0.45 of its probe figure (``scripts/bench capacity``).
The challenge names its dtype (fp32, TF32, bf16, fp16); C travels in that dtype.

Outcomes (client side, :func:`challenge_peer`): every answer, and every *failure to answer* (not
ready within :func:`~node.capacity.challenge.prepare_timeout_s` plus the queue allowance, no digest
before the deadline plus a grace period, a refusal, a broken stream, a malformed answer), is a
:class:`~node.capacity.challenge.ChallengeResult` — a provider that shows nothing fails. The one
exception is a ``busy`` refusal (another challenge is running, or a job held the device for longer
than the server's ``lock_wait_s``): it raises :class:`CapacityBusy` and nothing is recorded; the
peer simply stays unverified until a later challenge, and unverified offers rank below verified
ones anyway, so saying "busy" buys a provider nothing.

Server side (:class:`CapacityServer`): one challenge at a time. A challenge is answered while the
provider serves jobs, without failing either: the inputs are built beside a running job (untimed),
then the challenge queues for the daemon's compute lock (so the timed matmul never runs beside a
job's computation, and a job waits for the few seconds of one challenge) and holds it from "ready"
to the digest; sizes above ``max_n`` are refused (``too_large``) so that a stranger cannot make the
provider compute for minutes; a malformed challenge is refused (``bad_challenge``); a challenger
that sends no nonce within :data:`NONCE_TIMEOUT_S` of "ready" (so cannot hold the lock), a nonce for
another challenge, or anything else breaking the framing is disconnected by
:func:`node.p2p.reqresp.guard`. How the timed phase is answered is a strategy (``answerer``); the
daemon uses the honest one, tests inject cheaters.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

import trio

from node.capacity.challenge import (
    DEFAULT_NETWORK_ALLOWANCE_S,
    DEFAULT_THRESHOLD,
    CapacityAnswer,
    CapacityChallenge,
    ChallengeResult,
    PreparedInputs,
    challenge_size,
    from_host_bytes,
    host_bytes,
    judge,
    new_challenge,
    new_nonce,
    prepare,
    prepare_timeout_s,
    result_size,
    unanswered,
)
from node.capacity.errors import CapacityError, ChallengeError
from node.errors import ProtocolError
from node.p2p.codec import FrameStream, FrameTimeoutError, RemoteError
from node.p2p.host import DialError, Host
from node.p2p.messages import CAPACITY_PROTOCOL
from node.p2p.reqresp import RequestRefused, close_quietly, guard
from node.roles.wire import (
    CAPACITY_CHUNK,
    CAPACITY_MAX_FRAME,
    CapacityDigest,
    CapacityNonce,
    CapacityReady,
    CapacityRequest,
)

logger = logging.getLogger(__name__)

DEFAULT_SERVER_MAX_N = 8192
"""Largest challenge a provider computes (C is 256 MiB at this size in fp32)."""

DEFAULT_CLIENT_MAX_N = 4096
"""Largest challenge a challenger sends unless told otherwise (C is 64 MiB in fp32)."""

DEFAULT_GRACE_S = 5.0
"""Seconds a challenger waits past the deadline before it stops waiting (a late answer is still judged)."""

NONCE_TIMEOUT_S = 10.0
"""Seconds a provider waits, holding its compute lock, for the nonce after saying "ready"."""

DEFAULT_LOCK_WAIT_S = 60.0
"""Seconds a challenge queues for the compute lock behind a running job before the provider says
``busy``; a challenger waits this long for "ready" on top of the time to build the inputs."""

Answerer = Callable[[PreparedInputs, bytes], CapacityAnswer]
"""The timed phase: given the prepared inputs and the nonce, the answer (digest and C)."""


def honest_answer(prepared: PreparedInputs, nonce: bytes) -> CapacityAnswer:
    """What the provider daemon does: :meth:`PreparedInputs.answer`."""
    return prepared.answer(nonce)


class CapacityBusy(CapacityError):
    """The provider refused the challenge as busy; nothing is recorded (see the module docstring)."""


def request_of(challenge: CapacityChallenge) -> CapacityRequest:
    """The wire form of ``challenge``."""
    return CapacityRequest(
        seed=challenge.seed, n=challenge.n, advertised_gflops=challenge.advertised_gflops,
        deadline_ms=challenge.deadline_ms, threshold=challenge.threshold,
        max_network_s=challenge.max_network_s, dtype=challenge.dtype, schema=challenge.schema,
    )


def challenge_of(req: CapacityRequest) -> CapacityChallenge:
    """The challenge a request carries; its own checks raise :class:`ChallengeError`."""
    return CapacityChallenge(
        seed=req.seed, n=req.n, advertised_gflops=req.advertised_gflops, deadline_ms=req.deadline_ms,
        threshold=req.threshold, max_network_s=req.max_network_s, dtype=req.dtype, schema=req.schema,
    )


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; anything else unchanged (blocking)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class CapacityServer:
    """Answers capacity challenges on a host (see the module docstring for the policy).

    ``device``: where C is computed (``auto``, ``cpu``, ``cuda``, ``cuda:N``); ``lock``: shared with
    the daemon's job computation (a challenge queues for it up to ``lock_wait_s``, then says
    ``busy``); ``max_n``: largest size computed; ``nonce_timeout_s``: how long the lock is held
    waiting for the nonce after "ready"; ``answerer``: the timed phase (default
    :func:`honest_answer`). ``answered`` counts answers sent, ``waited`` the challenges that queued
    behind a job.
    """

    def __init__(
        self,
        *,
        device: str = "auto",
        lock: trio.Lock | None = None,
        max_n: int = DEFAULT_SERVER_MAX_N,
        nonce_timeout_s: float = NONCE_TIMEOUT_S,
        lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
        answerer: Answerer = honest_answer,
    ) -> None:
        self.device = device
        self.lock = lock if lock is not None else trio.Lock()
        self.max_n = max_n
        self.nonce_timeout_s = nonce_timeout_s
        self.lock_wait_s = lock_wait_s
        self.answerer = answerer
        self._one = trio.Lock()
        self.answered = 0
        self.waited = 0

    def register(self, host: Host) -> None:
        """Serve :data:`~node.p2p.messages.CAPACITY_PROTOCOL` on ``host``."""
        host.set_handler(
            CAPACITY_PROTOCOL,
            guard(host, CAPACITY_PROTOCOL, self._on_stream, max_frame=CAPACITY_MAX_FRAME, timeout=30.0),
        )

    async def _on_stream(self, peer: str, fs: FrameStream) -> None:
        req = await fs.read_message(CapacityRequest, max_size=4096)
        try:
            challenge = challenge_of(req)
        except ChallengeError as err:
            raise RequestRefused("bad_challenge", str(err)) from None
        if challenge.n > self.max_n:
            raise RequestRefused("too_large", f"n={challenge.n} exceeds this provider's limit {self.max_n}")
        try:
            self._one.acquire_nowait()
        except trio.WouldBlock:
            raise RequestRefused("busy", "another capacity challenge is running; try again later") from None
        try:
            await self._serve(peer, fs, challenge)
        finally:
            self._one.release()

    async def _serve(self, peer: str, fs: FrameStream, challenge: CapacityChallenge) -> None:
        prepared = await trio.to_thread.run_sync(
            functools.partial(prepare, challenge, device=resolve_device(self.device))
        )
        if self.lock.locked():
            self.waited += 1
            logger.info("capacity challenge from %s queues behind a running job", peer)
        acquired = False
        with trio.move_on_after(self.lock_wait_s):
            await self.lock.acquire()
            acquired = True
        if not acquired:
            raise RequestRefused("busy", f"computing a job for more than {self.lock_wait_s:g} s; try later")
        try:
            prepare_ms = round(prepared.prepare_s * 1000)
            await fs.write_message(CapacityReady(challenge_id=challenge.challenge_id, prepare_ms=prepare_ms))
            msg = await fs.read_message(CapacityNonce, max_size=4096, timeout=self.nonce_timeout_s)
            if msg.challenge_id != challenge.challenge_id:
                raise ProtocolError(f"nonce for another challenge {msg.challenge_id[:18]!r}")
            answer = await trio.to_thread.run_sync(self.answerer, prepared, msg.nonce)
        finally:
            self.lock.release()
        await fs.write_message(
            CapacityDigest(
                challenge_id=challenge.challenge_id, digest=answer.digest, size=result_size(challenge),
                compute_ms=round(answer.compute_s * 1000),
            )
        )
        # The timed window is over: copying C to the host and sending it no longer count.
        view = memoryview(await trio.to_thread.run_sync(host_bytes, answer.c))
        for start in range(0, len(view), CAPACITY_CHUNK):
            await fs.write_data(bytes(view[start : start + CAPACITY_CHUNK]))
        self.answered += 1
        logger.info(
            "capacity challenge n=%d %s from %s: inputs in %.3f s (untimed), answered in %.3f s",
            challenge.n, challenge.dtype, peer, prepared.prepare_s, answer.compute_s,
        )


async def _round_trip(host: Host, peer_id: str, *, tries: int = 3) -> float:
    """The best of a few libp2p pings to ``peer_id`` (0 when pings fail: nothing is excused then)."""
    best: float | None = None
    for _ in range(tries):
        try:
            rtt = await host.ping(peer_id, timeout=2.0)
        except DialError as err:
            logger.info("ping to %s failed: %s", peer_id, err)
            continue
        best = rtt if best is None else min(best, rtt)
    return best or 0.0


async def challenge_peer(
    host: Host,
    peer_id: str,
    *,
    advertised_gflops: int,
    n: int | None = None,
    max_n: int = DEFAULT_CLIENT_MAX_N,
    dtype: str = "float32",
    threshold: float = DEFAULT_THRESHOLD,
    network_allowance_s: float = DEFAULT_NETWORK_ALLOWANCE_S,
    grace_s: float = DEFAULT_GRACE_S,
    prepare_timeout: float | None = None,
    queue_timeout_s: float = DEFAULT_LOCK_WAIT_S,
    transfer_timeout_s: float = 120.0,
) -> ChallengeResult:
    """Challenge ``peer_id`` (already connected) on the figure it advertises in ``dtype`` and judge.

    ``n`` defaults to :func:`~node.capacity.challenge.challenge_size` of the figure, capped at
    ``max_n``. Waiting is bounded: "ready" by ``prepare_timeout`` (default
    :func:`~node.capacity.challenge.prepare_timeout_s` of ``n`` plus ``queue_timeout_s``, the time
    the provider may queue the challenge behind a running job), the digest by the deadline plus
    ``grace_s``, C by ``transfer_timeout_s``. Raises :class:`CapacityBusy` on a ``busy`` refusal and
    :class:`ChallengeError` on arguments out of range; every other outcome is a result.
    """
    size = n if n is not None else min(challenge_size(max(1, advertised_gflops)), max_n)
    challenge = new_challenge(
        advertised_gflops=max(1, advertised_gflops), n=size, threshold=threshold,
        network_allowance_s=network_allowance_s, dtype=dtype,
    )
    ready_s = prepare_timeout_s(size) + queue_timeout_s if prepare_timeout is None else prepare_timeout
    network_s = await _round_trip(host, peer_id)
    wait_s = challenge.deadline_ms / 1000 + grace_s
    start = time.perf_counter()
    try:
        stream = await host.open_stream(peer_id, CAPACITY_PROTOCOL)
    except DialError as err:
        reason = f"cannot open {CAPACITY_PROTOCOL}: {err}"
        return unanswered(challenge, reason, elapsed_s=time.perf_counter() - start)
    timed = False
    try:
        fs = FrameStream(stream, max_frame=CAPACITY_MAX_FRAME, timeout=wait_s)
        await fs.write_message(request_of(challenge))
        ready = await fs.read_message(CapacityReady, max_size=4096, timeout=ready_s)
        if ready.challenge_id != challenge.challenge_id:
            return unanswered(
                challenge, f"wrong result: ready for another challenge {ready.challenge_id[:10]}…",
                elapsed_s=time.perf_counter() - start,
            )
        nonce = new_nonce()
        timed = True
        start = time.perf_counter()
        await fs.write_message(CapacityNonce(challenge_id=challenge.challenge_id, nonce=nonce))
        head = await fs.read_message(CapacityDigest, max_size=4096, timeout=wait_s)
        elapsed = time.perf_counter() - start
        expected = result_size(challenge)
        if head.challenge_id != challenge.challenge_id or head.size != expected:
            return unanswered(
                challenge, f"wrong result: answer is for {head.challenge_id[:10]}…, {head.size} bytes "
                f"(expected {expected})", elapsed_s=elapsed,
            )
        buf = bytearray()
        with trio.fail_after(transfer_timeout_s):
            while len(buf) < expected:
                chunk = await fs.read_data(
                    max_size=min(CAPACITY_CHUNK, expected - len(buf)), timeout=transfer_timeout_s
                )
                if not chunk:
                    raise ProtocolError("empty data frame")
                buf += chunk
    except FrameTimeoutError:
        if not timed:
            reason = f"not ready within {ready_s:.1f} s (building the inputs, untimed)"
        else:
            reason = f"no answer within {wait_s:.1f} s (deadline {challenge.deadline_ms / 1000:.3f} s)"
        return unanswered(challenge, reason, elapsed_s=time.perf_counter() - start)
    except trio.TooSlowError:
        reason = f"C not received within {transfer_timeout_s:g} s"
        return unanswered(challenge, reason, elapsed_s=time.perf_counter() - start)
    except RemoteError as err:
        if err.code == "busy":
            raise CapacityBusy(f"provider {peer_id} is busy: {err.message}") from None
        reason = f"refused: {err.code}: {err.message}"
        return unanswered(challenge, reason, elapsed_s=time.perf_counter() - start)
    except ProtocolError as err:
        return unanswered(challenge, f"broken answer: {err}", elapsed_s=time.perf_counter() - start)
    finally:
        await close_quietly(stream)
    return await trio.to_thread.run_sync(
        functools.partial(_judge_bytes, challenge, nonce, head.digest, bytes(buf), elapsed, network_s)
    )


def _judge_bytes(
    challenge: CapacityChallenge, nonce: bytes, digest: bytes, data: bytes, elapsed_s: float, network_s: float
) -> ChallengeResult:
    c = from_host_bytes(challenge, data)
    return judge(challenge, digest=digest, c=c, elapsed_s=elapsed_s, network_s=network_s, nonce=nonce)
