"""CHEAT MODELS — deliberately dishonest providers, for tests and the demo's cheating provider.

Nothing here is used by an honest node. Each model runs a job but corrupts exactly
``ceil(fraction · N)`` units, chosen from ``seed`` (so detection follows the hypergeometric law
that :mod:`verifier.detection` assumes), and commits a Merkle root over what it produced:

- ``corrupt``: the honest output with one element shifted by 1% of the output's scale.
- ``zeros``: all zeros instead of work.
- ``reuse``: another unit's honest output (the previous one, cut to shape; for ``train`` the unchanged
  previous checkpoint, i.e. no steps at all).
- ``low_precision``: the unit computed under ``torch.autocast`` in ``precision`` (bfloat16 or
  float16) instead of the spec's float32, then cast back to the spec dtype.
- ``skip_steps`` (``train`` only): only the first half of the segment's optimizer steps.
- ``wrong_root``: commits zeros for the chosen units but, when audited, reveals honestly
  recomputed bytes, which do not match the committed root (the Merkle proof fails).

For ``train`` every unit after a cheated one continues from the cheated checkpoint, as a real
cheater would, so only the cheated segments themselves are inconsistent.

Which cheats apply to a kind, and the function that computes a cheated unit, come from the kind
registry (:mod:`node.workloads.jobkinds`): :func:`generic_cheat_unit` below serves the tensor kinds,
:mod:`node.workloads.llm_cheats` the ``llm`` kind. :data:`CHEATS` are the generic ones.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import torch

from node.errors import WorkloadError
from node.workloads import jobkinds
from node.workloads.kinds import TrainWorkload, Workload
from node.workloads.runner import Output, prepare
from node.workloads.spec import JobSpec
from verifier.commitment import MerkleTree, commit_outputs
from verifier.tensorbytes import tensor_to_bytes

CHEATS = ("corrupt", "zeros", "reuse", "low_precision", "skip_steps", "wrong_root")
ALL_CHEATS = tuple(dict.fromkeys(name for kind in jobkinds.REGISTRY.values() for name in kind.cheats))


@dataclass(frozen=True)
class Cheat:
    """A cheat model: ``name`` from :data:`CHEATS`, the fraction of units it touches, its own seed."""

    name: str
    fraction: str = "1/20"
    seed: int = 0
    precision: str = "bfloat16"

    def __post_init__(self) -> None:
        if self.name not in ALL_CHEATS:
            raise WorkloadError(f"unknown cheat {self.name!r} (expected one of {', '.join(ALL_CHEATS)})")
        f = Fraction(self.fraction)
        if not 0 < f <= 1:
            raise WorkloadError(f"cheat fraction must be in (0, 1], got {self.fraction}")
        if self.precision not in ("bfloat16", "float16"):
            raise WorkloadError(f"low precision must be bfloat16 or float16, got {self.precision}")


@dataclass(frozen=True)
class DishonestRun:
    """What a cheating provider holds: committed bytes, the bytes it reveals, its tree and root."""

    committed: tuple[Output, ...]
    revealed: tuple[Output, ...]
    tree: MerkleTree
    root: bytes
    cheated: frozenset[int]


def cheated_units(n_units: int, fraction: str, seed: int) -> frozenset[int]:
    """Exactly ``ceil(fraction · n_units)`` distinct unit indices, chosen by ``seed``."""
    count = math.ceil(Fraction(fraction) * n_units)
    return frozenset(random.Random(seed).sample(range(n_units), count))


def generic_cheat_unit(cheat: Cheat, work: Workload, index: int, prev: torch.Tensor | None) -> torch.Tensor:
    """A cheated unit of a tensor kind (matmul, inference, train), as the module docstring describes."""
    shape = work.unit_shape(index)
    if cheat.name == "zeros" or cheat.name == "wrong_root":
        return torch.zeros(shape, dtype=torch.float32 if isinstance(work, TrainWorkload) else work.dtype)
    if cheat.name == "corrupt":
        y = work.compute(index, prev).clone()
        flat = y.view(-1)
        pos = random.Random(cheat.seed * 1_000_003 + index).randrange(flat.numel())
        scale = float(y.abs().max()) or 1.0
        flat[pos] += 0.01 * scale
        return y
    if cheat.name == "reuse":
        if isinstance(work, TrainWorkload):
            return (prev if prev is not None else work.initial_state()).clone()
        # The honest output of a neighbour (not whatever was committed there: a chain of reuses
        # would otherwise hand a unit its own honest bytes).
        donor = work.compute(index - 1 if index > 0 else min(1, work.n_units - 1))
        if tuple(donor.shape) == shape:
            return donor.clone()
        return (
            donor[: shape[0]].clone() if donor.shape[0] >= shape[0] else torch.zeros(shape, dtype=donor.dtype)
        )
    if cheat.name == "low_precision":
        low = torch.bfloat16 if cheat.precision == "bfloat16" else torch.float16
        with torch.autocast(device_type=work.device.type, dtype=low):
            y = work.compute(index, prev)
        return y.to(torch.float32 if isinstance(work, TrainWorkload) else work.dtype)
    # skip_steps
    if not isinstance(work, TrainWorkload):
        raise WorkloadError("skip_steps applies to train jobs only")
    start = work.initial_state() if index == 0 else prev
    assert start is not None
    steps = work.steps_of(index)
    with torch.no_grad():
        return work.run_steps(start, steps[: len(steps) // 2])


def run_dishonest(
    spec: JobSpec, cheat: Cheat, *, device: str | torch.device = "cpu", blobs: Mapping[str, bytes]
) -> DishonestRun:
    """Run ``spec`` as a cheater would and commit to the result (see the module docstring)."""
    kind = jobkinds.get(spec.kind)
    if cheat.name not in kind.cheats:
        kinds = ", ".join(k.name for k in jobkinds.REGISTRY.values() if cheat.name in k.cheats)
        raise WorkloadError(f"{cheat.name} applies to {kinds} jobs only")
    cheat_unit = kind.cheat_unit()
    work = prepare(spec, device=device, blobs=blobs)
    bad = cheated_units(work.n_units, cheat.fraction, cheat.seed)
    committed: list[Output] = []
    revealed: list[Output] = []
    prev: torch.Tensor | None = None
    for i in range(work.n_units):
        if i in bad:
            y = cheat_unit(cheat, work, i, prev)
            shown = work.compute(i, prev) if cheat.name == "wrong_root" else y
        else:
            y = shown = work.compute(i, prev)
        committed.append(tensor_to_bytes(y))
        revealed.append(tensor_to_bytes(shown))
        if work.needs_prev:
            prev = shown if cheat.name == "wrong_root" else y
    tree, _ = commit_outputs(committed)
    return DishonestRun(
        committed=tuple(committed), revealed=tuple(revealed), tree=tree, root=tree.root, cheated=bad
    )
