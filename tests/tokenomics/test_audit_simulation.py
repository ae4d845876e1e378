"""Audit economics against the detection math, and the agent-based market simulation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomics.audit import (
    AuditTerms,
    cheating_unprofitable,
    expected_gain,
    expected_profit,
    min_audit_probability_bps,
    min_collateral,
    min_collateral_to_lose,
    n_bad_for_fraction,
    verifier_economics,
    worst_cheat,
)
from tokenomics.errors import ParameterError
from tokenomics.market_data import load_market_data
from tokenomics.provider import ProviderTerms
from tokenomics.simulation import SimulationParams, Strategy, run_simulation
from tokenomics.units import BPS, UNIT, usd_to_units
from verifier.detection import detection_probability

TERMS = AuditTerms(
    price=100 * UNIT,
    compute_cost=60 * UNIT,
    collateral=500 * UNIT,
    n_units=2000,
    samples=88,
    audit_probability_bps=2500,
)


def test_gain_uses_the_verifier_detection_math() -> None:
    b = n_bad_for_fraction("0.05", 2000)
    assert b == 100
    d = detection_probability(2000, 100, 88)
    paid = 95 * UNIT
    assert expected_gain(TERMS, b) == pytest.approx(0.05 * 60 * UNIT - 0.25 * d * (paid + 500 * UNIT))
    assert expected_profit(TERMS, 0) == pytest.approx(35 * UNIT)
    assert expected_gain(TERMS, 0) == 0


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 300),
    k_share=st.floats(0.0, 1.0),
    p=st.integers(1, BPS),
    price=st.integers(1, 10**6),
    cost=st.integers(0, 10**6),
    collateral=st.integers(0, 10**7),
)
def test_worst_strategy_is_corrupting_everything(
    n: int, k_share: float, p: int, price: int, cost: int, collateral: int
) -> None:
    """Gain per corrupted unit peaks at b = N, so p·(paid + S) > C decides every strategy (scan agrees)."""
    terms = AuditTerms(
        price=price,
        compute_cost=cost,
        collateral=collateral,
        n_units=n,
        samples=max(1, round(k_share * n)),
        audit_probability_bps=p,
    )
    worst = worst_cheat(terms)
    per_unit_at_n = expected_gain(terms, n) / n
    tolerance = 1e-9 * (cost + price + collateral)
    assert all(expected_gain(terms, b) / b <= per_unit_at_n + tolerance for b in range(1, n + 1))
    if cheating_unprofitable(terms):
        assert worst.gain < 0
    else:
        assert worst.gain >= 0 and expected_gain(terms, n) >= 0


def test_min_collateral_and_min_probability_are_exact_boundaries() -> None:
    s_min = min_collateral(TERMS)
    assert s_min is not None
    assert cheating_unprofitable(TERMS.with_(collateral=s_min))
    assert worst_cheat(TERMS.with_(collateral=s_min)).gain < 0
    assert not cheating_unprofitable(TERMS.with_(collateral=s_min - 1))
    assert expected_gain(TERMS.with_(collateral=s_min - 1), TERMS.n_units) >= 0
    p_min = min_audit_probability_bps(TERMS)
    assert p_min is not None
    assert cheating_unprofitable(TERMS.with_(audit_probability_bps=p_min))
    assert not cheating_unprofitable(TERMS.with_(audit_probability_bps=p_min - 1))
    assert min_collateral(TERMS.with_(audit_probability_bps=0)) is None
    assert min_audit_probability_bps(TERMS.with_(collateral=0, compute_cost=200 * UNIT)) is None
    # losing money outright needs more than losing against honesty
    b = n_bad_for_fraction("0.5", 2000)
    lose = min_collateral_to_lose(TERMS, b)
    assert lose is not None and lose > s_min
    assert (
        expected_profit(TERMS.with_(collateral=lose), b)
        < 0
        < expected_profit(TERMS.with_(collateral=lose - 10**15), b)
    )


def test_verifier_economics() -> None:
    ve = verifier_economics(TERMS, cheat_rate=0.0)
    assert ve.audit_cost == 60 * UNIT * 88 // 2000
    assert ve.fee == 5 * UNIT and ve.slash_reward == 100 * UNIT
    assert ve.honest_expected_profit == pytest.approx(ve.fee - ve.audit_cost)
    assert ve.lazy_expected_profit > ve.honest_expected_profit  # the verifier's dilemma without cheats
    assert ve.min_fee_bps == -(-ve.audit_cost * BPS // TERMS.price)
    rate = ve.min_cheat_rate_for_diligence
    assert rate is not None
    above = verifier_economics(TERMS, cheat_rate=rate * 1.1)
    assert above.honest_expected_profit > above.lazy_expected_profit
    with pytest.raises(ParameterError, match="cheat_rate"):
        verifier_economics(TERMS, cheat_rate=1.5)


def test_bad_audit_terms_are_named() -> None:
    with pytest.raises(ParameterError, match="samples"):
        TERMS.with_(samples=0)
    with pytest.raises(ParameterError, match="samples"):
        TERMS.with_(samples=2001)
    with pytest.raises(ParameterError, match="audit_probability_bps"):
        TERMS.with_(audit_probability_bps=10_001)
    with pytest.raises(ParameterError, match="price"):
        AuditTerms(price=1.5, compute_cost=1, collateral=1, n_units=1, samples=1, audit_probability_bps=1)  # type: ignore[arg-type]
    for bad in ("0", "1.5", "nan", "abc"):
        with pytest.raises(ParameterError, match="cheat_fraction"):
            n_bad_for_fraction(bad, 100)


# -- simulation --------------------------------------------------------------------------------------


def test_default_run_honest_profits_cheaters_lose_and_tokens_are_conserved() -> None:
    report = run_simulation(SimulationParams(seed=7))
    strategies = report["strategies"]
    assert "honest" in strategies and sum("cheat" in name for name in strategies) >= 2
    assert strategies["honest"]["profit"] > 0
    for name, s in strategies.items():
        if "cheat" in name:
            assert s["profit"] < 0, name
            assert s["profit"] + s["sybil_income"] < 0, name  # its Sybils' own-audit fees do not save it
            assert s["caught"] + s["withheld"] > 0, name
    assert strategies["honest"]["caught"] == 0
    assert report["conservation"] == 0
    assert report["verifiers"]["profit"] > 0
    assert len(report["epochs"]) == 52
    assert all(0 < e["utilization"] <= 1 for e in report["epochs"])
    assert report["epochs"][-1]["reference_usd"] < report["epochs"][0]["reference_usd"]
    assert run_simulation(SimulationParams(seed=7)) == report  # same seed, same result


@pytest.mark.parametrize("seed", range(0, 400, 16))
def test_cheaters_lose_for_every_seed(seed: int) -> None:
    """Every strategy: cheat on 5 %, 50 %, 100 %; withhold when audited; Sybil verifiers (10 % stake)."""
    strategies = run_simulation(SimulationParams(seed=seed))["strategies"]
    assert strategies["honest"]["profit"] > 0
    kinds = {(s["cheat_fraction"], s["withhold"], s["sybil_share_bps"] > 0) for s in strategies.values()}
    assert {(0.05, "never", False), (0.5, "audited", False), (1.0, "never", True)} <= kinds
    losers = {n: s["profit"] + s["sybil_income"] for n, s in strategies.items() if "cheat" in n}
    assert len(losers) == 5 and all(p < 0 for p in losers.values()), losers
    assert all(s["expected_gain_per_job"] < 0 for n, s in strategies.items() if "cheat" in n)


def _boundary_run(collateral_bps: int, audit_bps: int) -> tuple[float, float]:
    """Measured and expected gain per job of cheat_all over honest, in a flat market."""
    params = SimulationParams(
        seed=11,
        epochs=60,
        strategies=(Strategy("honest", 0.0, 3), Strategy("cheat_all", 1.0, 3)),
        demand_noise=0.0,
        perf_per_dollar_step=1.0,
        audit_probability_bps=audit_bps,
        collateral_bps=collateral_bps,
        prepaid_bps=0,
    )
    report = run_simulation(params)
    assert {e["price_usd"] for e in report["epochs"]} == {2.6}  # a flat market: every job has the same terms
    honest, cheat = report["strategies"]["honest"], report["strategies"]["cheat_all"]
    measured = cheat["profit"] / cheat["jobs"] - honest["profit"] / honest["jobs"]
    return measured, expected_gain(_flat_terms(collateral_bps, audit_bps), 2000)


def _flat_terms(collateral_bps: int, audit_bps: int) -> AuditTerms:
    price = usd_to_units("2.6") * 8
    cost = usd_to_units(
        f"{ProviderTerms.for_class(load_market_data().gpu_class('H100')).break_even_usd_per_hour():.6f}"
    )
    return AuditTerms(
        price=price,
        compute_cost=cost * 8,
        collateral=price * collateral_bps // BPS,
        n_units=2000,
        samples=88,
        audit_probability_bps=audit_bps,
    )


@pytest.mark.parametrize("which", ["collateral", "audit_probability"])
def test_audit_condition_boundary_separates_profitable_cheating_in_the_simulation(which: str) -> None:
    """Below the computed minimum (collateral or p) cheating beats honesty in the market; above, it loses."""
    base = _flat_terms(20_000, 2500)
    if which == "collateral":
        s_min = min_collateral(base)
        assert s_min is not None
        boundary = s_min * BPS // base.price
        below, above = (boundary * 6 // 10, 2500), (boundary * 14 // 10, 2500)
    else:
        p_min = min_audit_probability_bps(base)
        assert p_min is not None
        below, above = (20_000, p_min * 6 // 10), (20_000, p_min * 14 // 10)
    gain_below, expected_below = _boundary_run(*below)
    gain_above, expected_above = _boundary_run(*above)
    assert expected_below > 0 > expected_above
    assert gain_below > 0 > gain_above
    for measured, expected in ((gain_below, expected_below), (gain_above, expected_above)):
        assert measured == pytest.approx(expected, rel=0.5)


def test_bad_simulation_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="epochs"):
        SimulationParams(epochs=0)
    with pytest.raises(ParameterError, match="seed"):
        SimulationParams(seed=-1)
    with pytest.raises(ParameterError, match="strategies"):
        SimulationParams(strategies=())
    with pytest.raises(ParameterError, match="names must be unique"):
        SimulationParams(strategies=(Strategy("a", 0.0, 1), Strategy("a", 0.5, 1)))
    with pytest.raises(ParameterError, match="too large"):
        SimulationParams(epochs=1000, strategies=(Strategy("honest", 0.0, 1000),))
