"""The normalized unit (H100e-hour): one conversion from measured throughput; reference figures, sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenomics.errors import MarketDataError, ParameterError
from tokenomics.normalized import (
    PPM,
    UNIT_NAME,
    class_ppm,
    load_reference,
    normalized_micro,
    parse_reference,
    ppm_per_gpu,
    price_per_unit,
)


def test_reference_figures_carry_sources() -> None:
    ref = load_reference()
    assert ref.unit == UNIT_NAME == "H100e-hour" and ref.reference_class == "H100"
    assert ref.gflops["float32"] == 67_000 and ref.gflops["bfloat16"] == 989_500
    assert all("datasheet" in source for source in ref.sources.values())


def test_conversion_is_measured_over_reference_per_dtype() -> None:
    assert ppm_per_gpu(67_000, "float32") == PPM  # a GPU at the H100's datasheet fp32 figure is 1 H100e
    assert ppm_per_gpu(53_600, "float32") == 800_000  # a real H100 at 80 % of peak is 0.8
    assert ppm_per_gpu(494_750, "bfloat16") == 500_000
    assert ppm_per_gpu(100, "float32") == 1492  # a CPU: floor, never rounded up
    assert ppm_per_gpu(0) == 0
    assert normalized_micro(10, 800_000) == 8 * PPM
    assert price_per_unit(8 * 10**18, 8 * PPM) == 10**18


def test_model_class_factor_uses_the_datasheet_ratio() -> None:
    assert class_ppm("H100") == PPM
    assert 0 < class_ppm("A100") < PPM < class_ppm("B200")


@pytest.mark.parametrize(
    ("gflops", "dtype", "message"),
    [
        (-1, "float32", "non-negative"),
        (1.5, "float32", "integer"),
        (10, "int4", "no reference throughput"),
        (10**13, "float32", "beyond"),
    ],
)
def test_bad_input_is_a_clear_error(gflops: object, dtype: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        ppm_per_gpu(gflops, dtype)  # type: ignore[arg-type]


def test_malformed_reference_file_is_refused(tmp_path: Path) -> None:
    good = json.loads((Path(__file__).parents[2] / "tokenomics/data/reference_throughput.json").read_text())
    bad = dict(good, dtypes={"float32": {"gflops": 67000}})
    with pytest.raises(MarketDataError, match="no source"):
        parse_reference(bad)
    with pytest.raises(MarketDataError, match="not a ccm-reference"):
        parse_reference({"format": "other"})
    with pytest.raises(ParameterError, match="positive"):
        price_per_unit(1, 0)
