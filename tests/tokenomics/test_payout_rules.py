"""Issue 9's payout rules in the audit model and the simulation: the fee-capped pool share, minimum fee
and collateral, prepaid jobs, withholding the reveal, Sybil verifiers and the exact panel probability."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomics.audit import (
    AuditTerms,
    cheating_unprofitable,
    contest_win_probability,
    expected_gain,
    false_fail_gain,
    max_sybil_share_bps,
    min_audit_probability_bps,
    min_collateral,
    min_false_accuser_slash,
    min_price,
    panel_majority_probability,
    pool_equilibrium,
    pool_share,
    self_dealing_drain,
    verifier_economics,
    worst_cheat,
)
from tokenomics.errors import ParameterError
from tokenomics.simulation import SimulationParams, Strategy, run_simulation
from tokenomics.units import BPS, UNIT

TERMS = AuditTerms(
    price=100 * UNIT,
    compute_cost=60 * UNIT,
    collateral=500 * UNIT,
    n_units=2000,
    samples=88,
    audit_probability_bps=2500,
    false_accuser_slash=50 * UNIT,
)


def _flat(**over: object) -> SimulationParams:
    """A flat H100 market (no noise, no price trend): every posted job has the same terms."""
    values: dict[str, object] = {
        "seed": 11,
        "epochs": 60,
        "demand_noise": 0.0,
        "perf_per_dollar_step": 1.0,
        "prepaid_bps": 0,
    }
    values.update(over)
    return SimulationParams(**values)  # type: ignore[arg-type]


# -- the reward pool -----------------------------------------------------------------------------------


def test_case_6_pool_drain_takes_at_most_the_jobs_fees() -> None:
    """Twenty 1-wei self-dealing jobs took 88 % of the pool; capped, they take their fees (0 each)."""
    pool = 1000 * UNIT
    one_wei_fee = 1 * 500 // BPS
    assert one_wei_fee == 0
    before = self_dealing_drain(pool, [one_wei_fee] * 20, pool_share_bps=1000, capped=False)
    assert sum(before) == pytest.approx(pool * (1 - 0.9**20), rel=1e-9)  # the red team's 88 %
    assert sum(before) > 0.87 * pool
    assert self_dealing_drain(pool, [one_wei_fee] * 20, pool_share_bps=1000) == [0] * 20
    # the market refuses the 1-wei job outright: its fee is below minFee
    with pytest.raises(ParameterError, match="minimum fee"):
        self_dealing_drain(pool, [one_wei_fee], pool_share_bps=1000, min_fee=UNIT // 100_000)
    with pytest.raises(ParameterError, match="minimum fee"):
        TERMS.with_(price=1, min_fee=UNIT // 100_000)
    # at the minimum fee twenty jobs take twenty fees: the bound
    min_fee = UNIT // 100_000
    taken = self_dealing_drain(pool, [min_fee] * 20, pool_share_bps=1000, min_fee=min_fee)
    assert taken == [min_fee] * 20 and sum(taken) == 20 * min_fee
    # the bound is the jobs' own fees: a colluder (who picks the seed, and with it its own auditor)
    # posting jobs whose fee reaches 10 % of the pool still drains it as fast as before
    big = self_dealing_drain(pool, [pool // 10] * 20, pool_share_bps=1000)
    assert sum(big) == sum(before)
    assert min_price(pool // 10, 500) == 2 * pool  # ... by escrowing twice the pool per job


def test_pool_share_is_capped_by_the_fee() -> None:
    assert pool_share(1000, 30, 1000) == 30
    assert pool_share(1000, 300, 1000) == 100
    assert pool_share(0, 300, 1000) == 0


def test_pool_without_equilibrium_below_half_audited() -> None:
    """Capped, an audit takes at most one fee while (1-p)/p fees flow in: the pool grows for p < 1/2."""
    assert pool_equilibrium(TERMS) is None
    assert pool_equilibrium(TERMS.with_(audit_probability_bps=5000)) is None
    high = TERMS.with_(audit_probability_bps=7500)
    star = pool_equilibrium(high)
    assert star is not None and star == 5 * UNIT * 25 * 10 // 75  # (1-p)·fee / (p·share) = 3.33 fees
    # at the equilibrium inflow (1-p)·fee equals outflow p·min(pool·share, fee), within rounding
    inflow = Fraction(2500, BPS) * high.fee
    assert abs(Fraction(7500, BPS) * pool_share(star, high.fee, 1000) - inflow) <= 1
    report = run_simulation(SimulationParams(seed=3))
    pools = [e["reward_pool"] for e in report["epochs"]]
    assert pools == sorted(pools) and pools[-1] > 100 * report["audit"]["verifier_fee_per_job"]


def test_simulated_verifier_takes_at_most_one_fee_from_the_pool() -> None:
    """Honest market, pool share 100 %: uncapped, each audit would empty the pool (3 fees on average)."""
    report = run_simulation(
        _flat(strategies=(Strategy("honest", 0.0, 6),), pool_share_bps=BPS, audit_probability_bps=2500)
    )
    v = report["verifiers"]
    fee = report["audit"]["verifier_fee_per_job"]
    jobs = report["strategies"]["honest"]["jobs"]
    assert v["rewards"] == 2 * v["audits"] * fee  # fee + min(pool, fee), the pool never runs dry
    assert v["rewards"] + report["reward_pool"] == jobs * fee
    assert report["reward_pool"] > v["audits"] * fee
    assert report["conservation"] == 0


# -- minimum fee and collateral ----------------------------------------------------------------------


def test_minimum_fee_and_collateral() -> None:
    price = min_price(6 * UNIT // 10, 500)
    assert price == 12 * UNIT
    assert TERMS.with_(price=price, min_fee=6 * UNIT // 10).fee == 6 * UNIT // 10
    with pytest.raises(ParameterError, match=r"price: fee .* below the minimum fee"):
        TERMS.with_(price=price - 1, min_fee=6 * UNIT // 10)
    with pytest.raises(ParameterError, match=r"collateral: .* below the minimum collateral"):
        TERMS.with_(min_collateral=500 * UNIT + 1)
    with pytest.raises(ParameterError, match="fee_bps"):
        SimulationParams(fee_bps=0)
    # a market whose fee would fall below min_fee posts at the minimum price
    report = run_simulation(_flat(strategies=(Strategy("honest", 0.0, 3),), min_fee=5 * UNIT))
    honest = report["strategies"]["honest"]
    assert honest["revenue"] == honest["jobs"] * 95 * UNIT  # price 100 (fee 5), not 8 h x 2.60 USD


# -- prepaid jobs --------------------------------------------------------------------------------------


def test_prepaid_job_pays_its_verifier() -> None:
    fee = 6 * UNIT // 10
    prepaid = AuditTerms(
        price=fee,
        compute_cost=8 * 1_651_544 * 10**12,
        collateral=104 * UNIT,
        n_units=2000,
        samples=88,
        audit_probability_bps=2500,
        prepaid=True,
        min_fee=fee,
    )
    assert prepaid.fee == fee and prepaid.paid == 0
    empty = verifier_economics(prepaid)
    assert empty.fee == fee and empty.lazy_expected_profit == fee
    assert empty.honest_expected_profit > 0  # 0.6 token covers an 8-hour H100 job's audit (0.58)
    half = prepaid.with_(price=3 * UNIT // 10, min_fee=3 * UNIT // 10)
    assert verifier_economics(half).honest_expected_profit < 0  # not with an empty pool ...
    assert verifier_economics(half, pool=100 * UNIT).honest_expected_profit > 0  # ... but with a full one
    assert verifier_economics(half, pool=100 * UNIT).min_fee == -(-prepaid.audit_cost // 2)
    # cheating on a prepaid job risks only the collateral: p·S > C still holds
    assert cheating_unprofitable(prepaid) and worst_cheat(prepaid).gain < 0
    assert not cheating_unprofitable(prepaid.with_(collateral=52 * UNIT))
    # every job prepaid: the verifiers are paid (before issue 9 they earned nothing on these jobs)
    report = run_simulation(_flat(strategies=(Strategy("honest", 0.0, 3),), prepaid_bps=BPS))
    v = report["verifiers"]
    assert v["audits"] > 0 and v["audits"] * fee <= v["rewards"] <= 2 * v["audits"] * fee
    assert v["profit"] > 0 and report["conservation"] == 0


# -- withholding ---------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n_bad=st.integers(1, 2000),
    p=st.integers(1, BPS),
    collateral=st.integers(0, 10**4),
    sybil=st.integers(0, 5000),
)
def test_withholding_never_beats_revealing(n_bad: int, p: int, collateral: int, sybil: int) -> None:
    terms = TERMS.with_(audit_probability_bps=p, collateral=collateral * UNIT // 10, sybil_share_bps=sybil)
    reveal = expected_gain(terms, n_bad)
    assert expected_gain(terms, n_bad, withhold="caught") == reveal
    assert expected_gain(terms, n_bad, withhold="audited") <= reveal + 1e-6 * UNIT


def test_withholding_defaults_in_the_simulation() -> None:
    strategies = (
        Strategy("honest", 0.0, 3),
        Strategy("cheat_sparse", 0.01, 3),
        Strategy("cheat_sparse_withhold", 0.01, 3, withhold="audited"),
    )
    report = run_simulation(_flat(strategies=strategies))
    reveal, withhold = report["strategies"]["cheat_sparse"], report["strategies"]["cheat_sparse_withhold"]
    assert withhold["audited"] == withhold["caught"] == 0 and withhold["withheld"] > 0
    assert withhold["slashed"] > 0 and reveal["caught"] < reveal["audited"]  # d(1 %) = 0.59 < 1
    assert withhold["profit_per_job"] < reveal["profit_per_job"] < 0
    assert withhold["expected_gain_per_job"] < reveal["expected_gain_per_job"] < 0
    with pytest.raises(ParameterError, match="withhold"):
        SimulationParams(strategies=(Strategy("x", 0.5, 1, withhold="sometimes"),))  # type: ignore[arg-type]


# -- Sybil verifiers and panels ------------------------------------------------------------------------


def test_panel_majority_probability_is_the_binomial_sum() -> None:
    assert panel_majority_probability(3, Fraction(1, 10)) == Fraction(28, 1000)
    assert panel_majority_probability(1, Fraction(1, 3)) == Fraction(1, 3)
    assert panel_majority_probability(4, Fraction(1, 2)) == Fraction(5, 16)  # 3 or 4 of 4; a tie is none
    for m in (1, 3, 5, 7):
        assert panel_majority_probability(m, Fraction(1, 2)) == Fraction(1, 2)
    by_size = [panel_majority_probability(m, Fraction(1, 10)) for m in (1, 3, 5, 7, 9)]
    assert by_size == sorted(by_size, reverse=True)
    exact = sum(math.comb(5, i) * 0.2**i * 0.8 ** (5 - i) for i in (3, 4, 5))
    assert float(panel_majority_probability(5, 0.2)) == pytest.approx(exact, rel=1e-12)
    with pytest.raises(ParameterError, match="share"):
        panel_majority_probability(3, 1.5)
    # the panel excludes the honest accuser: 10 % of the stake is 1/7 of the rest when it holds 30 %
    terms = TERMS.with_(sybil_share_bps=1000, accuser_stake_bps=3000)
    assert contest_win_probability(terms) == panel_majority_probability(3, Fraction(1, 7))


def test_simulated_panels_match_the_exact_probability() -> None:
    s = Strategy("cheat_all_sybil", 1.0, 6, sybil_share_bps=2000)
    report = run_simulation(_flat(strategies=(Strategy("honest", 0.0, 3), s), epochs=120))
    r = report["strategies"]["cheat_all_sybil"]
    n, won, q = r["panels_drawn"], r["contests_won"], r["panel_majority_probability"]
    # three honest verifiers of weight 8000 and the Sybils' 6000; the accuser's 8000 is excluded: 3/11
    assert q == float(panel_majority_probability(3, Fraction(6000, 30_000 - 8000)))
    assert n > 1000
    assert abs(won - n * q) <= 4 * math.sqrt(n * q * (1 - q)), (won, n, q)


def test_sybil_condition_is_an_exact_boundary() -> None:
    s_max = max_sybil_share_bps(TERMS)
    assert s_max is not None and 3000 < s_max < 5000
    assert cheating_unprofitable(TERMS.with_(sybil_share_bps=s_max))
    assert worst_cheat(TERMS.with_(sybil_share_bps=s_max)).gain < 0
    assert not cheating_unprofitable(TERMS.with_(sybil_share_bps=s_max + 1))
    assert expected_gain(TERMS.with_(sybil_share_bps=s_max + 1), 2000) >= 0
    # a contest that a Sybil panel can win costs more collateral / audit probability than none
    sybil = TERMS.with_(sybil_share_bps=1000)
    s_min, p_min = min_collateral(sybil), min_audit_probability_bps(sybil)
    assert s_min is not None and p_min is not None
    assert s_min > (min_collateral(TERMS) or 0) and p_min > (min_audit_probability_bps(TERMS) or 0)
    assert cheating_unprofitable(sybil.with_(collateral=s_min))
    assert not cheating_unprofitable(sybil.with_(collateral=s_min - 1))
    assert cheating_unprofitable(sybil.with_(audit_probability_bps=p_min))
    assert not cheating_unprofitable(sybil.with_(audit_probability_bps=p_min - 1))
    assert min_collateral(TERMS.with_(sybil_share_bps=BPS)) is None
    assert max_sybil_share_bps(TERMS.with_(collateral=100 * UNIT)) is None


@pytest.mark.parametrize(("share_bps", "pays"), [(1000, False), (2000, False), (3000, True)])
def test_sybil_cheater_in_the_simulation_matches_the_model(share_bps: int, pays: bool) -> None:
    """Three honest verifiers: a Sybil group of 30 % of the stake makes cheating pay, 20 % does not."""
    strategies = (Strategy("honest", 0.0, 3), Strategy("cheat_all_sybil", 1.0, 3, sybil_share_bps=share_bps))
    report = run_simulation(_flat(strategies=strategies))
    honest, cheat = report["strategies"]["honest"], report["strategies"]["cheat_all_sybil"]
    measured = cheat["profit"] / cheat["jobs"] - honest["profit"] / honest["jobs"]
    expected = cheat["expected_gain_per_job"]
    assert (measured > 0) == (expected > 0) == pays
    assert measured == pytest.approx(expected, rel=0.25)
    assert cheat["contests_won"] > 0 and cheat["sybil_income"] > 0
    assert report["verifiers"]["slashed"] == cheat["contests_won"] * 50 * UNIT  # overturned honest accusers
    assert report["conservation"] == 0


def test_false_fails_by_a_consumers_sybils() -> None:
    """A consumer whose Sybils fail honest jobs gains when the false-accuser slash is small beside the job."""
    ten = TERMS.with_(sybil_share_bps=1000)
    assert false_fail_gain(ten) < 0
    big = ten.with_(price=1000 * UNIT, collateral=5000 * UNIT, compute_cost=600 * UNIT)
    assert false_fail_gain(big) > 0
    slash = min_false_accuser_slash(big)
    assert slash is not None and slash > 50 * UNIT
    assert false_fail_gain(big.with_(false_accuser_slash=slash)) < 0
    assert false_fail_gain(big.with_(false_accuser_slash=slash - 1)) >= 0
    assert min_false_accuser_slash(TERMS.with_(sybil_share_bps=BPS)) is None


# -- the verifier's dilemma under the new payouts -------------------------------------------------------


def test_diligence_threshold_under_capped_pool_shares() -> None:
    """The capped pool share pays lazy and diligent verdicts alike: the threshold is d·(slash share - fee)."""
    cost = TERMS.audit_cost
    expected = cost / (TERMS.verifier_share - TERMS.fee)  # d(N) = 1
    for pool in (0, 20 * UNIT, 10**6 * UNIT):
        ve = verifier_economics(TERMS, pool=pool)
        assert ve.pool_reward == min(pool // 10, TERMS.fee)
        assert ve.lazy_expected_profit == TERMS.fee + ve.pool_reward
        rate = ve.min_cheat_rate_for_diligence
        assert rate is not None and rate == pytest.approx(expected)
        assert rate == pytest.approx(0.0278, abs=1e-4)
        above = verifier_economics(TERMS, cheat_rate=rate * 1.05, pool=pool)
        below = verifier_economics(TERMS, cheat_rate=rate * 0.95, pool=pool)
        assert above.honest_expected_profit > above.lazy_expected_profit
        assert below.honest_expected_profit < below.lazy_expected_profit
    full = verifier_economics(TERMS, pool=10**6 * UNIT)
    assert full.lazy_expected_profit == 2 * TERMS.fee  # never more than fee + fee
    assert full.min_fee == -(-cost // 2) and verifier_economics(TERMS).min_fee == cost
