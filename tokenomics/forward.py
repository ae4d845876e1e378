"""Forward prices of capacity claims: what a GPU-hour delivered in a future window is worth today.

A claim on one GPU-hour of class ``c`` in the window ``[T1, T2]`` (years from now) is worth the
average over the window of the discounted model spot price, less the expected loss from the
provider defaulting, which the claim's collateral covers in part:

    F = 1/(T2-T1) ∫_{T1}^{T2} e^{-r s} [ spot(s) - PD(s) · max(spot(s) - c, 0) ] ds

with ``spot`` from :class:`tokenomics.depreciation.DepreciationModel` (not fitted to the noisy
price history), ``r`` the buyer's discount rate, ``PD(s) = 1 - e^{-h s}`` the probability that the
provider has defaulted by ``s`` under a constant hazard ``h`` a year, and ``c`` the collateral per
GPU-hour (USD) the holder receives on default. Under positive depreciation, discounting or
default risk, the price falls as the window moves out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tokenomics.depreciation import MAX_YEARS, DepreciationModel
from tokenomics.errors import ParameterError
from tokenomics.market_data import GpuClass
from tokenomics.units import check_positive

MONTHS_PER_YEAR = 12.0


@dataclass(frozen=True)
class ForwardTerms:
    """The buyer's view: discount rate, provider default hazard, collateral per GPU-hour (USD)."""

    discount_rate: float = 0.10
    default_hazard: float = 0.05
    collateral_usd_per_hour: float = 0.0

    def __post_init__(self) -> None:
        check_positive("discount_rate", self.discount_rate, allow_zero=True)
        check_positive("default_hazard", self.default_hazard, allow_zero=True)
        check_positive("collateral_usd_per_hour", self.collateral_usd_per_hour, allow_zero=True)


@dataclass(frozen=True)
class ForwardPoint:
    """Price today (USD per GPU-hour) of a claim on the window starting ``months_ahead`` from now."""

    months_ahead: float
    window_months: float
    price: float
    spot_at_start: float


def forward_price(
    gpu: GpuClass,
    *,
    start_years: float,
    end_years: float,
    model: DepreciationModel,
    terms: ForwardTerms,
    samples: int = 257,
) -> float:
    """Fair price today (USD per GPU-hour) of one GPU-hour in ``[start_years, end_years]``."""
    t1 = check_positive("start_years", start_years, allow_zero=True)
    t2 = check_positive("end_years", end_years)
    if t2 <= t1:
        raise ParameterError("end_years", f"window must end after it starts ({t1} >= {t2})")
    if t2 > MAX_YEARS:
        raise ParameterError("end_years", f"must be at most {MAX_YEARS:g} years, got {t2}")
    s = np.linspace(t1, t2, samples)
    spot = np.array([model.spot(gpu, float(x)) for x in s])
    pd = 1.0 - np.exp(-terms.default_hazard * s)
    expected = spot - pd * np.maximum(spot - terms.collateral_usd_per_hour, 0.0)
    integrand = np.exp(-terms.discount_rate * s) * expected
    return float(np.trapezoid(integrand, s) / (t2 - t1))


def parse_months(text: str) -> list[float]:
    """``"1,3,6,12"`` → ``[1.0, 3.0, 6.0, 12.0]``; negative, non-finite or empty entries are errors."""
    out: list[float] = []
    for part in text.split(","):
        item = part.strip()
        try:
            value = float(item)
        except ValueError:
            raise ParameterError("months", f"not a number: {item!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ParameterError("months", f"must be finite and >= 0, got {item!r}")
        if value > MAX_YEARS * MONTHS_PER_YEAR - 120:
            raise ParameterError("months", f"too far ahead: {item} (at most {int(MAX_YEARS * 12 - 120)})")
        out.append(value)
    if not out:
        raise ParameterError("months", "give at least one month")
    return out


def forward_curve(
    gpu: GpuClass,
    months: list[float],
    *,
    model: DepreciationModel,
    terms: ForwardTerms,
    window_months: float = 1.0,
) -> list[ForwardPoint]:
    """One :class:`ForwardPoint` per start month, each for a window of ``window_months``."""
    check_positive("window_months", window_months)
    if window_months > 120:
        raise ParameterError("window_months", f"must be at most 120, got {window_months}")
    points = []
    for m in months:
        check_positive("months_ahead", m, allow_zero=True)
        start = m / MONTHS_PER_YEAR
        price = forward_price(
            gpu,
            start_years=start,
            end_years=start + window_months / MONTHS_PER_YEAR,
            model=model,
            terms=terms,
        )
        points.append(
            ForwardPoint(
                months_ahead=m, window_months=window_months, price=price, spot_at_start=model.spot(gpu, start)
            )
        )
    return points
