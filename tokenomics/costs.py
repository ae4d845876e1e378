"""What running a GPU costs: power, other operating costs, utilization, cost of capital.

Shared by the depreciation model (a GPU is retired once its hour earns less than it costs to run)
and the provider economics (break-even and reserve prices). Defaults come from the market-data
file, where each is marked as an assumption.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenomics.market_data import GpuClass, load_market_data
from tokenomics.units import check_fraction, check_positive


@dataclass(frozen=True)
class OperatingCosts:
    """Running costs of one GPU (USD); ``utilization`` is the share of hours sold."""

    electricity_usd_per_kwh: float
    pue: float
    other_opex_usd_per_hour: float
    utilization: float
    discount_rate: float

    def __post_init__(self) -> None:
        check_positive("electricity_usd_per_kwh", self.electricity_usd_per_kwh, allow_zero=True)
        check_positive("pue", self.pue)
        if self.pue < 1:
            check_positive("pue (>= 1)", self.pue - 1, allow_zero=True)
        check_positive("other_opex_usd_per_hour", self.other_opex_usd_per_hour, allow_zero=True)
        check_fraction("utilization", self.utilization, allow_zero=False)
        check_positive("discount_rate", self.discount_rate, allow_zero=True)

    @classmethod
    def defaults(cls, **overrides: float) -> OperatingCosts:
        """The data file's defaults, with any field replaced by a keyword."""
        m = load_market_data().market
        values = {
            "electricity_usd_per_kwh": m.electricity_usd_per_kwh.value,
            "pue": m.pue.value,
            "other_opex_usd_per_hour": m.other_opex_usd_per_hour.value,
            "utilization": m.utilization.value,
            "discount_rate": m.discount_rate.value,
        }
        values.update(overrides)
        return cls(**values)

    def energy_usd_per_hour(self, gpu: GpuClass, *, power_kw: float | None = None) -> float:
        """Electricity for one running GPU-hour, facility overhead (PUE) included."""
        kw = gpu.power_kw.value if power_kw is None else check_positive("power_kw", power_kw)
        return kw * self.pue * self.electricity_usd_per_kwh

    def marginal_usd_per_hour(self, gpu: GpuClass, *, power_kw: float | None = None) -> float:
        """Cash cost of one more GPU-hour (energy + other opex): the price below which a GPU idles."""
        return self.energy_usd_per_hour(gpu, power_kw=power_kw) + self.other_opex_usd_per_hour
