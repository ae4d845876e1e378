"""The market figures the models start from, read from ``tokenomics/data/gpu_classes.json``.

Every figure in that file carries its source (public reports gathered in the project's
MARKET-DATA.md) or is flagged ``"assumption": true`` / ``"derived": true``; this module keeps
those flags so that reports can say which numbers are data and which are ours.

Error handling: a missing or malformed file, or an unknown GPU class, raises
:class:`tokenomics.errors.MarketDataError` (the CLI prints it as one line).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tokenomics.errors import MarketDataError

DATA_FILE = Path(__file__).parent / "data" / "gpu_classes.json"
HOURS_PER_YEAR = 8760


@dataclass(frozen=True)
class Figure:
    """One number with where it comes from; ``assumption``/``derived`` mark what is not a report."""

    value: float
    source: str
    assumption: bool = False
    derived: bool = False


@dataclass(frozen=True)
class GpuClass:
    """A GPU class: today's spot price anchor, datasheet throughput and power, assumed capex."""

    name: str
    spot_usd_per_hour: Figure
    dense_bf16_tflops: Figure
    power_kw: Figure
    capex_usd: Figure

    @property
    def usd_per_tflop_hour(self) -> float:
        """Today's price of one dense BF16 TFLOP/s for an hour (a throughput-per-dollar figure)."""
        return self.spot_usd_per_hour.value / self.dense_bf16_tflops.value


@dataclass(frozen=True)
class MarketDefaults:
    """Market-wide defaults (release cadence, perf-per-dollar step, costs) with their sources."""

    release_cadence_years: Figure
    perf_per_dollar_step: Figure
    depreciation_life_years: Figure
    discount_rate: Figure
    electricity_usd_per_kwh: Figure
    pue: Figure
    other_opex_usd_per_hour: Figure
    utilization: Figure
    demand_elasticity: Figure


@dataclass(frozen=True)
class MarketData:
    """The parsed data file."""

    market: MarketDefaults
    classes: dict[str, GpuClass]

    def gpu_class(self, name: str) -> GpuClass:
        """The class called ``name`` (case-insensitive); an unknown name is a clear error."""
        key = name.strip().upper()
        if key not in self.classes:
            known = ", ".join(sorted(self.classes))
            raise MarketDataError(f"unknown GPU class {name!r} (known: {known})", gpu_class=name)
        return self.classes[key]


def _figure(raw: Any, where: str) -> Figure:
    if not isinstance(raw, dict) or "value" not in raw:
        raise MarketDataError(f"{DATA_FILE.name}: {where} must be an object with a 'value'")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MarketDataError(f"{DATA_FILE.name}: {where}.value must be a finite number")
    source = raw.get("source") or raw.get("note")
    if not isinstance(source, str) or not source:
        raise MarketDataError(f"{DATA_FILE.name}: {where} has no source or note")
    return Figure(
        value=float(value),
        source=source,
        assumption=bool(raw.get("assumption", False)),
        derived=bool(raw.get("derived", False)),
    )


def parse_market_data(raw: Any) -> MarketData:
    """Validate and convert the JSON document of the data file."""
    if not isinstance(raw, dict) or raw.get("format") != "ccm-gpu-classes-v1":
        raise MarketDataError(f"{DATA_FILE.name}: not a ccm-gpu-classes-v1 document")
    market = raw.get("market")
    classes = raw.get("classes")
    if not isinstance(market, dict) or not isinstance(classes, dict) or not classes:
        raise MarketDataError(f"{DATA_FILE.name}: needs 'market' and a non-empty 'classes'")
    fields = MarketDefaults.__dataclass_fields__
    defaults = MarketDefaults(**{f: _figure(market.get(f), f"market.{f}") for f in fields})
    parsed: dict[str, GpuClass] = {}
    for name, body in classes.items():
        if not isinstance(body, dict):
            raise MarketDataError(f"{DATA_FILE.name}: classes.{name} must be an object")
        parsed[name.upper()] = GpuClass(
            name=name.upper(),
            **{
                f: _figure(body.get(f), f"classes.{name}.{f}")
                for f in ("spot_usd_per_hour", "dense_bf16_tflops", "power_kw", "capex_usd")
            },
        )
        if (
            min(parsed[name.upper()].spot_usd_per_hour.value, parsed[name.upper()].dense_bf16_tflops.value)
            <= 0
        ):
            raise MarketDataError(f"{DATA_FILE.name}: classes.{name} needs a positive price and throughput")
    return MarketData(market=defaults, classes=parsed)


@cache
def load_market_data(path: Path = DATA_FILE) -> MarketData:
    """The bundled market data (cached; pass ``path`` to read another file of the same format)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MarketDataError(f"market data file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise MarketDataError(f"cannot read market data {path}: {exc}") from None
    return parse_market_data(raw)


def gpu_class_names() -> list[str]:
    """The names of the bundled GPU classes, sorted."""
    return sorted(load_market_data().classes)
