"""What a role daemon can be given instead of its honest behaviour: a compute strategy, a verdict policy.

The daemons hold no test switches. A provider computes with a :data:`ComputeStrategy` (default
:func:`honest_compute`) and a verifier attests through a :data:`VerdictPolicy` (default
:func:`honest_verdict`); tests and the demo pass other objects in:

* :class:`Corrupting` — FOR TESTS AND THE DEMO: a provider that corrupts a fraction of every job's
  units (the ``corrupt`` cheat model of :mod:`node.workloads.cheats`, or per kind another of that
  kind's cheats, e.g. ``llm``: ``drop_layer``) and commits to what it made;
* :class:`Overriding` — FOR TESTS: a verifier that attests one verdict whatever its audit found
  (a false accusation that the panel must overturn). Panel votes never go through the policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.workloads.runner import Output, ProviderCaps
    from node.workloads.spec import JobSpec

logger = logging.getLogger(__name__)

ComputeStrategy = Callable[
    [int, "JobSpec", Mapping[str, bytes], str, "ProviderCaps"], tuple[bytes, list["Output"]]
]
"""``(job_id, spec, blobs, device, caps) -> (root, outputs)``; called in a worker thread."""

VerdictPolicy = Callable[[int, bool, str], tuple[bool, str]]
"""``(job_id, passed, reason) -> (passed, reason)``: what a verifier attests after its audit."""


def honest_compute(
    job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
) -> tuple[bytes, list[Output]]:
    """Every unit, computed as the spec says, under the provider's caps."""
    from node.workloads.runner import run_job

    result = run_job(spec, device=device, blobs=blobs, caps=caps)
    return result.root, list(result.outputs)


def honest_verdict(job_id: int, passed: bool, reason: str) -> tuple[bool, str]:
    """The audit's own verdict."""
    return passed, reason


@dataclass(frozen=True)
class Corrupting:
    """FOR TESTS AND THE DEMO: corrupt ``fraction`` (e.g. ``"1/2"``) of every job's units, with the
    ``corrupt`` cheat model, or for a kind named in ``by_kind`` (``(("llm", "drop_layer"),)``) with
    that cheat (one of the kind's own, :attr:`node.workloads.jobkinds.Kind.cheats`)."""

    fraction: str
    by_kind: tuple[tuple[str, str], ...] = ()

    def __call__(
        self, job_id: int, spec: JobSpec, blobs: Mapping[str, bytes], device: str, caps: ProviderCaps
    ) -> tuple[bytes, list[Output]]:
        from node.workloads.cheats import Cheat, run_dishonest

        name = dict(self.by_kind).get(spec.kind, "corrupt")
        cheat = Cheat(name, fraction=self.fraction, seed=job_id)
        dishonest = run_dishonest(spec, cheat, device=device, blobs=blobs)
        logger.warning(
            "CHEATING (test strategy): job %s, %d units %s", job_id, len(dishonest.cheated), name
        )
        return dishonest.root, list(dishonest.committed)


@dataclass(frozen=True)
class Overriding:
    """FOR TESTS: attest ``passed`` whatever the audit found."""

    passed: bool

    def __call__(self, job_id: int, passed: bool, reason: str) -> tuple[bool, str]:
        return self.passed, f"TEST OVERRIDE (true verdict: {passed}, {reason})"
