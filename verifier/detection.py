"""Detection math: how many units to sample so that a cheater is caught with a target probability.

A provider that corrupted ``b`` of ``N`` units survives an audit of ``k`` distinct units drawn
uniformly without replacement (:mod:`verifier.sampling`) with the hypergeometric probability

    S(k) = C(N-b, k) / C(N, k) = prod_{i<k} (N-b-i) / (N-i)

so it is caught with ``1 - S(k)``. :func:`plan_samples` returns the smallest ``k`` with
``1 - S(k) ≥ confidence`` for ``b = ceil(F·N)``; the economics (tokenomics) use the same function.

Exactness: ``F`` and the confidence are parsed as exact decimals (``Fraction("0.05")``; a float is
read through its shortest repr, so ``0.1`` means 1/10, not the binary double), so ``ceil(F·N)`` has
no float error. ``k`` is located with float log-sums and then confirmed at the boundary with exact
integer arithmetic (or 60-digit decimals when k is large), so ties such as ``1 - S(k) == C``
resolve the right way.

Error handling: values outside ``N ≥ 1``, ``0 < F ≤ 1``, ``0 < C < 1`` (NaN, infinities, huge
exponents, non-numbers) raise :class:`verifier.errors.InvalidArgument` naming the argument.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from numbers import Rational
from typing import Final

import numpy as np

from verifier.errors import InvalidArgument

MAX_SAMPLES: Final = 10_000_000
"""Largest k that :func:`plan_samples` will search for; asking for more is an error."""

_EXACT_BIT_BUDGET: Final = 1 << 18  # k·bitlen(N) up to this: exact integer products are cheap
_CHUNK: Final = 1 << 16
_NUMBER = re.compile(r"[+-]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:[eE][+-]?\d{1,3})?")
_RATIO = re.compile(r"[+-]?\d{1,40}/\d{1,40}")


def parse_fraction(name: str, value: object) -> Fraction:
    """An exact rational from a decimal string, a ratio ``"p/q"``, an int, a Fraction or a float.

    Floats go through ``repr`` (shortest round-trip decimal). NaN, infinities, bools, over-long
    strings and exponents beyond ±999 raise :class:`InvalidArgument` for ``name``.
    """
    if isinstance(value, bool):
        raise InvalidArgument(name, "expected a number, got a bool")
    if isinstance(value, (Fraction, int)):
        return Fraction(value)
    if isinstance(value, Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, (float, Decimal)):
        value = repr(float(value)) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise InvalidArgument(name, f"expected a number, got {type(value).__name__}")
    text = value.strip()
    if not (_NUMBER.fullmatch(text) or _RATIO.fullmatch(text)):
        raise InvalidArgument(name, f"not a finite decimal number: {value!r}")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidArgument(name, f"not a finite decimal number: {value!r}") from None


def _check_counts(n_units: int, n_bad: int, k: int) -> None:
    for name, v in (("n_units", n_units), ("n_bad", n_bad), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidArgument(name, f"expected an integer, got {v!r}")
    if n_units < 1:
        raise InvalidArgument("n_units", f"must be at least 1, got {n_units}")
    if not 0 <= n_bad <= n_units:
        raise InvalidArgument("n_bad", f"must be in [0, {n_units}], got {n_bad}")
    if not 0 <= k <= n_units:
        raise InvalidArgument("k", f"must be in [0, {n_units}], got {k}")


def survival_exact(n_units: int, n_bad: int, k: int) -> Fraction:
    """``C(N-b, k) / C(N, k)`` as an exact fraction (cost grows as k²·log N; keep k moderate)."""
    _check_counts(n_units, n_bad, k)
    if k > n_units - n_bad:
        return Fraction(0)
    num = den = 1
    for i in range(k):
        num *= n_units - n_bad - i
        den *= n_units - i
    return Fraction(num, den)


def _log_survival(n_units: int, n_bad: int, k: int) -> float:
    """``log S(k)`` in float64 (``-inf`` once a bad unit is certain to be drawn)."""
    if k > n_units - n_bad:
        return -math.inf
    if n_bad == 0 or k == 0:
        return 0.0
    i = np.arange(k, dtype=np.float64)
    return math.fsum(np.log1p(-n_bad / (n_units - i)).tolist())


def detection_probability(n_units: int, n_bad: int, k: int) -> float:
    """Probability that k distinct uniform samples of N units hit at least one of b bad ones.

    Exactly ``1 - C(N-b, k) / C(N, k)``, rounded once to float where the exact fraction is cheap,
    otherwise computed from a compensated float64 log-sum (relative error ~1e-15).
    """
    _check_counts(n_units, n_bad, k)
    if k * max(n_units.bit_length(), 1) <= _EXACT_BIT_BUDGET:
        return float(1 - survival_exact(n_units, n_bad, k))
    return -math.expm1(_log_survival(n_units, n_bad, k))


def _survival_at_most(n_units: int, n_bad: int, k: int, target: Fraction) -> bool:
    """Exactly (or to 60 digits for large k) whether ``S(k) ≤ target``."""
    if k > n_units - n_bad:
        return True
    if n_bad == 1:  # S(k) = (N-k)/N exactly: the common tie case at large k, decided for free
        return Fraction(n_units - k, n_units) <= target
    if k * max(n_units.bit_length(), 1) <= _EXACT_BIT_BUDGET:
        return survival_exact(n_units, n_bad, k) <= target
    # The compensated log-sum is accurate to a few ulps of |log S|; decide from it unless the
    # two sides are closer than a generous margin, and only then pay for the O(k) decimal product.
    log_s = _log_survival(n_units, n_bad, k)
    log_t = math.log(target.numerator) - math.log(target.denominator)
    margin = 1e-12 * (1.0 + abs(log_t))
    if log_s < log_t - margin:
        return True
    if log_s > log_t + margin:
        return False
    with localcontext() as ctx:
        ctx.prec = 60
        s = Decimal(1)
        for i in range(k):
            s = s * (n_units - n_bad - i) / (n_units - i)
        return s <= Decimal(target.numerator) / Decimal(target.denominator)


def _first_k_float(n_units: int, n_bad: int, log_target: float) -> int:
    """Smallest k with float ``log S(k) ≤ log_target`` (searched in vectorised chunks)."""
    acc = 0.0
    start = 0
    limit = min(n_units - n_bad + 1, MAX_SAMPLES + 1)
    while start < limit:
        stop = min(start + _CHUNK, limit)
        i = np.arange(start, stop, dtype=np.float64)
        remaining = n_units - i
        with np.errstate(divide="ignore"):
            terms = np.log1p(-n_bad / remaining)
        sums = acc + np.cumsum(terms)
        hit = np.nonzero(sums <= log_target)[0]
        if hit.size:
            return start + int(hit[0]) + 1
        acc = float(sums[-1])
        start = stop
    return limit


@dataclass(frozen=True)
class AuditPlan:
    """How many units to audit: ``k`` samples catch ``n_bad`` corrupted units of ``n_units``
    with ``detection_probability`` (≥ the requested confidence; the smallest such k)."""

    n_units: int
    n_bad: int
    k: int
    detection_probability: float
    min_cheat_fraction: Fraction
    confidence: Fraction


def plan_samples(
    *, n_units: int, min_cheat_fraction: float | Fraction | str, confidence: float | Fraction | str
) -> AuditPlan:
    """The smallest k that catches a provider who corrupted at least ``ceil(F·N)`` of N units
    with probability at least ``confidence``.

    Valid input: integer ``n_units ≥ 1``, ``0 < F ≤ 1``, ``0 < confidence < 1``; a k above
    :data:`MAX_SAMPLES` is refused (ask for a larger cheat fraction or a lower confidence).
    """
    if isinstance(n_units, bool) or not isinstance(n_units, int):
        raise InvalidArgument("n_units", f"expected an integer, got {n_units!r}")
    if n_units < 1:
        raise InvalidArgument("n_units", f"must be at least 1, got {n_units}")
    frac = parse_fraction("min_cheat_fraction", min_cheat_fraction)
    if not 0 < frac <= 1:
        raise InvalidArgument("min_cheat_fraction", f"must be in (0, 1], got {min_cheat_fraction}")
    conf = parse_fraction("confidence", confidence)
    if not 0 < conf < 1:
        raise InvalidArgument("confidence", f"must be in (0, 1), got {confidence}")
    n_bad = -((-frac.numerator * n_units) // frac.denominator)  # ceil without floats
    target = 1 - conf  # survival must not exceed this
    log_target = math.log(target.numerator) - math.log(target.denominator)
    k = max(1, _first_k_float(n_units, n_bad, log_target))
    # The float search can be off by one at a tie; settle the boundary exactly.
    while k <= MAX_SAMPLES and not _survival_at_most(n_units, n_bad, k, target):
        k += 1
    if k > MAX_SAMPLES:
        raise InvalidArgument(
            "min_cheat_fraction",
            f"catching {n_bad} of {n_units} units with confidence {confidence} needs more than "
            f"{MAX_SAMPLES:,} samples; raise the cheat fraction or lower the confidence",
        )
    while k > 1 and _survival_at_most(n_units, n_bad, k - 1, target):
        k -= 1
    return AuditPlan(
        n_units=n_units,
        n_bad=n_bad,
        k=k,
        detection_probability=detection_probability(n_units, n_bad, k),
        min_cheat_fraction=frac,
        confidence=conf,
    )


def plan_table(
    *,
    unit_counts: tuple[int, ...] = (100, 1_000, 10_000, 100_000),
    cheat_fractions: tuple[str, ...] = ("0.01", "0.05", "0.1", "0.25"),
    confidence: float | Fraction | str = "0.99",
) -> str:
    """A printable table of k (and k as a share of N) per unit count and cheat fraction."""
    header = ["N \\ F", *cheat_fractions]
    rows: list[list[str]] = []
    for n in unit_counts:
        row = [f"{n:,}"]
        for f in cheat_fractions:
            plan = plan_samples(n_units=n, min_cheat_fraction=f, confidence=confidence)
            row.append(f"{plan.k} ({100 * plan.k / n:.2g}%)")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"k for detection probability >= {confidence} (k as % of N)"]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
