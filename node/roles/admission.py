"""Admission control: what a provider checks before it accepts a job on chain (and so puts up collateral).

A job accepted and then not delivered costs the provider its collateral, so everything that can be
known before ``acceptJob`` is checked first, and a job that fails any check is refused with a reason.
No unit is computed while a job is being admitted, and nothing is fetched or built before every
limit that the spec's numbers tell has passed: a spec over the caps costs the provider arithmetic on
its numbers, its blobs cost at most the byte cap.

1. the spec's figures, from the spec alone (:func:`check_spec`: units, bytes of inputs + outputs,
   working memory of one unit — the kind's :class:`~node.workloads.jobkinds.Footprint`) against
   the spec's limits lowered by the provider's caps;
2. the input blobs are fetched from the consumer, with retries, each refused once announced larger
   than the byte cap (:func:`fetch_inputs`), so a blob that is never served is a refusal, not a
   default; the figures the blobs tell (an ``llm`` job's weight bytes) are held again, and an
   ``llm`` job's model against the advert (:func:`check_served`: its family and size, read from the
   config and the safetensors headers, must be ones the offer says this provider serves, else
   :class:`ModelNotServed`);
3. the time, estimated from the job's arithmetic and this provider's speed for its kind (the
   probe's figure for the dtype until a job of the kind has run here, then the speed measured on
   it: :func:`admit`); the estimate, plus what is queued ahead of it, must fit the spec's (and the
   provider's) time limit and the job's commit deadline (:func:`fits_deadline`);
4. only then is the workload built from the inputs (:func:`check_inputs`, no unit computed): a blob
   of the wrong size or weights of the wrong shapes are refused here, not defaulted on later, and
   what only the inputs tell (an ``llm`` job's prompts, model config, working memory) is held.

:class:`ProposalLimiter` bounds how many proposals one peer may send per second (a flood is refused
before any of the work above is done).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import trio

from node.blobs import BlobStore
from node.errors import CcmError, JobSpecError, ProtocolError
from node.p2p.blob import DEFAULT_MAX_BLOB, fetch_blob
from node.p2p.codec import RemoteError, SchemaError
from node.p2p.host import Host
from node.progress import Progress
from node.workloads.jobkinds import Footprint
from node.workloads.jobkinds.llm import LlmSpec
from node.workloads.llm_files import ModelCard, ModelsServed, model_card
from node.workloads.spec import JobSpec, blob_fields

if TYPE_CHECKING:  # the runner imports torch
    from node.workloads.runner import ProviderCaps

logger = logging.getLogger(__name__)

DEADLINE_SAFETY = 2.0
"""The estimate is multiplied by this before it is held against the commit deadline."""

COMMIT_MARGIN_S = 10.0
"""Seconds kept free before the commit deadline for saving the outputs and the commit transaction."""

UNIT_OVERHEAD_S = 0.005
"""Seconds a unit costs beyond its arithmetic (the call, the copy to host, hashing), for estimates."""


class Refused(CcmError):
    """A job this provider will not accept; ``reason`` goes back to the consumer."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ModelNotServed(Refused):
    """An ``llm`` job whose model is outside this provider's advert; ``card`` is what the job named."""

    def __init__(self, reason: str, card: ModelCard) -> None:
        self.card = card
        super().__init__(reason)


def check_served(spec: JobSpec, blobs: Mapping[str, bytes], served: ModelsServed) -> None:
    """Raise :class:`ModelNotServed` when ``spec`` is an llm job whose model (family, parameters,
    weight bytes) the advert ``served`` does not cover; other kinds pass. No torch."""
    if not isinstance(spec.body, LlmSpec):
        return
    try:
        card = model_card({name: blobs[digest] for name, digest in spec.body.files})
    except JobSpecError as err:
        raise Refused(f"invalid model: {err}") from None
    reason = served.refusal(card)
    if reason is not None:
        raise ModelNotServed(reason, card)


@dataclass(frozen=True)
class Estimate:
    """What one job will take here: ``n_units`` units at ``unit_s`` measured seconds each."""

    n_units: int
    unit_s: float

    @property
    def seconds(self) -> float:
        return self.n_units * self.unit_s


async def fetch_inputs(
    host: Host,
    peer: str,
    store: BlobStore,
    spec: JobSpec,
    *,
    attempts: int = 4,
    backoff: float = 0.5,
    timeout: float = 10.0,
    max_size: int = DEFAULT_MAX_BLOB,
    label: str = "job",
    progress_stream: TextIO | None = None,
) -> dict[str, bytes]:
    """The spec's input blobs, fetched from ``peer`` where missing (each transfer retried with backoff,
    resuming partial copies; a blob announced larger than ``max_size`` is refused before any of it
    is read); raises :class:`Refused` naming the blob that could not be had.

    Transfers show progress in bytes (:mod:`node.progress`: a bar on a terminal, plain lines when
    piped; ``progress_stream`` overrides stderr), described as ``"<label>: N inputs"``; the total
    grows as each blob announces its size.
    """
    fields = blob_fields(spec)
    missing = sum(1 for digest in fields.values() if not store.has(digest))
    with contextlib.ExitStack() as stack:
        shown = None
        if missing:
            title = f"{label}: {missing} input{'s' if missing > 1 else ''}"
            shown = stack.enter_context(Progress(title, unit="bytes", stream=progress_stream))
        return await _fetch_each(host, peer, store, fields, shown, attempts, backoff, timeout, max_size)


async def _fetch_each(
    host: Host,
    peer: str,
    store: BlobStore,
    fields: Mapping[str, str],
    shown: Progress | None,
    attempts: int,
    backoff: float,
    timeout: float,
    max_size: int,
) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    done = total = 0
    for field, digest in fields.items():
        delay = backoff
        sized: list[int] = []

        def report(
            got: int, size: int, base: int = done, known: int = total, seen: list[int] = sized
        ) -> None:
            if not seen:
                seen.append(size)
            if shown is not None:
                shown.update(base + got, known + seen[0])

        for attempt in range(1, attempts + 1):
            if store.has(digest):
                break
            try:
                await fetch_blob(
                    host, peer, store, digest, timeout=timeout, max_size=max_size, on_progress=report
                )
                break
            except (RemoteError, SchemaError) as err:
                raise Refused(f"input {field} (blob {digest[:16]}…) not served: {err}") from None
            except ProtocolError as err:
                logger.info("blob %s: attempt %d of %d failed: %s", digest[:12], attempt, attempts, err)
                if attempt == attempts:
                    raise Refused(
                        f"input {field} (blob {digest[:16]}…) not received after {attempts} tries: {err}"
                    ) from None
                await trio.sleep(delay)
                delay *= 2
        blobs[digest] = await trio.to_thread.run_sync(store.get, digest)
        if sized:
            done, total = done + sized[0], total + sized[0]
    return blobs


def check_spec(spec: JobSpec, *, caps: ProviderCaps, blobs: Mapping[str, bytes] | None = None) -> Footprint:
    """Hold ``spec``'s footprint (with the sizes of ``blobs``, once fetched) against its limits lowered
    by ``caps`` (the provider's :class:`~node.workloads.runner.ProviderCaps`); nothing is built.
    Raises :class:`Refused` naming the limit."""
    from node.workloads.runner import check_footprint, effective_limits, spec_footprint

    fp = spec_footprint(spec, blobs)
    try:
        check_footprint(fp, effective_limits(spec.limits, caps))
    except CcmError as err:
        raise Refused(f"over a limit: {err}") from None
    return fp


def admit(spec: JobSpec, blobs: Mapping[str, bytes], *, caps: ProviderCaps, flops_per_s: float) -> Estimate:
    """Check ``spec`` with its fetched ``blobs`` (:func:`check_spec`) and estimate its time here from its
    arithmetic at ``flops_per_s`` (this provider's speed for the kind); :class:`Refused` when the
    estimate is over the time limit. Nothing is built or computed."""
    from node.workloads.runner import effective_limits

    fp = check_spec(spec, caps=caps, blobs=blobs)
    estimate = Estimate(n_units=fp.n_units, unit_s=fp.unit_flops / max(flops_per_s, 1.0) + UNIT_OVERHEAD_S)
    limit = effective_limits(spec.limits, caps).max_seconds
    if estimate.seconds > limit:
        raise Refused(
            f"needs about {estimate.seconds:.1f} s here ({fp.n_units} units of {estimate.unit_s:.3f} s), "
            f"over the time limit of {limit:g} s"
        )
    return estimate


def check_inputs(spec: JobSpec, blobs: Mapping[str, bytes], *, caps: ProviderCaps, device: str) -> None:
    """Build ``spec``'s workload from its fetched ``blobs`` (blocking: a worker thread) to see that its
    inputs are what the spec says (raw blobs of the right size, weights of the model's shapes, an
    ``llm`` job's files, prompts and working memory); nothing is computed. Only called once every
    check from the numbers passed, so what it allocates is within the provider's caps.
    Raises :class:`Refused`."""
    from node.workloads.runner import check_limits, effective_limits, prepare

    try:
        check_limits(prepare(spec, device=device, blobs=blobs), effective_limits(spec.limits, caps))
    except CcmError as err:
        raise Refused(f"over a limit or not runnable here: {err}") from None
    except (RuntimeError, MemoryError, ValueError) as err:  # torch's errors (CUDA out of memory …)
        raise Refused(f"cannot run here: {type(err).__name__}: {str(err)[:200]}") from None


def fits_deadline(estimate: Estimate, *, queued_s: float, now: float, commit_by: int) -> None:
    """Raise :class:`Refused` unless the job, after ``queued_s`` seconds of work ahead of it, can be
    computed and committed before ``commit_by`` (with :data:`DEADLINE_SAFETY` and :data:`COMMIT_MARGIN_S`)."""
    needed = (queued_s + estimate.seconds) * DEADLINE_SAFETY + COMMIT_MARGIN_S
    left = commit_by - now
    if needed > left:
        raise Refused(
            f"cannot commit in time: about {needed:.0f} s needed (this job {estimate.seconds:.1f} s, "
            f"{queued_s:.1f} s queued ahead, with margin), {max(0.0, left):.0f} s left before the deadline"
        )


PROPOSAL_RATE = 5.0
"""Proposals per second one peer may send on average (a consumer submitting many jobs at once stays under)."""
PROPOSAL_BURST = 20
"""Proposals one peer may send at once before the rate applies."""


class ProposalLimiter:
    """A token bucket per peer: ``rate`` proposals per second, bursts of ``burst``."""

    def __init__(
        self, *, rate: float = PROPOSAL_RATE, burst: int = PROPOSAL_BURST, max_peers: int = 4096
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_peers = max_peers
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, peer: str, *, now: float | None = None) -> bool:
        """Take one token for ``peer``; False when its bucket is empty (the proposal is refused)."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(peer, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if len(self._buckets) >= self.max_peers and peer not in self._buckets:
            self._buckets.clear()  # bounded memory: forgetting every bucket only ever lets more through
        if tokens < 1.0:
            self._buckets[peer] = (tokens, now)
            return False
        self._buckets[peer] = (tokens - 1.0, now)
        return True
