"""Depreciation, forward prices, provider economics and the market-data file."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomics.costs import OperatingCosts
from tokenomics.depreciation import (
    DepreciationModel,
    declining_balance,
    economic_life_years,
    economic_value,
    straight_line,
    value_for_throughput,
)
from tokenomics.errors import MarketDataError, ParameterError
from tokenomics.forward import ForwardTerms, forward_curve, forward_price, parse_months
from tokenomics.market_data import DATA_FILE, load_market_data, parse_market_data
from tokenomics.provider import ProviderTerms, forward_vs_spot, quote_claim
from tokenomics.units import UNIT, tokens_to_units, units_to_tokens, usd_to_units

MD = load_market_data()
H100 = MD.gpu_class("H100")


# -- market data -------------------------------------------------------------------------------------


def test_data_file_has_the_required_classes_each_figure_sourced() -> None:
    assert {"A100", "H100", "H200", "B200"} <= set(MD.classes)
    for gpu in MD.classes.values():
        for fig in (gpu.spot_usd_per_hour, gpu.dense_bf16_tflops, gpu.power_kw, gpu.capex_usd):
            assert fig.value > 0 and fig.source, gpu.name
        assert gpu.capex_usd.assumption, f"{gpu.name} capex is not a reported figure and must say so"
    # figures straight from MARKET-DATA.md are not flagged; derived ones are
    assert H100.spot_usd_per_hour.value == 2.60 and not H100.spot_usd_per_hour.derived
    assert MD.gpu_class("B200").spot_usd_per_hour.value == 5.30
    assert MD.gpu_class("A100").spot_usd_per_hour.derived
    assert MD.market.electricity_usd_per_kwh.assumption


def test_unknown_class_and_malformed_documents_are_clear_errors() -> None:
    with pytest.raises(MarketDataError, match=r"unknown GPU class 'Z9'.*H100"):
        MD.gpu_class("Z9")
    assert MD.gpu_class(" h100 ") is H100
    raw = json.loads(DATA_FILE.read_text())
    with pytest.raises(MarketDataError, match="ccm-gpu-classes-v1"):
        parse_market_data({**raw, "format": "other"})
    broken = json.loads(DATA_FILE.read_text())
    del broken["classes"]["H100"]["power_kw"]["source"]
    with pytest.raises(MarketDataError, match=r"H100\.power_kw has no source"):
        parse_market_data(broken)
    broken = json.loads(DATA_FILE.read_text())
    broken["market"]["pue"]["value"] = "1.3"
    with pytest.raises(MarketDataError, match=r"market\.pue\.value"):
        parse_market_data(broken)


def test_token_units_are_exact_integers() -> None:
    assert usd_to_units(2.6) == 26 * UNIT // 10
    assert usd_to_units("1.000000000000000001") == UNIT + 1
    assert tokens_to_units("0.5") == UNIT // 2
    assert units_to_tokens(-(UNIT + UNIT // 4)) == "-1.25"
    with pytest.raises(ParameterError, match="more than 18 decimals"):
        tokens_to_units("0.0000000000000000001")
    for bad in ("nan", "inf", "abc"):
        with pytest.raises(ParameterError):
            usd_to_units(bad)


# -- depreciation ------------------------------------------------------------------------------------


def test_continuous_and_stepped_paths() -> None:
    cont = DepreciationModel(cadence_years=1.0, step=1.4)
    assert cont.factor(0) == 1.0
    assert cont.factor(1.0) == pytest.approx(1 / 1.4)
    assert cont.annual_decline == pytest.approx(1 - 1 / 1.4)
    stepped = DepreciationModel(cadence_years=1.0, step=2.0, mode="stepped", years_to_next_release=0.5)
    assert stepped.factor(0.49) == 1.0 and stepped.factor(0.5) == 0.5 and stepped.factor(1.49) == 0.5
    assert stepped.factor(1.5) == 0.25
    assert stepped.years_until_factor(0.5) == 0.5 and stepped.years_until_factor(0.3) == 1.5


@settings(max_examples=40, deadline=None)
@given(
    step=st.floats(1.01, 3.0),
    cadence=st.floats(0.25, 4.0),
    t=st.floats(0.0, 20.0),
    dt=st.floats(0.01, 5.0),
)
def test_value_falls_over_time_under_positive_depreciation(
    step: float, cadence: float, t: float, dt: float
) -> None:
    model = DepreciationModel(cadence_years=cadence, step=step)
    assert model.spot(H100, t + dt) < model.spot(H100, t)


def test_economic_life_is_where_price_meets_cash_cost() -> None:
    model = DepreciationModel.defaults()
    costs = OperatingCosts.defaults()
    life = economic_life_years(H100, model=model, costs=costs)
    assert model.spot(H100, life) == pytest.approx(costs.marginal_usd_per_hour(H100))
    assert economic_value(H100, life, model=model, costs=costs) == 0.0
    v0 = economic_value(H100, 0.0, model=model, costs=costs)
    v1 = economic_value(H100, 1.0, model=model, costs=costs)
    assert 0 < v1 < v0
    # faster innovation shortens the life and lowers the value
    fast = DepreciationModel.defaults(step=1.8)
    assert economic_life_years(H100, model=fast, costs=costs) < life
    assert economic_value(H100, 0.0, model=fast, costs=costs) < v0


def test_book_schedules_and_throughput_pricing() -> None:
    assert straight_line(600.0, 6.0, 3.0) == pytest.approx(300.0)
    assert straight_line(600.0, 6.0, 9.0) == 0.0
    assert declining_balance(600.0, 6.0, 1.0) == pytest.approx(400.0)
    assert declining_balance(600.0, 6.0, 2.0) == pytest.approx(600.0 * (2 / 3) ** 2)
    model = DepreciationModel.defaults()
    assert value_for_throughput(989.0, 0.0, model=model, reference=H100) == pytest.approx(2.60)
    assert value_for_throughput(494.5, 1.0, model=model, reference=H100) == pytest.approx(1.30 / 1.4)
    with pytest.raises(ParameterError, match="step"):
        DepreciationModel(cadence_years=1.0, step=0.9)
    with pytest.raises(ParameterError, match="mode"):
        DepreciationModel(cadence_years=1.0, step=1.2, mode="linear")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="years"):
        model.spot(H100, -1.0)
    with pytest.raises(ParameterError, match="years"):
        model.spot(H100, math.nan)


# -- forward prices ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    step=st.floats(1.01, 3.0),
    rate=st.floats(0.0, 0.5),
    hazard=st.floats(0.0, 0.5),
    collateral=st.floats(0.0, 5.0),
    m1=st.floats(0.0, 36.0),
    gap=st.floats(0.25, 24.0),
    window=st.floats(0.1, 12.0),
)
def test_forward_price_falls_as_window_moves_out(
    step: float, rate: float, hazard: float, collateral: float, m1: float, gap: float, window: float
) -> None:
    model = DepreciationModel(cadence_years=1.0, step=step)
    terms = ForwardTerms(discount_rate=rate, default_hazard=hazard, collateral_usd_per_hour=collateral)
    near, far = forward_curve(H100, [m1, m1 + gap], model=model, terms=terms, window_months=window)
    assert far.price < near.price
    assert 0 < near.price <= H100.spot_usd_per_hour.value


def test_forward_price_without_depreciation_discount_or_risk_is_spot() -> None:
    flat = DepreciationModel(cadence_years=1.0, step=1.0)
    price = forward_price(H100, start_years=1.0, end_years=2.0, model=flat, terms=ForwardTerms(0.0, 0.0, 0.0))
    assert price == pytest.approx(2.60)
    # collateral covers default risk: full collateral restores the riskless price
    model = DepreciationModel.defaults()
    riskless = forward_price(H100, start_years=0.5, end_years=0.6, model=model, terms=ForwardTerms(0.1, 0.0))
    risky = forward_price(H100, start_years=0.5, end_years=0.6, model=model, terms=ForwardTerms(0.1, 0.3))
    covered = forward_price(
        H100, start_years=0.5, end_years=0.6, model=model, terms=ForwardTerms(0.1, 0.3, 10.0)
    )
    assert risky < riskless == pytest.approx(covered)


def test_parse_months_rejects_bad_input() -> None:
    assert parse_months("1, 3,6,12") == [1.0, 3.0, 6.0, 12.0]
    for bad in ("-1", "1,,3", "abc", "nan", "inf", "1e9"):
        with pytest.raises(ParameterError, match="months"):
            parse_months(bad)
    with pytest.raises(ParameterError, match="end_years"):
        forward_price(
            H100, start_years=1.0, end_years=1.0, model=DepreciationModel.defaults(), terms=ForwardTerms()
        )


# -- provider economics ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    power=st.floats(0.0, 0.5),
    extra=st.floats(0.001, 0.5),
    util=st.floats(0.05, 1.0),
    kw=st.floats(0.1, 2.0),
    capex=st.floats(0.0, 100_000.0),
    rate=st.floats(0.0, 0.3),
)
def test_break_even_rises_with_power_price(
    power: float, extra: float, util: float, kw: float, capex: float, rate: float
) -> None:
    def break_even(price: float) -> float:
        costs = OperatingCosts.defaults(electricity_usd_per_kwh=price, utilization=util, discount_rate=rate)
        return ProviderTerms.for_class(
            H100, costs=costs, power_kw=kw, capex_usd=capex
        ).break_even_usd_per_hour()

    assert break_even(power + extra) > break_even(power)


def test_break_even_reserve_and_marginal_are_ordered() -> None:
    terms = ProviderTerms.for_class(H100)
    assert terms.marginal_usd_per_hour < terms.reserve_usd_per_hour < terms.break_even_usd_per_hour()
    assert terms.break_even_usd_per_hour(1.0) == pytest.approx(terms.reserve_usd_per_hour)
    assert terms.break_even_usd_per_hour(0.35) > terms.break_even_usd_per_hour(0.7)
    no_interest = ProviderTerms.for_class(H100, costs=OperatingCosts.defaults(discount_rate=0.0))
    assert no_interest.capital_recovery_factor == pytest.approx(1 / 6)
    with pytest.raises(ParameterError, match="utilization"):
        terms.break_even_usd_per_hour(0.0)
    with pytest.raises(ParameterError, match="capex_usd"):
        ProviderTerms.for_class(H100, capex_usd=-1.0)


def test_forward_sale_at_fair_price_beats_uncertain_spot() -> None:
    model = DepreciationModel.defaults()
    terms = ProviderTerms.for_class(H100)
    fvs = forward_vs_spot(H100, terms=terms, start_years=0.25, end_years=0.5, hours=720, model=model)
    assert fvs.advantage_usd > 0  # 70 % utilization at spot vs every hour sold forward
    cheap = forward_vs_spot(
        H100, terms=terms, start_years=0.25, end_years=0.5, hours=720, model=model, forward_price_usd=1.0
    )
    assert cheap.advantage_usd < 0 and cheap.breakeven_utilization is not None
    assert 0 < cheap.breakeven_utilization < terms.costs.utilization


def test_claim_quote_is_forward_price_floored_at_reserve() -> None:
    quote = quote_claim(H100, start_years=0.25, end_years=0.5)
    assert quote.basis == "forward" and quote.price_usd == quote.forward_usd > quote.reserve_usd
    assert quote.price_units == usd_to_units(f"{quote.price_usd:.6f}")
    late = quote_claim(H100, start_years=5.0, end_years=5.1)
    assert late.basis == "reserve" and late.price_usd == late.reserve_usd > late.forward_usd
