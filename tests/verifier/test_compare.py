"""The tolerance policy: honest reorderings pass, cheap cheats fail, edge values are deliberate."""

from __future__ import annotations

import math

import pytest
import torch

from verifier.compare import compare
from verifier.errors import InvalidArgument

TOL = 1e-5  # the fp32 tolerance: honest ≤ ~1.5e-6 measured, cheats ≥ ~2.4e-4


def _tf32(x: torch.Tensor) -> torch.Tensor:
    """Truncate fp32 mantissas to TF32's 10 bits, as a tensor core with TF32 on would."""
    return (x.view(torch.int32) & ~((1 << 13) - 1)).view(torch.float32)


def _inputs(dist: str, m: int, k: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if dist == "normal":
        return torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    if dist == "uniform":
        return torch.rand(m, k, generator=g), torch.rand(k, n, generator=g)
    return torch.randn(m, k, generator=g).exp(), torch.randn(k, n, generator=g)


SHAPES = [(16, 64, 32), (64, 256, 128), (8, 1024, 256)]


@pytest.mark.parametrize("dist", ["normal", "uniform", "lognormal"])
def test_honest_reorderings_pass_and_cheap_cheats_fail(dist: str) -> None:
    g = torch.Generator().manual_seed(3)
    honest_max, cheat_min = 0.0, math.inf
    for m, k, n in SHAPES:
        a, b = _inputs(dist, m, k, n, g)
        y = a @ b
        third = k // 3
        honest = [
            (a.double() @ b.double()).float(),  # exact then rounded once
            a[:, :third] @ b[:third] + a[:, third:] @ b[third:],  # split-K summation order
            (b.T @ a.T).T,  # transposed product
            (torch.cat([a, a]) @ b)[:m],  # sliced out of a bigger call
        ]
        for v in honest:
            c = compare(y, v, tolerance=TOL)
            assert c.passed, (dist, m, k, n, c)
            honest_max = max(honest_max, c.scaled_error)
        cheats = [
            a.bfloat16().float() @ b.bfloat16().float(),  # bf16 inputs
            (a.bfloat16() @ b.bfloat16()).float(),  # computed in bf16
            (a.half() @ b.half()).float(),  # computed in fp16
            _tf32(a) @ _tf32(b),  # TF32-like truncation
        ]
        for v in cheats:
            c = compare(y, v, tolerance=TOL)
            assert not c.passed and c.reason == "exceeds_tolerance", (dist, m, k, n, c)
            cheat_min = min(cheat_min, c.scaled_error)
    # The margins the tolerance relies on, on both sides.
    assert honest_max <= TOL / 4
    assert cheat_min >= 10 * TOL


def test_bitwise_equal_passes_with_zero_error_even_for_nan() -> None:
    t = torch.tensor([1.0, float("nan"), -0.0, float("inf")])
    c = compare(t, t.clone(), tolerance=0.0)
    assert c.passed and c.bitwise_equal and c.scaled_error == 0.0 and c.reason == "bitwise"


def test_scaled_error_normalises_by_the_largest_value_not_per_element() -> None:
    expected = torch.tensor([1000.0, 1e-6], dtype=torch.float64)
    observed = torch.tensor([1000.0, 2e-6], dtype=torch.float64)  # 100% off near zero, tiny in scale
    c = compare(expected, observed, tolerance=1e-8)
    assert c.passed and c.scaled_error == pytest.approx(1e-9)
    assert not compare(expected, observed, tolerance=1e-10).passed


@pytest.mark.parametrize(
    ("expected", "observed", "reason"),
    [
        (torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), "nonfinite"),
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, float("nan")]), "nonfinite"),
        (torch.tensor([1.0, float("inf")]), torch.tensor([1.0, float("-inf")]), "nonfinite"),
        (torch.tensor([1.0, float("inf")]), torch.tensor([1.0, 3e38]), "nonfinite"),
        (torch.zeros(3), torch.tensor([0.0, 1e-30, 0.0]), "zero_scale"),
        (torch.zeros(2, 3), torch.zeros(3, 2), "shape"),
        (torch.zeros(3), torch.zeros(3, dtype=torch.float64), "dtype"),
        (
            torch.tensor([5, 7], dtype=torch.int32),
            torch.tensor([5, 8], dtype=torch.int32),
            "integer_mismatch",
        ),
    ],
)
def test_failures(expected: torch.Tensor, observed: torch.Tensor, reason: str) -> None:
    c = compare(expected, observed, tolerance=0.5)
    assert not c.passed and c.reason == reason


def test_same_nonfinite_positions_compare_on_the_finite_part() -> None:
    expected = torch.tensor([float("nan"), 1.0, float("-inf"), 2.0])
    close = torch.tensor([float("nan"), 1.0, float("-inf"), 2.0 + 1e-6])
    assert compare(expected, close, tolerance=1e-5).passed
    assert not compare(expected, close, tolerance=1e-8).passed


def test_signed_zero_is_not_a_difference() -> None:
    c = compare(torch.zeros(2), torch.tensor([0.0, -0.0]), tolerance=0.0)
    assert c.passed and not c.bitwise_equal


def test_integers_are_exact_whatever_the_tolerance() -> None:
    a = torch.tensor([1_000_000, 3], dtype=torch.int64)
    b = torch.tensor([1_000_000, 4], dtype=torch.int64)
    assert not compare(a, b, tolerance=1.0).passed
    assert compare(a, a.clone(), tolerance=0.0).passed


def test_bf16_honest_rounding_passes_a_bf16_tolerance() -> None:
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(32, 128, generator=g), torch.randn(128, 64, generator=g)
    y = (a @ b).bfloat16()
    other_order = (a.double() @ b.double()).bfloat16()
    assert compare(y, other_order, tolerance=4 * 2.0**-8).passed


@pytest.mark.parametrize("tol", [float("nan"), float("inf"), -1e-5, "1e-5", True])
def test_bad_tolerance(tol: object) -> None:
    with pytest.raises(InvalidArgument):
        compare(torch.zeros(1), torch.zeros(1), tolerance=tol)  # type: ignore[arg-type]
