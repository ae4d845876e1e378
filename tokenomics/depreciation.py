"""Endogenous depreciation: a GPU-hour loses value when the next generation does more per dollar.

Model. New GPU generations arrive every ``cadence_years``, each delivering ``step`` times more
throughput per dollar. Buyers pay for work, so the market price of an hour of an older class
falls by the same factor at each release (the "Red Queen" effect of Zhang & Zhang, arXiv
2601.12339): ``spot(t) = spot(0) · step^(-g(t))`` where ``g(t)`` counts generations released by
``t``. In ``continuous`` mode ``g(t) = t / cadence`` (the expected path when release dates are
uncertain); in ``stepped`` mode the price jumps at each release, the first one
``years_to_next_release`` from now. The class's throughput enters through the price per TFLOP-hour:
a GPU of measured throughput is worth its TFLOP/s times that price (:func:`value_for_throughput`).

A GPU is retired once its hour fetches less than its cash cost (power and other opex): that is its
*economic life*, to compare with the straight-line and declining-balance book lives operators report.
The *economic value* of a GPU is the present value of its net rents until then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tokenomics.costs import OperatingCosts
from tokenomics.errors import ParameterError
from tokenomics.market_data import HOURS_PER_YEAR, GpuClass, load_market_data
from tokenomics.units import check_positive

Mode = Literal["continuous", "stepped"]
MAX_YEARS = 50.0


@dataclass(frozen=True)
class DepreciationModel:
    """Release cadence and perf-per-dollar step of new generations (see the module docstring)."""

    cadence_years: float
    step: float
    mode: Mode = "continuous"
    years_to_next_release: float = 0.5

    def __post_init__(self) -> None:
        check_positive("cadence_years", self.cadence_years)
        check_positive("step", self.step)
        if self.step < 1:
            raise ParameterError("step", f"perf-per-dollar step must be >= 1, got {self.step}")
        if self.mode not in ("continuous", "stepped"):
            raise ParameterError("mode", f"must be 'continuous' or 'stepped', got {self.mode!r}")
        check_positive("years_to_next_release", self.years_to_next_release, allow_zero=True)

    @classmethod
    def defaults(cls, **overrides: object) -> DepreciationModel:
        """Cadence and step from the market-data file (1 year, 1.4: Epoch AI's 2.07-year doubling)."""
        m = load_market_data().market
        values: dict[str, object] = {
            "cadence_years": m.release_cadence_years.value,
            "step": m.perf_per_dollar_step.value,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def annual_decline(self) -> float:
        """Average share of value lost per year (``1 - step^(-1/cadence)``)."""
        return 1.0 - self.step ** (-1.0 / self.cadence_years)

    def generations(self, years: float) -> float:
        """How many generations have been released ``years`` from now (fractional when continuous)."""
        t = _check_time("years", years)
        if self.mode == "continuous":
            return t / self.cadence_years
        if t < self.years_to_next_release:
            return 0.0
        return 1.0 + math.floor((t - self.years_to_next_release) / self.cadence_years)

    def factor(self, years: float) -> float:
        """Value of a GPU-hour ``years`` from now relative to today (1 at t = 0, falling)."""
        return float(self.step ** (-self.generations(years)))

    def spot(self, gpu: GpuClass, years: float) -> float:
        """Model spot price (USD per GPU-hour) of ``gpu`` in ``years``."""
        return gpu.spot_usd_per_hour.value * self.factor(years)

    def years_until_factor(self, ratio: float) -> float:
        """First time at which the value has fallen to ``ratio`` (0 < ratio ≤ 1) of today's."""
        if not 0 < ratio <= 1:
            raise ParameterError("ratio", f"must be in (0, 1], got {ratio}")
        if ratio == 1:
            return 0.0
        if self.step == 1:
            return math.inf
        gens = math.log(1 / ratio) / math.log(self.step)
        if self.mode == "continuous":
            return gens * self.cadence_years
        n = math.ceil(gens - 1e-12)
        return self.years_to_next_release + (n - 1) * self.cadence_years


def value_for_throughput(
    tflops: float, years: float, *, model: DepreciationModel, reference: GpuClass
) -> float:
    """USD per hour of a GPU measured at ``tflops`` dense TFLOP/s, priced per TFLOP-hour as ``reference``."""
    check_positive("tflops", tflops)
    return tflops * reference.usd_per_tflop_hour * model.factor(years)


def economic_life_years(gpu: GpuClass, *, model: DepreciationModel, costs: OperatingCosts) -> float:
    """Years until the hour's model price falls below its cash cost (the GPU is then retired)."""
    marginal = costs.marginal_usd_per_hour(gpu)
    anchor = gpu.spot_usd_per_hour.value
    if marginal <= 0:
        return math.inf
    if anchor <= marginal:
        return 0.0
    return model.years_until_factor(marginal / anchor)


def economic_value(
    gpu: GpuClass, years: float, *, model: DepreciationModel, costs: OperatingCosts, samples: int = 2000
) -> float:
    """Present value at ``years`` of the GPU's net rents until retirement (USD; model, float).

    ``∫ e^{-r(s-t)} · 8760 · u · max(spot(s) - cash cost, 0) ds`` from ``t`` to the economic life,
    integrated numerically (the stepped mode has jumps, so no closed form is used for either mode).
    """
    t0 = _check_time("years", years)
    life = min(economic_life_years(gpu, model=model, costs=costs), MAX_YEARS)
    if t0 >= life:
        return 0.0
    s = np.linspace(t0, life, samples)
    marginal = costs.marginal_usd_per_hour(gpu)
    rent = np.array([max(model.spot(gpu, float(x)) - marginal, 0.0) for x in s])
    integrand = np.exp(-costs.discount_rate * (s - t0)) * HOURS_PER_YEAR * costs.utilization * rent
    return float(np.trapezoid(integrand, s))


def straight_line(capex: float, life_years: float, years: float) -> float:
    """Book value under straight-line depreciation over ``life_years`` (what CoreWeave reports)."""
    check_positive("capex", capex, allow_zero=True)
    check_positive("life_years", life_years)
    return capex * max(0.0, 1.0 - _check_time("years", years) / life_years)


def declining_balance(capex: float, life_years: float, years: float, *, rate_multiple: float = 2.0) -> float:
    """Book value under declining balance at ``rate_multiple / life`` a year (double-declining by default)."""
    check_positive("capex", capex, allow_zero=True)
    check_positive("life_years", life_years)
    rate = check_positive("rate_multiple", rate_multiple) / life_years
    if rate >= 1:
        raise ParameterError("rate_multiple", f"rate_multiple / life_years must be < 1, got {rate}")
    return capex * (1.0 - rate) ** _check_time("years", years)


@dataclass(frozen=True)
class DepreciationPoint:
    """One row of :func:`depreciation_curve`: hour price and asset values at ``years``."""

    years: float
    spot_usd_per_hour: float
    economic_value_usd: float
    straight_line_usd: float
    declining_balance_usd: float


def depreciation_curve(
    gpu: GpuClass,
    *,
    model: DepreciationModel,
    costs: OperatingCosts,
    life_years: float,
    horizon_years: float,
    points: int = 25,
) -> list[DepreciationPoint]:
    """The hour price and three asset values (economic, straight-line, declining) over a horizon."""
    check_positive("horizon_years", horizon_years)
    if horizon_years > MAX_YEARS:
        raise ParameterError("horizon_years", f"must be at most {MAX_YEARS:g}, got {horizon_years}")
    if not 2 <= points <= 1000:
        raise ParameterError("points", f"must be in [2, 1000], got {points}")
    capex = gpu.capex_usd.value
    out = []
    for t in np.linspace(0.0, horizon_years, points):
        x = float(t)
        out.append(
            DepreciationPoint(
                years=x,
                spot_usd_per_hour=model.spot(gpu, x),
                economic_value_usd=economic_value(gpu, x, model=model, costs=costs, samples=400),
                straight_line_usd=straight_line(capex, life_years, x),
                declining_balance_usd=declining_balance(capex, life_years, x),
            )
        )
    return out


def _check_time(name: str, years: float) -> float:
    value = check_positive(name, years, allow_zero=True)
    if value > MAX_YEARS:
        raise ParameterError(name, f"must be at most {MAX_YEARS:g} years, got {years}")
    return value
