"""Audits of workload jobs: what the provider reveals, how a verifier recomputes, the verdict.

Provider side: :func:`reveal` returns the sampled units' exact bytes with their Merkle proofs;
for ``train`` it adds unit ``i-1`` for every sampled ``i`` (the committed checkpoint the segment
starts from). Verifier side: :func:`make_recompute` gives :func:`verifier.audit.audit` the
callable that recomputes unit ``i`` alone on this node; for ``train`` it first checks the revealed
previous checkpoint against the committed root (leaf + proof) and its dtype and shape, and starts
from those bytes — so a verifier never has to replay the job from step 1 and never trusts the
provider's copy. A previous checkpoint that is missing or not proven fails the audit.

:func:`audit_job` ties it together for callers (the verifier role, tests, the bench).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

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
) -> list[RevealedUnit]:
    """Provider side: the revealed units (bytes + proof) for a challenge."""
    units = []
    for i in needed_indices(indices, needs_prev=needs_prev):
        dtype, shape, data = outputs[i]
        units.append(RevealedUnit(index=i, dtype=dtype, shape=tuple(shape), data=data, proof=tree.proof(i)))
    return units


def make_recompute(
    work: Workload, *, root: bytes, revealed: Sequence[RevealedUnit]
) -> Callable[[int], torch.Tensor]:
    """Verifier side: recompute unit ``i`` alone (train: from the proven revealed checkpoint ``i-1``)."""
    by_index: Mapping[int, RevealedUnit] = {u.index: u for u in revealed}

    def previous(i: int) -> torch.Tensor:
        u = by_index.get(i - 1)
        if u is None:
            raise UnprovenCheckpoint(f"train unit {i}: the checkpoint of unit {i - 1} was not revealed")
        if u.dtype != "float32" or tuple(u.shape) != work.unit_shape(i - 1):
            raise UnprovenCheckpoint(f"train unit {i}: checkpoint {i - 1} has the wrong dtype or shape")
        if not verify_proof(unit_leaf(i - 1, u.dtype, u.shape, u.data), list(u.proof), root):
            raise UnprovenCheckpoint(f"train unit {i}: checkpoint {i - 1} does not match the committed root")
        return tensor_from_bytes(u.dtype, u.shape, u.data)

    def recompute(i: int) -> torch.Tensor:
        prev = previous(i) if work.needs_prev and i > 0 else None
        return work.compute(i, prev)

    return recompute


def audit_job(
    work: Workload, *, root: bytes, indices: Sequence[int], revealed: Sequence[RevealedUnit]
) -> Verdict:
    """Run :func:`verifier.audit.audit` for a prepared workload with the spec's tolerance."""
    return audit(
        root=root,
        n_units=work.n_units,
        indices=list(indices),
        revealed=[u for u in revealed if u.index in set(indices)],
        recompute=make_recompute(work, root=root, revealed=revealed),
        tolerance=work.spec.tolerance_value,
    )
