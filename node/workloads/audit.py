"""Audits of workload jobs: what the provider reveals, how a verifier recomputes, the verdict.

Provider side: :func:`reveal` returns the sampled units' exact bytes with their Merkle proofs;
for ``train`` it adds unit ``i-1`` for every sampled ``i`` (the committed checkpoint the segment
starts from). Verifier side: :func:`make_recompute` gives :func:`verifier.audit.audit` the
callable that recomputes unit ``i`` alone on this node; for ``train`` it first checks the revealed
previous checkpoint against the committed root (leaf + proof) and its dtype and shape, and starts
from those bytes — so a verifier never has to replay the job from step 1 and never trusts the
provider's copy. A previous checkpoint that is missing or not proven fails the audit.

A kind with its own audit check (``llm``: :meth:`Workload.audit_check`, one teacher-forced pass
over the revealed tokens) is checked with it instead of a recompute.

:func:`audit_job` ties it together for callers (the verifier role, tests, the bench).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from node.errors import WorkloadError
from node.workloads.kinds import Workload
from node.workloads.runner import Output
from verifier.audit import RevealedUnit, Verdict, audit
from verifier.commitment import MerkleTree, unit_leaf, verify_proof
from verifier.tensorbytes import tensor_from_bytes


class UnprovenCheckpoint(WorkloadError):
    """A train audit got a previous checkpoint that is missing, malformed or not under the root."""


def needed_indices(indices: Sequence[int], *, needs_prev: bool) -> list[int]:
    """The units a provider must reveal for ``indices`` (plus each ``i-1`` for train), sorted."""
    out = set(indices)
    if needs_prev:
        out |= {i - 1 for i in indices if i > 0}
    return sorted(out)


def reveal(
    outputs: Sequence[Output], tree: MerkleTree, indices: Sequence[int], *, needs_prev: bool
) -> dict[int, RevealedUnit]:
    """Provider side: the revealed units (bytes + proof) for a challenge, by index."""
    units: dict[int, RevealedUnit] = {}
    for i in needed_indices(indices, needs_prev=needs_prev):
        dtype, shape, data = outputs[i]
        units[i] = RevealedUnit(
            index=i, dtype=dtype, shape=tuple(shape), data=data, proof=tuple(tree.proof(i))
        )
    return units


def proven_checkpoint(
    work: Workload, index: int, *, root: bytes, revealed: Mapping[int, RevealedUnit]
) -> torch.Tensor:
    """The revealed checkpoint that train unit ``index`` starts from (unit ``index-1``), proven.

    Raises :class:`UnprovenCheckpoint` if it was not revealed, has the wrong dtype or shape, or its
    leaf and proof do not lead to ``root``.
    """
    u = revealed.get(index - 1)
    if u is None:
        raise UnprovenCheckpoint(f"train unit {index}: the checkpoint of unit {index - 1} was not revealed")
    if u.dtype != "float32" or tuple(u.shape) != work.unit_shape(index - 1):
        raise UnprovenCheckpoint(f"train unit {index}: checkpoint {index - 1} has the wrong dtype or shape")
    if not verify_proof(unit_leaf(index - 1, u.dtype, u.shape, u.data), list(u.proof), root):
        raise UnprovenCheckpoint(
            f"train unit {index}: checkpoint {index - 1} does not match the committed root"
        )
    return tensor_from_bytes(u.dtype, u.shape, u.data)


def make_recompute(
    work: Workload, *, root: bytes, revealed: Mapping[int, RevealedUnit]
) -> Callable[[int], torch.Tensor]:
    """Verifier side: recompute unit ``i`` alone (train: from the proven revealed checkpoint ``i-1``).

    Raises :class:`UnprovenCheckpoint` for a train unit whose previous checkpoint is not proven.
    """

    def recompute(i: int) -> torch.Tensor:
        prev = proven_checkpoint(work, i, root=root, revealed=revealed) if work.needs_prev and i > 0 else None
        return work.compute(i, prev)

    return recompute


@dataclass(frozen=True)
class JobAudit:
    """The outcome of auditing a job: ``verdict`` from :func:`verifier.audit.audit`, or ``None`` when
    the audit failed before it (a train checkpoint the provider could not prove); ``reason`` says why."""

    passed: bool
    verdict: Verdict | None
    reason: str


def audit_job(
    work: Workload, *, root: bytes, indices: Sequence[int], revealed: Mapping[int, RevealedUnit]
) -> JobAudit:
    """Audit ``indices`` of a prepared workload against ``root`` with the spec's tolerance."""
    if work.needs_prev:
        for i in indices:
            if i > 0 and i < work.n_units:
                try:
                    proven_checkpoint(work, i, root=root, revealed=revealed)
                except UnprovenCheckpoint as exc:
                    return JobAudit(passed=False, verdict=None, reason=str(exc))
    check = work.audit_check()
    verdict = audit(
        root=root,
        n_units=work.n_units,
        indices=list(indices),
        revealed={i: revealed[i] for i in indices if i in revealed},
        recompute=None if check is not None else make_recompute(work, root=root, revealed=revealed),
        check=check,
        tolerance=float(work.spec.tolerance_value),
    )
    reason = "all sampled units verified" if verdict.passed else "a sampled unit failed (see verdict.units)"
    return JobAudit(passed=verdict.passed, verdict=verdict, reason=reason)
