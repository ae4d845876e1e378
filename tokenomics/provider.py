"""Provider economics: break-even and reserve prices, and selling GPU-hours forward versus waiting.

Prices per GPU-hour (USD, floats: model outputs). Capital is recovered with the capital-recovery
factor ``CRF = r / (1 - (1 + r)^-L)`` (``1/L`` when ``r = 0``) over the depreciation life ``L``:

- ``marginal``: cash cost of one more hour (energy × PUE + other opex); below it the GPU idles.
- ``reserve``: marginal + capex·CRF / 8760, the cost of an hour at 100 % utilization. A price below
  it can never pay back the GPU, however full it is kept; forward claims are never priced below it.
- ``break_even(u)``: marginal + capex·CRF / (8760·u), the full cost of a sold hour at utilization u.

Forward versus spot: selling H hours of a future window today at price F earns F now, pays the
cash cost when the hours are delivered and ties up collateral until the window ends; waiting sells
each hour at the model spot price with probability u (the utilization). :func:`forward_vs_spot`
returns both present values and the utilization at which they are equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tokenomics.costs import OperatingCosts
from tokenomics.depreciation import MAX_YEARS, DepreciationModel
from tokenomics.errors import ParameterError
from tokenomics.forward import ForwardTerms, forward_price
from tokenomics.market_data import HOURS_PER_YEAR, GpuClass, load_market_data
from tokenomics.units import check_fraction, check_positive, usd_to_units


@dataclass(frozen=True)
class ProviderTerms:
    """One GPU's capex, power draw and depreciation life, plus its running costs."""

    capex_usd: float
    power_kw: float
    life_years: float
    costs: OperatingCosts

    def __post_init__(self) -> None:
        check_positive("capex_usd", self.capex_usd, allow_zero=True)
        check_positive("power_kw", self.power_kw, allow_zero=True)
        check_positive("life_years", self.life_years)
        if self.life_years > MAX_YEARS:
            raise ParameterError("life_years", f"must be at most {MAX_YEARS:g}, got {self.life_years}")

    @classmethod
    def for_class(
        cls, gpu: GpuClass, *, costs: OperatingCosts | None = None, **overrides: float
    ) -> ProviderTerms:
        """Terms from the data file for ``gpu`` (capex, power, 6-year life), fields overridable."""
        values: dict[str, float] = {
            "capex_usd": gpu.capex_usd.value,
            "power_kw": gpu.power_kw.value,
            "life_years": load_market_data().market.depreciation_life_years.value,
        }
        values.update(overrides)
        return cls(costs=costs or OperatingCosts.defaults(), **values)

    @property
    def capital_recovery_factor(self) -> float:
        """Share of capex to recover each year, cost of capital included."""
        r = self.costs.discount_rate
        if r == 0:
            return 1.0 / self.life_years
        # -expm1(-L·log1p(r)) is 1 - (1+r)^-L without cancellation for tiny r
        return r / -math.expm1(-self.life_years * math.log1p(r))

    @property
    def marginal_usd_per_hour(self) -> float:
        """Cash cost of one more running hour."""
        return (
            self.power_kw * self.costs.pue * self.costs.electricity_usd_per_kwh
            + self.costs.other_opex_usd_per_hour
        )

    @property
    def reserve_usd_per_hour(self) -> float:
        """Cost of an hour at full utilization: never sell a forward hour below this."""
        return self.marginal_usd_per_hour + self.capex_usd * self.capital_recovery_factor / HOURS_PER_YEAR

    def break_even_usd_per_hour(self, utilization: float | None = None) -> float:
        """Full cost of a sold hour at ``utilization`` (default: the costs' utilization)."""
        u = (
            self.costs.utilization
            if utilization is None
            else check_fraction("utilization", utilization, allow_zero=False)
        )
        return self.marginal_usd_per_hour + self.capex_usd * self.capital_recovery_factor / (
            HOURS_PER_YEAR * u
        )


@dataclass(frozen=True)
class ForwardVsSpot:
    """Present values (USD) of selling a window's hours forward now versus at spot later."""

    hours: float
    forward_price_usd: float
    npv_forward_usd: float
    npv_spot_usd: float
    advantage_usd: float
    breakeven_utilization: float | None


def forward_vs_spot(
    gpu: GpuClass,
    *,
    terms: ProviderTerms,
    start_years: float,
    end_years: float,
    hours: float,
    model: DepreciationModel,
    forward_price_usd: float | None = None,
    collateral_usd_per_hour: float = 0.0,
    samples: int = 257,
) -> ForwardVsSpot:
    """NPV of selling ``hours`` of the window forward today versus waiting for spot.

    ``forward_price_usd`` defaults to the model forward price (no default risk: the provider knows
    it will deliver). ``breakeven_utilization`` is the spot utilization at which waiting pays the
    same (None when waiting loses even at 100 %).
    """
    check_positive("hours", hours)
    check_positive("collateral_usd_per_hour", collateral_usd_per_hour, allow_zero=True)
    r = terms.costs.discount_rate
    if forward_price_usd is None:
        forward_price_usd = forward_price(
            gpu,
            start_years=start_years,
            end_years=end_years,
            model=model,
            terms=ForwardTerms(discount_rate=r, default_hazard=0.0),
        )
    check_positive("forward_price_usd", forward_price_usd, allow_zero=True)
    s = np.linspace(start_years, end_years, samples)
    disc = np.exp(-r * s)
    width = end_years - start_years
    pv_cost = float(np.trapezoid(disc * terms.marginal_usd_per_hour, s) / width)
    spot = np.array([model.spot(gpu, float(x)) for x in s])
    pv_margin = float(np.trapezoid(disc * (spot - terms.marginal_usd_per_hour), s) / width)
    carry = collateral_usd_per_hour * (1.0 - math.exp(-r * end_years))
    npv_fwd = hours * (forward_price_usd - pv_cost - carry)
    u = terms.costs.utilization
    npv_spot = hours * u * pv_margin
    u_star = npv_fwd / (hours * pv_margin) if pv_margin > 0 else None
    return ForwardVsSpot(
        hours=hours,
        forward_price_usd=forward_price_usd,
        npv_forward_usd=npv_fwd,
        npv_spot_usd=npv_spot,
        advantage_usd=npv_fwd - npv_spot,
        breakeven_utilization=u_star if u_star is not None and u_star <= 1 else None,
    )


@dataclass(frozen=True)
class ClaimQuote:
    """A price for a capacity-claim series: the model forward price, floored at the reserve."""

    price_usd: float
    price_units: int
    forward_usd: float
    reserve_usd: float
    basis: str  # "forward" or "reserve"


def quote_claim(
    gpu: GpuClass,
    *,
    start_years: float,
    end_years: float,
    model: DepreciationModel | None = None,
    terms: ProviderTerms | None = None,
    forward_terms: ForwardTerms | None = None,
    usd_per_token: float = 1.0,
) -> ClaimQuote:
    """What a provider asks per GPU-hour token of a series: max(forward price, reserve), in base units too."""
    model = model or DepreciationModel.defaults()
    terms = terms or ProviderTerms.for_class(gpu)
    fwd = forward_price(
        gpu,
        start_years=start_years,
        end_years=end_years,
        model=model,
        terms=forward_terms or ForwardTerms(discount_rate=terms.costs.discount_rate, default_hazard=0.0),
    )
    reserve = terms.reserve_usd_per_hour
    price, basis = (fwd, "forward") if fwd >= reserve else (reserve, "reserve")
    # Round to a micro-dollar so the on-chain price is a tidy decimal of the model's float.
    return ClaimQuote(
        price_usd=price,
        price_units=usd_to_units(f"{price:.6f}", usd_per_token=usd_per_token),
        forward_usd=fwd,
        reserve_usd=reserve,
        basis=basis,
    )
