"""Admission control: what a provider checks before it accepts a job on chain (and so puts up collateral).

A job accepted and then not delivered costs the provider its collateral, so everything that can be
known before ``acceptJob`` is checked first, and a job that fails any check is refused with a reason:

1. the spec's unit count against ``provider.max_units``;
2. the input blobs are fetched from the consumer, with retries (:func:`fetch_inputs`), so a blob that
   is never served is a refusal, not a default;
3. the workload is built on this provider's device and every limit that can be predicted from it is
   held against the spec's limits lowered by the provider's caps (:func:`admit`: units, bytes of
   inputs + outputs, working memory of one unit);
   (before that, an ``llm`` job's model is held against the advert, :func:`check_served`: its
   family and size, read from the config and the safetensors headers, must be ones the offer says
   this provider serves, else :class:`ModelNotServed`);
4. the time: unit 0 is computed once and timed (the provider's measured speed for this very job);
   the estimate for all units, plus what is queued ahead of it, must fit the spec's (and the
   provider's) time limit and the job's commit deadline (:func:`fits_deadline`).

:class:`ProposalLimiter` bounds how many proposals one peer may send per second (a flood is refused
before any of the work above is done).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import trio

from node.blobs import BlobStore
from node.errors import CcmError, JobSpecError, ProtocolError
from node.p2p.blob import fetch_blob
from node.p2p.codec import RemoteError, SchemaError
from node.p2p.host import Host
from node.workloads.jobkinds.llm import LlmSpec
from node.workloads.llm_files import ModelCard, ModelsServed, model_card
from node.workloads.spec import JobSpec, blob_fields

logger = logging.getLogger(__name__)

DEADLINE_SAFETY = 2.0
"""The estimate is multiplied by this before it is held against the commit deadline."""

COMMIT_MARGIN_S = 10.0
"""Seconds kept free before the commit deadline for saving the outputs and the commit transaction."""


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
) -> dict[str, bytes]:
    """The spec's input blobs, fetched from ``peer`` where missing (each transfer retried with backoff,
    resuming partial copies); raises :class:`Refused` naming the blob that could not be had."""
    blobs: dict[str, bytes] = {}
    for field, digest in blob_fields(spec).items():
        delay = backoff
        for attempt in range(1, attempts + 1):
            if store.has(digest):
                break
            try:
                await fetch_blob(host, peer, store, digest, timeout=timeout)
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
    return blobs


def admit(spec: JobSpec, blobs: Mapping[str, bytes], *, caps: object, device: str) -> Estimate:
    """Build ``spec``'s workload, check its predictable limits, time unit 0 (blocking: a worker thread).

    ``caps``: the provider's :class:`~node.workloads.runner.ProviderCaps`. Raises :class:`Refused`
    for a job over a limit, or one whose first unit cannot be computed here at all.
    """
    from node.workloads.runner import ProviderCaps, check_limits, effective_limits, prepare
    from verifier.tensorbytes import tensor_to_bytes

    assert isinstance(caps, ProviderCaps)
    limits = effective_limits(spec.limits, caps)
    try:
        work = prepare(spec, device=device, blobs=blobs)
        check_limits(work, limits)
        started = time.perf_counter()
        tensor_to_bytes(work.compute(0, None))
        unit_s = time.perf_counter() - started
    except CcmError as err:
        raise Refused(f"over a limit or not runnable here: {err}") from None
    except (RuntimeError, MemoryError, ValueError) as err:  # torch's errors (CUDA out of memory …)
        raise Refused(f"cannot run here: {type(err).__name__}: {str(err)[:200]}") from None
    estimate = Estimate(n_units=work.n_units, unit_s=unit_s)
    if estimate.seconds > limits.max_seconds:
        raise Refused(
            f"needs about {estimate.seconds:.1f} s here ({work.n_units} units of {unit_s:.3f} s), "
            f"over the time limit of {limits.max_seconds:g} s"
        )
    return estimate


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
