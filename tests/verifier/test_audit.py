"""Audit verdicts: every failure status, the issue's cheat models, and zero false alarms on honest work."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import pytest
import torch

from verifier.audit import RevealedUnit, Verdict, audit
from verifier.commitment import MerkleTree, commit_outputs, unit_leaf
from verifier.compare import DEFAULT_TOLERANCE
from verifier.detection import detection_probability
from verifier.errors import InvalidArgument
from verifier.sampling import sample_indices
from verifier.tensorbytes import tensor_to_bytes

ROWS, K, COLS = 4, 48, 24


class MatmulJob:
    """A toy ``matmul`` job: unit i is rows [i·ROWS, (i+1)·ROWS) of A times B, computed alone."""

    def __init__(self, n_units: int, *, dtype: torch.dtype = torch.float32, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.n_units = n_units
        if dtype.is_floating_point:
            self.a = torch.randn(n_units * ROWS, K, generator=g).to(dtype)
            self.b = torch.randn(K, COLS, generator=g).to(dtype)
        else:
            self.a = torch.randint(-50, 50, (n_units * ROWS, K), generator=g).to(dtype)
            self.b = torch.randint(-50, 50, (K, COLS), generator=g).to(dtype)

    def unit(self, i: int) -> torch.Tensor:
        return self.a[i * ROWS : (i + 1) * ROWS] @ self.b

    def all_units(self) -> list[torch.Tensor]:
        return [self.unit(i) for i in range(self.n_units)]


def _provide(outputs: list[torch.Tensor]) -> tuple[MerkleTree, dict[int, RevealedUnit]]:
    """What an honest-to-its-own-bytes provider commits and reveals."""
    encoded = [tensor_to_bytes(t) for t in outputs]
    tree, _ = commit_outputs(encoded)
    units = {
        i: RevealedUnit(i, dtype, shape, data, tuple(tree.proof(i)))
        for i, (dtype, shape, data) in enumerate(encoded)
    }
    return tree, units


def _audit(job: MatmulJob, tree: MerkleTree, units: dict[int, RevealedUnit], indices: list[int]) -> Verdict:
    return audit(
        root=tree.root,
        n_units=job.n_units,
        indices=indices,
        revealed=units,
        recompute=job.unit,
        tolerance=1e-5,
    )


@pytest.fixture
def job() -> MatmulJob:
    return MatmulJob(10)


def test_honest_job_passes_with_evidence(job: MatmulJob) -> None:
    tree, units = _provide([job.unit(i) for i in range(job.n_units)])
    verdict = _audit(job, tree, units, [3, 0, 9])
    assert verdict.passed and not verdict.failures
    assert [u.index for u in verdict.units] == [3, 0, 9]
    assert all(u.status == "pass" and u.scaled_error == 0.0 for u in verdict.units)
    assert verdict.units[0].proof_root == "0x" + tree.root.hex()
    assert verdict.as_dict()["units"][0]["status"] == "pass"


def test_withheld_unit_is_missing(job: MatmulJob) -> None:
    tree, units = _provide([job.unit(i) for i in range(job.n_units)])
    del units[4]
    verdict = _audit(job, tree, units, [1, 4])
    assert not verdict.passed
    assert [u.status for u in verdict.units] == ["pass", "missing"]


def test_root_that_does_not_match_the_revealed_bytes_is_bad_proof(job: MatmulJob) -> None:
    honest = [job.unit(i) for i in range(job.n_units)]
    tree, units = _provide(honest)
    cheated = list(honest)
    cheated[2] = torch.zeros_like(honest[2])
    _, cheated_units = _provide(cheated)
    # Commits the honest root, reveals other bytes (with their own, now useless, proof).
    units[2] = cheated_units[2]
    verdict = _audit(job, tree, units, [2])
    (unit,) = verdict.units
    assert unit.status == "bad_proof" and unit.proof_root != "0x" + tree.root.hex()


def test_revealing_another_units_bytes_under_this_index_is_bad_proof(job: MatmulJob) -> None:
    tree, units = _provide([job.unit(i) for i in range(job.n_units)])
    units[5] = units[6]  # unit 6's bytes and proof offered for index 5
    assert _audit(job, tree, units, [5]).units[0].status == "bad_proof"


def test_overlong_proof_is_bad_proof(job: MatmulJob) -> None:
    tree, units = _provide([job.unit(i) for i in range(job.n_units)])
    u = units[1]
    units[1] = RevealedUnit(u.index, u.dtype, u.shape, u.data, (*u.proof, b"\0" * 32))
    verdict = _audit(job, tree, units, [1])
    assert verdict.units[0].status == "bad_proof" and "deep" in verdict.units[0].detail


def test_malformed_proof_hash_is_bad_proof(job: MatmulJob) -> None:
    tree, units = _provide([job.unit(i) for i in range(job.n_units)])
    u = units[1]
    units[1] = RevealedUnit(u.index, u.dtype, u.shape, u.data, (b"\0" * 5,))
    assert _audit(job, tree, units, [1]).units[0].status == "bad_proof"


def test_bad_encodings(job: MatmulJob) -> None:
    outputs = [tensor_to_bytes(job.unit(i)) for i in range(job.n_units)]
    # Unit 0 committed with a shape its bytes do not fill; unit 1 with an unknown dtype name.
    dtype, _, data = outputs[0]
    leaves = [unit_leaf(i, *out) for i, out in enumerate(outputs)]
    leaves[0] = unit_leaf(0, dtype, (ROWS + 1, COLS), data)
    tree = MerkleTree(leaves)
    units = {i: RevealedUnit(i, *out, tuple(tree.proof(i))) for i, out in enumerate(outputs)}
    units[0] = RevealedUnit(0, dtype, (ROWS + 1, COLS), data, tuple(tree.proof(0)))
    units[1] = RevealedUnit(1, "float24", (ROWS, COLS), outputs[1][2], tuple(tree.proof(1)))
    verdict = _audit(job, tree, units, [0, 1, 2])
    assert [u.status for u in verdict.units] == ["bad_encoding", "bad_encoding", "pass"]
    assert "do not decode" in verdict.units[0].detail


def _cheat_outputs(job: MatmulJob, name: str) -> Iterator[tuple[int, torch.Tensor]]:
    """The unit a cheater commits instead of unit 3, for each cheat model."""
    honest = job.unit(3)
    if name == "zeros":
        yield 3, torch.zeros_like(honest)
    elif name == "reuse":
        yield 3, job.unit(4)
    elif name == "fp16":
        yield 3, (job.a[3 * ROWS : 4 * ROWS].half() @ job.b.half()).float()
    elif name == "bf16_inputs":
        yield 3, job.a[3 * ROWS : 4 * ROWS].bfloat16().float() @ job.b.bfloat16().float()
    elif name == "shape":
        yield 3, honest[:-1]
    elif name == "dtype":
        yield 3, honest.double()


@pytest.mark.parametrize("cheat", ["zeros", "reuse", "fp16", "bf16_inputs", "shape", "dtype"])
def test_cheats_committed_consistently_are_mismatches(job: MatmulJob, cheat: str) -> None:
    outputs = [job.unit(i) for i in range(job.n_units)]
    for i, t in _cheat_outputs(job, cheat):
        outputs[i] = t
    tree, units = _provide(outputs)
    verdict = _audit(job, tree, units, [2, 3])
    assert [u.status for u in verdict.units] == ["pass", "mismatch"], verdict.units[1]
    assert verdict.units[1].scaled_error is not None and verdict.units[1].scaled_error > 1e-5


def test_skipped_training_steps_are_caught() -> None:
    """A ``train``-like unit: S SGD steps from a checkpoint; a cheater runs fewer steps."""
    g = torch.Generator().manual_seed(11)
    x, y = torch.randn(64, 8, generator=g), torch.randn(64, 1, generator=g)
    checkpoints = [torch.randn(8, 1, generator=g) for _ in range(6)]

    def segment(i: int, steps: int = 5) -> torch.Tensor:
        w = checkpoints[i].clone()
        for _ in range(steps):
            w = w - 0.05 * (2 / len(x)) * x.T @ (x @ w - y)
        return w

    outputs = [segment(i) for i in range(6)]
    outputs[2] = segment(2, steps=4)
    tree, units = _provide(outputs)
    verdict = audit(
        root=tree.root, n_units=6, indices=[1, 2], revealed=units, recompute=segment, tolerance=1e-5
    )
    assert [u.status for u in verdict.units] == ["pass", "mismatch"]


def test_corrupted_fraction_is_caught_at_the_predicted_rate() -> None:
    n, n_bad, k, trials = 40, 4, 8, 400
    job = MatmulJob(n, seed=5)
    outputs = [job.unit(i) for i in range(n)]
    bad = set(random.Random(1).sample(range(n), n_bad))
    for i in bad:
        outputs[i] = outputs[i] * (1 + 1e-3)
    tree, units = _provide(outputs)
    expected = [job.unit(i) for i in range(n)]  # recomputed once: the trials differ only in sampling
    rng = random.Random(2)
    caught = 0
    for _ in range(trials):
        indices = sample_indices(rng.randbytes(32), 1, n, k)
        verdict = audit(
            root=tree.root,
            n_units=n,
            indices=indices,
            revealed=units,
            recompute=expected.__getitem__,
            tolerance=1e-5,
        )
        assert {u.index for u in verdict.failures} == bad.intersection(indices)
        caught += not verdict.passed
    p = detection_probability(n, n_bad, k)
    assert abs(caught / trials - p) <= 3.89 * math.sqrt(p * (1 - p) / trials)


CASES: list[tuple[torch.dtype, str, float]] = [
    (torch.float32, "float32", DEFAULT_TOLERANCE["float32"]),
    (torch.float64, "float64", DEFAULT_TOLERANCE["float64"]),
    (torch.bfloat16, "bfloat16", DEFAULT_TOLERANCE["bfloat16"]),
    (torch.float16, "float16", DEFAULT_TOLERANCE["float16"]),
    (torch.int32, "int32", 0.0),
]


def _with_threads(n: int, fn: Callable[[], list[torch.Tensor]]) -> list[torch.Tensor]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def test_a_thousand_honest_units_across_dtypes_and_thread_counts_never_fail() -> None:
    audited = 0
    for dtype, _, tol in CASES:
        for provider_threads, verifier_threads in ((2, 1), (1, 2)):
            job = MatmulJob(100, dtype=dtype, seed=audited)
            outputs = _with_threads(provider_threads, job.all_units)
            tree, units = _provide(outputs)
            expected = _with_threads(verifier_threads, job.all_units)
            verdict = audit(
                root=tree.root,
                n_units=job.n_units,
                indices=list(range(job.n_units)),
                revealed=units,
                recompute=expected.__getitem__,
                tolerance=tol,
            )
            assert verdict.passed, [u for u in verdict.units if u.status != "pass"][:3]
            audited += len(verdict.units)
    assert audited >= 1000


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 7, 8, 11, 16])
def test_unit_alone_vs_sliced_from_the_whole_batch(rows: int) -> None:
    """Computed alone, a unit is reproducible bitwise; sliced out of a bigger call it may differ
    (fp32 shards of 1–3, 5–7, 9–11 rows on this CPU) but always within the fp32 tolerance."""
    from verifier.compare import compare

    g = torch.Generator().manual_seed(rows)
    a, b = torch.randn(64, 256, generator=g), torch.randn(256, 128, generator=g)
    alone = a[:rows] @ b
    assert torch.equal(alone, a[:rows].clone() @ b)  # the verifier's recomputation of the same call
    sliced = (a @ b)[:rows]
    assert compare(alone, sliced, tolerance=DEFAULT_TOLERANCE["float32"]).passed


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"root": b"\0" * 31}, "root"),
        ({"n_units": 0}, "n_units"),
        ({"indices": []}, "indices"),
        ({"indices": [1, 1]}, "indices"),
        ({"indices": [10]}, "indices"),
        ({"indices": [-1]}, "indices"),
        ({"tolerance": float("nan")}, "tolerance"),
        ({"tolerance": -1.0}, "tolerance"),
    ],
)
def test_caller_mistakes_are_errors_not_verdicts(
    job: MatmulJob, kwargs: dict[str, object], field: str
) -> None:
    tree, units = _provide([job.unit(i) for i in range(job.n_units)])
    args: dict[str, object] = {
        "root": tree.root,
        "n_units": job.n_units,
        "indices": [0],
        "revealed": units,
        "recompute": job.unit,
        "tolerance": 1e-5,
    }
    args.update(kwargs)
    with pytest.raises(InvalidArgument) as err:
        audit(**args)  # type: ignore[arg-type]
    assert err.value.name == field
