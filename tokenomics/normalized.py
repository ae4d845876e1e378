"""The market's normalized unit, the H100e-hour, and the one conversion to it.

Definition: one H100e-hour is one hour of the dense matmul throughput that the datasheet gives for
one H100 SXM in the dtype of the measurement (``data/reference_throughput.json``, every figure with
its source). A provider's GPU-hour is worth ``measured / reference`` H100e-hours, ``measured``
being its *verified* capacity-challenge figure in that dtype (``node.capacity.challenge``), so the
unit follows what a GPU really did, not its name. A real H100 at 80 % of its datasheet peak is 0.8.

On chain the factor is an integer: H100e per GPU-hour in millionths (``ppm``), computed here by
:func:`ppm_per_gpu` (floor division, so a GPU is never rounded up) and posted by the verifier that
ran the challenge; a series then states ``supply`` GPU-hours and ``supply * ppm`` micro-H100e-hours.
The node, the CLI, the index and the economics all convert through this module.

Error handling: unknown dtypes, negative or non-integer figures raise
:class:`tokenomics.errors.ParameterError`; a malformed data file :class:`MarketDataError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from tokenomics.errors import MarketDataError, ParameterError
from tokenomics.market_data import GpuClass, load_market_data

UNIT_NAME: Final = "H100e-hour"
"""The one name of the normalized unit, everywhere (CLI, JSON, plots, README)."""
PPM: Final = 1_000_000
"""Millionths in one: ``ppm_per_gpu == PPM`` means one GPU-hour is one H100e-hour."""
MAX_PPM: Final = 2**32 - 1
"""The chain stores the factor as ``uint32``: at most ~4,294 H100e per GPU."""
DATA_FILE = Path(__file__).parent / "data" / "reference_throughput.json"


@dataclass(frozen=True)
class Reference:
    """The reference figures: GFLOP/s of one reference GPU per dtype, with their sources."""

    unit: str
    reference_class: str
    gflops: dict[str, int]
    sources: dict[str, str]

    def reference_gflops(self, dtype: str) -> int:
        key = dtype.strip().lower()
        if key not in self.gflops:
            known = ", ".join(sorted(self.gflops))
            raise ParameterError("dtype", f"no reference throughput for {dtype!r} (known: {known})")
        return self.gflops[key]


def parse_reference(raw: Any) -> Reference:
    """Validate the JSON document of the data file."""
    if not isinstance(raw, dict) or raw.get("format") != "ccm-reference-throughput-v1":
        raise MarketDataError(f"{DATA_FILE.name}: not a ccm-reference-throughput-v1 document")
    dtypes = raw.get("dtypes")
    if not isinstance(dtypes, dict) or not dtypes or raw.get("unit") != UNIT_NAME:
        raise MarketDataError(f"{DATA_FILE.name}: needs unit {UNIT_NAME!r} and a non-empty 'dtypes'")
    gflops: dict[str, int] = {}
    sources: dict[str, str] = {}
    for name, body in dtypes.items():
        value = body.get("gflops") if isinstance(body, dict) else None
        source = body.get("source") if isinstance(body, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise MarketDataError(f"{DATA_FILE.name}: dtypes.{name}.gflops must be a positive integer")
        if not isinstance(source, str) or not source:
            raise MarketDataError(f"{DATA_FILE.name}: dtypes.{name} has no source")
        gflops[name.lower()] = value
        sources[name.lower()] = source
    return Reference(
        unit=UNIT_NAME, reference_class=str(raw.get("reference_class", "")), gflops=gflops, sources=sources
    )


@cache
def load_reference(path: Path = DATA_FILE) -> Reference:
    """The bundled reference figures (cached)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MarketDataError(f"reference throughput file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise MarketDataError(f"cannot read reference throughput {path}: {exc}") from None
    return parse_reference(raw)


def ppm_per_gpu(measured_gflops: int, dtype: str = "float32", *, reference: Reference | None = None) -> int:
    """THE conversion: H100e per GPU-hour, in millionths, of a GPU measured at ``measured_gflops`` in
    ``dtype`` (floor; 0 for a GPU slower than a millionth of the reference)."""
    if isinstance(measured_gflops, bool) or not isinstance(measured_gflops, int) or measured_gflops < 0:
        raise ParameterError("measured_gflops", f"must be a non-negative integer, got {measured_gflops!r}")
    ref = (reference or load_reference()).reference_gflops(dtype)
    ppm = measured_gflops * PPM // ref
    if ppm > MAX_PPM:
        raise ParameterError(
            "measured_gflops", f"{measured_gflops} GFLOP/s is beyond {MAX_PPM} ppm of the reference"
        )
    return ppm


def normalized_micro(gpu_hours: int, ppm: int) -> int:
    """GPU-hours at ``ppm`` H100e per GPU-hour, in micro-H100e-hours (what the chain computes)."""
    if gpu_hours < 0 or ppm < 0:
        raise ParameterError("gpu_hours", "GPU-hours and ppm must be non-negative")
    return gpu_hours * ppm


def price_per_unit(payment: int, micro_units: int) -> int:
    """Token base units per H100e-hour for ``payment`` base units buying ``micro_units``
    micro-H100e-hours (floor)."""
    if micro_units <= 0:
        raise ParameterError("micro_units", "must be positive")
    return payment * PPM // micro_units


def micro_to_units(micro: int) -> float:
    """Micro-H100e-hours as float H100e-hours: for people, JSON and plots only."""
    return micro / PPM


def class_ppm(gpu: GpuClass | str) -> int:
    """The model's factor for a GPU class by its datasheet dense BF16 figure (market data) relative to
    the reference class: what the economics uses to put its per-GPU-hour curves in H100e-hours. The
    market itself uses measured figures (:func:`ppm_per_gpu`)."""
    data = load_market_data()
    cls = data.gpu_class(gpu) if isinstance(gpu, str) else gpu
    ref = data.gpu_class(load_reference().reference_class or "H100")
    return int(cls.dense_bf16_tflops.value * PPM // ref.dense_bf16_tflops.value)
