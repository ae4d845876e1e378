"""Freivalds' check: honest products of several sizes and dtypes pass; corrupted ones fail."""

from __future__ import annotations

import math

import pytest
import torch

from verifier.errors import InvalidArgument
from verifier.freivalds import default_threshold, freivalds


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n", [16, 100, 256, 700])
def test_honest_fp32_products_pass_in_any_summation_order(n: int) -> None:
    g = _gen(n)
    for a, b in [
        (torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)),
        (torch.rand(n, n, generator=g), torch.rand(n, n, generator=g)),
        (torch.randn(n, n, generator=g).exp(), torch.randn(n, n, generator=g)),
    ]:
        h = n // 3
        for c in [a @ b, (a.double() @ b.double()).float(), a[:, :h] @ b[:h] + a[:, h:] @ b[h:]]:
            r = freivalds(a, b, c, rounds=4, generator=g)
            assert r.passed, r
            assert r.worst_ratio <= default_threshold(n) / 2  # a margin, not just a pass


@pytest.mark.parametrize("n", [64, 256, 700])
def test_corrupted_products_fail(n: int) -> None:
    g = _gen(n + 1)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    c = a @ b
    one = c.clone()
    one[n // 2, n // 3] *= 1.01  # a 1% error in a single element
    zeros_row = c.clone()
    zeros_row[n - 1] = 0
    swapped = c.clone()
    swapped[[0, 1]] = swapped[[1, 0]]
    low_precision = a.bfloat16().float() @ b.bfloat16().float()
    tf32_like = (a.view(torch.int32) & ~8191).view(torch.float32) @ (b.view(torch.int32) & ~8191).view(
        torch.float32
    )
    for name, bad in [
        ("one element", one),
        ("zero row", zeros_row),
        ("swap", swapped),
        ("bf16", low_precision),
        ("tf32", tf32_like),
    ]:
        r = freivalds(a, b, bad, generator=g)
        assert not r.passed and r.reason == "exceeds_threshold", (name, r)
    r = freivalds(a, b, one, generator=g)
    assert r.worst_row == n // 2
    assert r.worst_ratio > 10 * r.threshold


def test_rectangular_and_half_dtypes() -> None:
    g = _gen(7)
    a, b = torch.randn(300, 70, generator=g), torch.randn(70, 500, generator=g)
    for dt in (torch.bfloat16, torch.float16, torch.float64):
        aa, bb = a.to(dt), b.to(dt)
        cc = aa @ bb
        assert freivalds(aa, bb, cc, rounds=4, generator=g).passed
        bad = cc.clone()
        bad[5, 6] += 20  # half types: only errors well above the output rounding stand out
        assert not freivalds(aa, bb, bad, generator=g).passed


def test_integers_are_exact_even_when_they_wrap() -> None:
    g = _gen(8)
    a = torch.randint(-(2**20), 2**20, (40, 50), dtype=torch.int32, generator=g)
    b = torch.randint(-(2**20), 2**20, (50, 30), dtype=torch.int32, generator=g)
    c = a @ b  # wraps modulo 2^32
    assert freivalds(a, b, c, generator=g).passed
    c[3, 4] += 1
    r = freivalds(a, b, c, generator=g)
    assert not r.passed and r.worst_row == 3


def test_cancellation_rows_do_not_fail_an_honest_provider() -> None:
    """Rows whose dot products cancel almost exactly: ‖C_i‖ is tiny, the rounding noise is not."""
    g = _gen(9)
    a = torch.randn(64, 256, generator=g)
    b = torch.randn(256, 64, generator=g) * 1000
    b[128:] = b[:128]
    a[:, 128:] = -a[:, :128] + 1e-6 * torch.randn(64, 128, generator=g)
    for c in [a @ b, (a.double() @ b.double()).float()]:
        assert freivalds(a, b, c, rounds=8, generator=g).passed


def test_nonfinite_values_fail() -> None:
    a, b = torch.ones(4, 4), torch.ones(4, 4)
    c = a @ b
    c[0, 0] = float("nan")
    r = freivalds(a, b, c)
    assert not r.passed and r.reason == "nonfinite"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3)), {}),
        ((torch.ones(2, 3), torch.ones(3, 4), torch.ones(2, 5)), {}),
        ((torch.ones(2, 3), torch.ones(3, 4, dtype=torch.float64), torch.ones(2, 4)), {}),
        ((torch.ones(3), torch.ones(3, 4), torch.ones(4)), {}),
        ((torch.ones(2, 3), torch.ones(3, 4), torch.ones(2, 4)), {"rounds": 0}),
        ((torch.ones(2, 3), torch.ones(3, 4), torch.ones(2, 4)), {"threshold": float("nan")}),
        ((torch.ones(2, 3), torch.ones(3, 4), torch.ones(2, 4)), {"accum_dtype": torch.int64}),
    ],
)
def test_bad_arguments(args: tuple[torch.Tensor, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        freivalds(*args, **kwargs)  # type: ignore[arg-type]


def test_finite_screen_matches_the_elementwise_test() -> None:
    from verifier.freivalds import _all_finite

    big = torch.full((4, 4), 3e38)  # finite, but its sum overflows: the exact test must decide
    cases = [torch.randn(8, 8), big]
    for bad in (math.inf, -math.inf, math.nan):
        t = torch.randn(8, 8)
        t[3, 5] = bad
        cases.append(t)
    both = torch.randn(8, 8)
    both[0, 0], both[1, 1] = math.inf, -math.inf  # cancels to NaN in the sum
    cases.append(both)
    for t in cases:
        assert _all_finite(t) == bool(torch.isfinite(t).all()), t
