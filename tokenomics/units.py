"""Money at the boundary with the chain: integers in the token's smallest unit.

The models work in floats (USD per GPU-hour); anything that is paid, escrowed or slashed is an
``int`` of base units (``10**TOKEN_DECIMALS`` per token). Conversion goes through ``Decimal`` of the
float's shortest repr, so ``2.6`` becomes exactly 2.6 tokens, never 2.59999….

Assumption: one token is worth ``usd_per_token`` dollars (default 1, a USD-pegged unit of account).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from tokenomics.errors import ParameterError

TOKEN_DECIMALS: Final = 18
UNIT: Final = 10**TOKEN_DECIMALS
"""Base units per token."""
BPS: Final = 10_000
"""Basis points in one (the contracts express shares and probabilities in bps)."""


def to_decimal(name: str, value: float | int | str | Decimal) -> Decimal:
    """A finite ``Decimal`` from a number or a decimal string, else :class:`ParameterError`."""
    if isinstance(value, bool):
        raise ParameterError(name, "expected a number, got a bool")
    try:
        dec = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ParameterError(name, f"not a number: {value!r}") from None
    if not dec.is_finite():
        raise ParameterError(name, f"must be finite, got {value!r}")
    return dec


def usd_to_units(usd: float | int | str | Decimal, *, usd_per_token: float | str | Decimal = 1) -> int:
    """Dollars to token base units (rounded half-even to one unit)."""
    amount = to_decimal("usd", usd)
    rate = to_decimal("usd_per_token", usd_per_token)
    if rate <= 0:
        raise ParameterError("usd_per_token", f"must be positive, got {usd_per_token}")
    return int((amount / rate * UNIT).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def tokens_to_units(tokens: float | int | str | Decimal) -> int:
    """Whole tokens (a decimal) to base units; more than 18 decimals is an error, not a rounding."""
    dec = to_decimal("tokens", tokens)
    units = dec * UNIT
    if units != units.to_integral_value():
        raise ParameterError("tokens", f"{tokens} has more than {TOKEN_DECIMALS} decimals")
    return int(units)


def units_to_tokens(units: int) -> str:
    """Base units as a decimal string of tokens (exact), for people and JSON."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), UNIT)
    text = f"{whole}.{frac:0{TOKEN_DECIMALS}d}".rstrip("0").rstrip(".")
    return sign + text


def units_to_float(units: int) -> float:
    """Base units as float tokens: for models and plots only."""
    return units / UNIT


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """``value`` if finite and > 0 (or ≥ 0 with ``allow_zero``), else :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(name, f"must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ParameterError(name, f"must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


def check_fraction(name: str, value: float, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """``value`` in [0, 1] (ends as allowed), else :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(name, f"must be a finite number, got {value!r}")
    low_ok = value > 0 or (allow_zero and value == 0)
    high_ok = value < 1 or (allow_one and value == 1)
    if not (low_ok and high_ok):
        lo = "[" if allow_zero else "("
        hi = "]" if allow_one else ")"
        raise ParameterError(name, f"must be in {lo}0, 1{hi}, got {value}")
    return float(value)
