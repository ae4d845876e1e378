"""Tolerant comparison of a recomputed unit against the bytes a provider committed.

Policy (v1):

1. Shape or dtype differs: fail (``reason="shape"`` / ``"dtype"``).
2. Bitwise equal (the raw bytes, so NaN payloads and signed zeros count too): pass.
3. Integer dtypes: anything but bitwise equality fails; integer kinds are exact.
4. Floating dtypes: the non-finite values must sit at the same places with the same kind
   (NaN where NaN, +inf where +inf, -inf where -inf), else fail with ``scaled_error = inf``.
   Over the finite elements, ``scaled_error = max|Δ| / max|expected|`` in float64 must be
   ``≤ tolerance``. An all-zero expected tensor leaves no scale, so any difference fails.

Why normalise by the tensor's scale and not per element: honest results from another summation
order differ by a few ULPs of the *largest* values in a dot product, so an element that is close
to zero by cancellation can have an enormous per-element relative or ULP error while being
perfectly honest. ``max|Δ| / max|y|`` measures the difference in units of the tensor's own scale.

Measured on the reference CPU (torch 2.13, issue 3): honest fp32 differences from another
summation order ≤ 3.6e-7, cheap cheats (bf16 or TF32-like inputs for an fp32 job) ≥ 3.3e-4, so a
tolerance of 1e-5 separates them for fp32 (:data:`DEFAULT_TOLERANCE`); bf16 honest flips are
≤ 2 ULP, i.e. ≤ 2·2^-8 relative to the largest value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import torch

from verifier.errors import InvalidArgument
from verifier.tensorbytes import INTEGER_DTYPES, dtype_name

DEFAULT_TOLERANCE: Final[dict[str, float]] = {
    "float64": 1e-12,
    "float32": 1e-5,
    "float16": 4 * 2.0**-11,
    "bfloat16": 4 * 2.0**-8,
}
"""Suggested tolerances per floating dtype; a job spec names its own (see verifier/README.md)."""

_SAME_SIZE_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`.

    ``scaled_error`` is ``max|Δ| / max|expected|`` over finite elements (0.0 when bitwise equal,
    ``inf`` when shapes, dtypes or non-finite positions differ); ``reason`` is one of
    ``"bitwise"``, ``"within_tolerance"``, ``"exceeds_tolerance"``, ``"integer_mismatch"``,
    ``"shape"``, ``"dtype"``, ``"nonfinite"``, ``"zero_scale"``.
    """

    passed: bool
    bitwise_equal: bool
    scaled_error: float
    max_abs_diff: float
    reason: str


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(_SAME_SIZE_INT[t.element_size()])


def compare(expected: torch.Tensor, observed: torch.Tensor, *, tolerance: float) -> Comparison:
    """Compare the verifier's ``expected`` with the provider's ``observed`` under the v1 policy."""
    bad_type = not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool)
    if bad_type or not math.isfinite(tolerance):
        raise InvalidArgument("tolerance", f"must be a finite number, got {tolerance!r}")
    if tolerance < 0:
        raise InvalidArgument("tolerance", f"must be >= 0, got {tolerance}")
    for name, t in (("expected", expected), ("observed", observed)):
        if not isinstance(t, torch.Tensor):
            raise InvalidArgument(name, f"expected a torch.Tensor, got {type(t).__name__}")
    inf = math.inf
    if expected.shape != observed.shape:
        return Comparison(False, False, inf, inf, "shape")
    if expected.dtype != observed.dtype:
        return Comparison(False, False, inf, inf, "dtype")
    name = dtype_name(expected.dtype)
    exp = expected.detach().to("cpu")
    obs = observed.detach().to("cpu")
    if torch.equal(_bits(exp), _bits(obs)):
        return Comparison(True, True, 0.0, 0.0, "bitwise")
    if name in INTEGER_DTYPES:
        diff = (exp.to(torch.float64) - obs.to(torch.float64)).abs().max().item()
        scale = exp.to(torch.float64).abs().max().item()
        return Comparison(False, False, diff / scale if scale else inf, diff, "integer_mismatch")
    e64 = exp.to(torch.float64)
    o64 = obs.to(torch.float64)
    e_fin = torch.isfinite(e64)
    o_fin = torch.isfinite(o64)
    same_nonfinite = (
        torch.equal(e_fin, o_fin)
        and torch.equal(torch.isnan(e64), torch.isnan(o64))
        and torch.equal(e64[~e_fin & ~torch.isnan(e64)], o64[~o_fin & ~torch.isnan(o64)])
    )
    if not same_nonfinite:
        return Comparison(False, False, inf, inf, "nonfinite")
    if not bool(e_fin.any()):
        # Only non-finite values, at the same places and of the same kinds: NaN payloads differ.
        return Comparison(True, False, 0.0, 0.0, "within_tolerance")
    diff = (e64[e_fin] - o64[e_fin]).abs().max().item()
    scale = e64[e_fin].abs().max().item()
    if scale == 0.0:
        if diff == 0.0:  # e.g. +0.0 against -0.0: no value differs
            return Comparison(True, False, 0.0, 0.0, "within_tolerance")
        return Comparison(False, False, inf, diff, "zero_scale")
    scaled = diff / scale
    passed = scaled <= tolerance
    return Comparison(passed, False, scaled, diff, "within_tolerance" if passed else "exceeds_tolerance")
