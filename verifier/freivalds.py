"""Freivalds' check for ``matmul`` jobs: is C = A·B?  O(n²) work instead of O(n³).

One random ±1 vector ``r`` (more rounds only on request). ``A(Br)`` and ``Cr`` are computed in the
job's accumulation dtype on the tensors' own device; the residual ``|A(Br) - Cr|`` per row and its
threshold are evaluated in float64.

Scale of each row. An honest C differs from the exact product by rounding, so the residual is
never 0 for floating dtypes; it is judged against the rounding scale of the row:

    ratio_i = |A(Br) - Cr|_i / (u · ‖C_i‖₂)

with ``u`` the unit roundoff of the coarser of the accumulation and output dtypes (2^-24 for fp32;
2^-8 for a bf16 C, since every stored element was rounded to bf16). The worst row's ratio is
reported. An fp32 row passes if ``ratio_i ≤ threshold(L) = 32 + 3·√L`` with ``L = max(m, p)`` the
longest sum involved, because the matrix-vector products themselves (and the GEMM that made C)
accumulate rounding that grows like √L (:func:`default_threshold`; for a bf16/fp16 C accumulated
in fp32 the output rounding dominates and the bound is ~5, honest ratios measured ≤ 1.5).
Measured on the reference CPU (torch 2.13, fp32, normal, uniform and log-normal inputs, C from
``a @ b``, from float64 rounded, from split-K sums and from ``(Bᵀ Aᵀ)ᵀ``, 4 rounds each): worst honest
ratio 7.5 at n = 16, 23 at 256, 49 at 1024, 70 at 4096 — against thresholds 44, 80, 128 and 224. A
1% error in one element gives ``0.01/(u·√p)``: ~2,600 at p = 4096 (threshold 224), still ~1,300
against 416 at p = 16,384 (beyond p ≈ 50,000 a 1% error in a *single* element hides in the noise;
one more round does not help); inputs rounded to bf16 give 10^4–10^5. Computing the products in
float64 instead would cost ~15% of the matmul rather than ~0.5%, and chunked float64
accumulation was measured to be slower and not much tighter.

Cancellation floor: where a row of C is small because its dot products cancel, ``‖C_i‖`` no
longer measures the rounding noise (which scales with the magnitudes of the *terms*). For rows
that exceed the threshold we therefore recompute the scale as ``max(‖C_i‖₂, (|A_i|·|B|·1)/√(p·m))``
— the probabilistic rounding estimate of a sum of m terms — so that crafted inputs cannot make
an honest provider fail. Random data never pays for this (no row exceeds the threshold).

Integer dtypes are checked exactly (residual must be 0) in their own dtype; wrap-around integer
arithmetic is a ring, so the identity holds for an honest C even on overflow.

Non-finite values in A, B or C make the check fail (``reason="nonfinite"``): a matmul job whose
result overflows cannot be verified this way.

Randomness: with ``generator=None`` a fresh generator is seeded from ``os.urandom``. The provider
has committed C before r is drawn, so r only has to be unpredictable at commit time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Final

import torch

from verifier.errors import InvalidArgument

OUTPUT_ROUNDING_BOUND: Final = 5.0
ACCUMULATION_BASE: Final = 27.0
ACCUMULATION_PER_SQRT_LEN: Final = 3.0


def default_threshold(length: int, *, accum_roundoff: float = 1.0, unit_roundoff: float = 1.0) -> float:
    """The pass bound for ``ratio_i`` when the longest sum has ``length`` terms.

    ``5 + (u_acc/u)·(27 + 3·√length)``: the output-rounding term (a C stored in a coarser dtype than
    it was accumulated in is off by ≤ u per element, ~0.6·u·‖C_i‖ per row) plus the accumulation
    term, which grows like √length and is scaled down when C was rounded more coarsely than it was
    summed. For fp32 that is ``32 + 3·√length``; for a bf16 C accumulated in fp32, ~5.
    """
    ratio = accum_roundoff / unit_roundoff if unit_roundoff else 1.0
    return OUTPUT_ROUNDING_BOUND + ratio * (
        ACCUMULATION_BASE + ACCUMULATION_PER_SQRT_LEN * math.sqrt(max(length, 1))
    )


_FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
_INTS = (torch.int64, torch.int32, torch.int8, torch.uint8)


@dataclass(frozen=True)
class FreivaldsResult:
    """Outcome of :func:`freivalds`.

    ``worst_ratio`` is the largest ``residual / (u·scale)`` over rows and rounds (``inf`` for a
    non-zero integer residual or a non-finite value), ``worst_row`` its row, ``residual`` and
    ``scale`` that row's float64 residual and scale, ``threshold`` the bound it was judged against.
    """

    passed: bool
    worst_row: int
    worst_ratio: float
    residual: float
    scale: float
    unit_roundoff: float
    threshold: float
    rounds: int
    reason: str


def default_accum_dtype(dtype: torch.dtype) -> torch.dtype:
    """The accumulation dtype of a matmul that outputs ``dtype``: float32 for half types, else itself."""
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    if dtype in (torch.int8, torch.uint8):
        return torch.int64
    return dtype


def _unit_roundoff(dtype: torch.dtype) -> float:
    if dtype in _INTS:
        return 0.0
    return float(torch.finfo(dtype).eps) / 2


def _all_finite(t: torch.Tensor) -> bool:
    """``torch.isfinite(t).all()``, at the cost of one reduction in the common case.

    An inf or NaN anywhere makes the sum non-finite, so a finite sum proves the tensor finite; only
    a non-finite sum (a real inf/NaN, or finite values whose sum overflows) pays for the exact
    element-wise test, which allocates a mask as large as the tensor and costs more than the three
    matrix-vector products of the check itself.
    """
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def freivalds(
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    *,
    rounds: int = 1,
    generator: torch.Generator | None = None,
    accum_dtype: torch.dtype | None = None,
    threshold: float | None = None,
) -> FreivaldsResult:
    """Check ``C == A @ B`` (up to rounding) with ``rounds`` random ±1 vectors.

    ``a`` is (n, m), ``b`` is (m, p), ``c`` is (n, p), all of one dtype and device. A wrong
    product survives one round with probability ≤ 1/2 in exact arithmetic (and is caught surely
    when one element is wrong by more than the rounding noise); ``rounds`` rounds give ≤ 2^-rounds.
    ``threshold`` defaults to :func:`default_threshold` of ``max(m, p)``.
    """
    for name, t in (("a", a), ("b", b), ("c", c)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise InvalidArgument(name, "must be a 2-D torch.Tensor")
        if t.dtype not in _FLOATS + _INTS:
            raise InvalidArgument(name, f"unsupported dtype {t.dtype}")
    if a.shape[1] != b.shape[0] or c.shape != (a.shape[0], b.shape[1]):
        shapes = f"{tuple(a.shape)}·{tuple(b.shape)} vs {tuple(c.shape)}"
        raise InvalidArgument("c", f"shapes do not chain: {shapes}")
    if not (a.dtype == b.dtype == c.dtype):
        raise InvalidArgument("c", f"dtypes differ: {a.dtype}, {b.dtype}, {c.dtype}")
    if not (a.device == b.device == c.device):
        raise InvalidArgument("c", "a, b and c must be on one device")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 64:
        raise InvalidArgument("rounds", f"must be an integer in [1, 64], got {rounds!r}")
    if threshold is not None and (
        not isinstance(threshold, (int, float)) or not math.isfinite(threshold) or threshold <= 0
    ):
        raise InvalidArgument("threshold", f"must be a positive finite number, got {threshold!r}")
    acc = accum_dtype or default_accum_dtype(c.dtype)
    if (acc in _INTS) != (c.dtype in _INTS):
        raise InvalidArgument("accum_dtype", f"{acc} does not suit a {c.dtype} product")
    if generator is None:
        generator = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little"))
    n, m = a.shape
    p = b.shape[1]
    u = max(_unit_roundoff(acc), _unit_roundoff(c.dtype))
    if threshold is None:
        threshold = default_threshold(max(m, p), accum_roundoff=_unit_roundoff(acc), unit_roundoff=u)

    a_acc, b_acc, c_acc = (t if t.dtype == acc else t.to(acc) for t in (a, b, c))
    # C needs no scan of its own: every element of C meets a ±1 of r, so an inf or NaN in C makes
    # Cr, hence the residual, non-finite (checked below). A and B meet entries of r and Br that may
    # be 0, and 0·inf would be caught too, but a kernel is free to skip zeros: they are scanned.
    nonfinite = FreivaldsResult(False, -1, math.inf, math.inf, math.nan, u, threshold, rounds, "nonfinite")
    if acc in _FLOATS and not all(_all_finite(t) for t in (a_acc, b_acc)):
        return nonfinite

    scale: torch.Tensor | None = None
    worst = (-math.inf, 0, 0.0, 0.0)  # ratio, row, residual, scale
    for _ in range(rounds):
        r = (torch.randint(0, 2, (p,), generator=generator) * 2 - 1).to(device=c.device, dtype=acc)
        cr = c_acc @ r
        if acc in _FLOATS and not bool(torch.isfinite(cr).all()):
            return nonfinite
        residual = (a_acc @ (b_acc @ r) - cr).to(torch.float64).abs()
        if u == 0.0:
            row = int(torch.argmax(residual).item()) if n else 0
            res = float(residual[row].item()) if n else 0.0
            ratio = math.inf if res else 0.0
            if ratio > worst[0]:
                worst = (ratio, row, res, 0.0)
            continue
        if scale is None:
            scale = torch.linalg.vector_norm(c_acc, dim=1).to(torch.float64)
            if not bool(torch.isfinite(scale).all()):
                scale = torch.linalg.vector_norm(c_acc.to(torch.float64), dim=1)
        ratios = residual / (u * scale)
        ratios = torch.where(residual == 0, torch.zeros_like(ratios), ratios)
        over = torch.nonzero(ratios > threshold).flatten()
        if over.numel():
            # Cancellation floor, only for suspicious rows (see the module docstring).
            b_abs_rows = b.to(torch.float64).abs().sum(dim=1)
            terms = a[over].to(torch.float64).abs() @ b_abs_rows / math.sqrt(p * m)
            scale = scale.clone()
            scale[over] = torch.maximum(scale[over], terms)
            ratios = residual / (u * scale)
            ratios = torch.where(residual == 0, torch.zeros_like(ratios), ratios)
        if n:
            row = int(torch.argmax(ratios).item())
            ratio = float(ratios[row].item())
            if ratio > worst[0]:
                worst = (ratio, row, float(residual[row].item()), float(scale[row].item()))
    ratio, row, res, sc = worst
    if n == 0:
        ratio = 0.0
    passed = ratio <= threshold
    reason = "within_threshold" if passed else "exceeds_threshold"
    return FreivaldsResult(passed, row, ratio, res, sc, u, threshold, rounds, reason)
