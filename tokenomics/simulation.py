"""An agent-based market: providers (honest and cheating), consumers, verifiers, over epochs.

Each epoch (a week by default) consumers demand GPU-hours along an elastic demand curve around the
model spot price of the class (:mod:`tokenomics.depreciation`; elasticity > 1 is the "Jevons"
regime of Zhang & Zhang), providers offer their capacity, and the price moves towards the level
that clears the market at the target utilization (never below the providers' cash cost). Demand is
cut into jobs of ``job_hours``; each job goes to a provider drawn in proportion to its free
capacity (consumers cannot tell cheaters apart before an audit). A share ``prepaid_bps`` of the jobs
are redeemed claims: the provider was paid the hours when the claim sold, the redeemer pays
``min_fee`` as the job's price, all of it fee.

Every job settles by ``JobMarket``'s rules, in integer token base units (:mod:`tokenomics.audit`
states them): a posted job's fee must reach ``min_fee`` (the price is raised to it) and its
collateral ``min_collateral``; with probability ``p`` the job is audited by a verifier drawn by
stake; a verdict that stands pays its verifier the fee (pass) or ``accuserRewardBps`` of the
collateral (fail) plus ``min(pool·poolShareBps, fee)`` from the reward pool, which the fees of
unaudited jobs fill. A provider that corrupted ``b`` units is caught with ``d(b)``
(``verifier.detection``). A cheater saves the share ``b/N`` of the full cost of the hours (capex and
power: the worst case is a provider with no GPU at all).

Strategies: ``cheat_fraction`` of every job's units; ``withhold`` (``"audited"``, ``"caught"``):
when the provider, which knows the seed before it reveals, withholds its reveal and defaults
(price and collateral to the consumer); ``sybil_share_bps``: Sybil verifiers with that share of the
stake, which pass the group's own jobs when drawn and, on an honest fail, sit on the panel — the
provider contests exactly when the panel it already knows is a Sybil majority, and then is paid and
its seats split the fee and the accuser's slashed stake. Sybil audits of other providers' jobs are
honest and counted apart (``sybil_income_elsewhere``). Everything is drawn from one
``random.Random(seed)``: same seed, same result.

Bounds: at most :data:`MAX_EPOCHS` epochs and :data:`MAX_JOBS` jobs per run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tokenomics.audit import (
    WITHHOLD_POLICIES,
    AuditTerms,
    Withhold,
    detection,
    expected_gain,
    min_price,
    n_bad_for_fraction,
    panel_majority_probability,
    pool_equilibrium,
    pool_share,
    verifier_economics,
)
from tokenomics.costs import OperatingCosts
from tokenomics.depreciation import DepreciationModel
from tokenomics.errors import ParameterError
from tokenomics.market_data import HOURS_PER_YEAR, load_market_data
from tokenomics.provider import ProviderTerms
from tokenomics.units import BPS, UNIT, check_fraction, check_positive, units_to_tokens, usd_to_units
from verifier.detection import plan_samples
from verifier.errors import InvalidArgument

MAX_EPOCHS = 1000
MAX_JOBS = 500_000


@dataclass(frozen=True)
class Strategy:
    """A group of providers (one owner) that corrupt ``cheat_fraction`` of every job's units (0 = honest),
    withhold their reveal per ``withhold`` and hold ``sybil_share_bps`` of the verifier stake."""

    name: str
    cheat_fraction: float
    providers: int
    withhold: Withhold = "never"
    sybil_share_bps: int = 0


DEFAULT_STRATEGIES = (
    Strategy("honest", 0.0, 6),
    Strategy("cheat_sparse", 0.05, 3),
    Strategy("cheat_half", 0.5, 3),
    Strategy("cheat_all", 1.0, 3),
    Strategy("cheat_half_withhold", 0.5, 3, withhold="audited"),
    Strategy("cheat_all_sybil", 1.0, 3, sybil_share_bps=1000),
)


@dataclass(frozen=True)
class SimulationParams:
    """Everything a run depends on; the defaults are the ones the README and the CLI use."""

    seed: int = 0
    gpu_class: str = "H100"
    epochs: int = 52
    epoch_hours: int = 168
    gpus_per_provider: int = 1
    job_hours: int = 8
    units_per_job: int = 2000
    strategies: tuple[Strategy, ...] = DEFAULT_STRATEGIES
    min_cheat_fraction: str = "0.05"
    confidence: str = "0.99"
    audit_probability_bps: int = 2500
    collateral_bps: int = 50_000
    fee_bps: int = 500
    accuser_reward_bps: int = 2000
    pool_share_bps: int = 1000
    min_fee: int = 6 * UNIT // 10
    min_collateral: int = UNIT
    prepaid_bps: int = 2000
    panel_size: int = 3
    false_accuser_slash: int = 50 * UNIT
    verifiers: int = 3
    target_utilization: float = 0.7
    demand_elasticity: float = field(
        default_factory=lambda: load_market_data().market.demand_elasticity.value
    )
    demand_noise: float = 0.10
    price_adjust: float = 0.5
    perf_per_dollar_step: float | None = None

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, 0, 2**63)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("epoch_hours", self.epoch_hours, 1, 24 * 366)
        _check_int("gpus_per_provider", self.gpus_per_provider, 1, 10_000)
        _check_int("job_hours", self.job_hours, 1, self.epoch_hours)
        _check_int("units_per_job", self.units_per_job, 1, 10**9)
        _check_int("audit_probability_bps", self.audit_probability_bps, 0, BPS)
        _check_int("collateral_bps", self.collateral_bps, 0, 100 * BPS)
        _check_int("fee_bps", self.fee_bps, 0, BPS)
        _check_int("accuser_reward_bps", self.accuser_reward_bps, 0, BPS)
        _check_int("pool_share_bps", self.pool_share_bps, 0, BPS)
        _check_int("min_fee", self.min_fee, 1, 10**30)
        _check_int("min_collateral", self.min_collateral, 0, 10**30)
        _check_int("prepaid_bps", self.prepaid_bps, 0, BPS)
        _check_int("panel_size", self.panel_size, 1, 31)
        _check_int("false_accuser_slash", self.false_accuser_slash, 0, 10**30)
        _check_int("verifiers", self.verifiers, 1, 1000)
        min_price(self.min_fee, self.fee_bps)  # a fee of 0 bps can never reach min_fee
        check_fraction("target_utilization", self.target_utilization, allow_zero=False)
        check_positive("demand_elasticity", self.demand_elasticity)
        check_positive("demand_noise", self.demand_noise, allow_zero=True)
        check_positive("price_adjust", self.price_adjust)
        if not self.strategies:
            raise ParameterError("strategies", "need at least one strategy")
        names = [s.name for s in self.strategies]
        if len(set(names)) != len(names):
            raise ParameterError("strategies", f"names must be unique, got {names}")
        for s in self.strategies:
            check_fraction(f"strategies.{s.name}.cheat_fraction", s.cheat_fraction)
            _check_int(f"strategies.{s.name}.providers", s.providers, 1, 1000)
            _check_int(f"strategies.{s.name}.sybil_share_bps", s.sybil_share_bps, 0, BPS - 1)
            if s.withhold not in WITHHOLD_POLICIES:
                raise ParameterError(
                    f"strategies.{s.name}.withhold", f"must be one of {', '.join(WITHHOLD_POLICIES)}"
                )
        if sum(s.sybil_share_bps for s in self.strategies) >= BPS:
            raise ParameterError("strategies", "Sybil shares must leave stake to the honest verifiers")
        total = sum(s.providers for s in self.strategies) * self.gpus_per_provider * self.epoch_hours
        if total * self.epochs // self.job_hours > MAX_JOBS:
            raise ParameterError(
                "epochs", f"run too large: more than {MAX_JOBS} jobs; use fewer epochs or providers"
            )


@dataclass
class _Account:
    """Running totals of one provider (base units)."""

    strategy: Strategy
    group: int
    n_bad: int
    capacity_hours: int
    revenue: int = 0
    compute_cost: int = 0
    slashed: int = 0
    contest_income: int = 0
    sybil_income: int = 0
    jobs: int = 0
    prepaid: int = 0
    audited: int = 0
    caught: int = 0
    withheld: int = 0
    panels: int = 0
    contests_won: int = 0


@dataclass
class _Verifier:
    """A stake in the sortition: an honest verifier (``group`` -1) or a strategy group's Sybils."""

    group: int
    weight: int
    rewards: int = 0
    cost: int = 0
    audits: int = 0
    slashed: int = 0


@dataclass
class _Market:
    """The market's books: the reward pool and the tokens that went in and out (``totalOwed``)."""

    verifiers: list[_Verifier]
    pool: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    consumer_paid: int = 0
    consumer_refunds: int = 0

    def draw(self, rng: random.Random, exclude: _Verifier | None = None) -> _Verifier:
        """A stake-weighted draw (each draw independent), never ``exclude``."""
        total = sum(v.weight for v in self.verifiers if v is not exclude)
        r = rng.randrange(total)
        for v in self.verifiers:
            if v is exclude:
                continue
            if r < v.weight:
                return v
            r -= v.weight
        raise AssertionError("unreachable: r < total")

    def pay_out(self, amount: int) -> None:
        self.tokens_out += amount


def run_simulation(params: SimulationParams | None = None) -> dict[str, Any]:
    """Run the market and return a JSON-ready report (integers are base units).

    Keys: ``params``, ``audit`` (k, detection, the audit condition, the verifier's threshold),
    ``epochs`` (price, demand, utilization, reward pool per epoch), ``strategies`` (name → profit,
    counters and the model's expected gain per job), ``verifiers`` (the honest ones), ``consumers``,
    ``reward_pool`` (left in the market at the end) and ``conservation`` (tokens in minus tokens out
    minus the pool: always 0, as the contract's ``totalOwed`` invariant).
    """
    p = params or SimulationParams()
    rng = random.Random(p.seed)
    md = load_market_data()
    gpu = md.gpu_class(p.gpu_class)
    model = DepreciationModel.defaults(
        **({"step": p.perf_per_dollar_step} if p.perf_per_dollar_step is not None else {})
    )
    costs = OperatingCosts.defaults(utilization=p.target_utilization)
    terms = ProviderTerms.for_class(gpu, costs=costs)
    cost_per_hour = usd_to_units(f"{terms.break_even_usd_per_hour():.6f}")
    floor_usd = terms.marginal_usd_per_hour
    try:
        plan = plan_samples(
            n_units=p.units_per_job, min_cheat_fraction=p.min_cheat_fraction, confidence=p.confidence
        )
    except InvalidArgument as exc:
        raise ParameterError("audit plan", str(exc)) from None
    k = plan.k

    accounts: list[_Account] = []
    for g, s in enumerate(p.strategies):
        n_bad = n_bad_for_fraction(s.cheat_fraction, p.units_per_job) if s.cheat_fraction > 0 else 0
        for _ in range(s.providers):
            accounts.append(_Account(s, g, n_bad, p.gpus_per_provider * p.epoch_hours))
    capacity = sum(a.capacity_hours for a in accounts)
    base_demand = p.target_utilization * capacity

    # weights: each honest verifier BPS - sum(s), each Sybil group s * verifiers: shares exactly s
    honest_weight = BPS - sum(s.sybil_share_bps for s in p.strategies)
    verifiers = [_Verifier(-1, honest_weight) for _ in range(p.verifiers)]
    sybils = {
        g: _Verifier(g, s.sybil_share_bps * p.verifiers)
        for g, s in enumerate(p.strategies)
        if s.sybil_share_bps > 0
    }
    market = _Market(verifiers + list(sybils.values()))
    price_floor = min_price(p.min_fee, p.fee_bps)
    price_usd = gpu.spot_usd_per_hour.value
    epochs: list[dict[str, Any]] = []
    first_terms: AuditTerms | None = None
    sigma = p.demand_noise

    for epoch in range(p.epochs):
        years = epoch * p.epoch_hours / HOURS_PER_YEAR
        reference = model.spot(gpu, years)
        shock = math.exp(sigma * rng.gauss(0.0, 1.0) - sigma * sigma / 2) if sigma else 1.0
        demand = base_demand * (price_usd / reference) ** (-p.demand_elasticity) * shock
        n_jobs = min(int(demand // p.job_hours), capacity // p.job_hours)
        hours_value = usd_to_units(f"{price_usd:.6f}") * p.job_hours
        job_cost = cost_per_hour * p.job_hours
        posted = AuditTerms(
            price=max(hours_value, price_floor),
            compute_cost=job_cost,
            collateral=max(hours_value * p.collateral_bps // BPS, p.min_collateral),
            n_units=p.units_per_job,
            samples=k,
            audit_probability_bps=p.audit_probability_bps,
            fee_bps=p.fee_bps,
            accuser_reward_bps=p.accuser_reward_bps,
            pool_share_bps=p.pool_share_bps,
            min_fee=p.min_fee,
            min_collateral=p.min_collateral,
            panel_size=p.panel_size,
            false_accuser_slash=p.false_accuser_slash,
        )
        prepaid = posted.with_(price=p.min_fee, prepaid=True)
        first_terms = first_terms or posted
        free = [a.capacity_hours for a in accounts]
        counts = {"audits": 0, "caught": 0, "withheld": 0, "prepaid": 0}
        for _ in range(n_jobs):
            i = rng.choices(range(len(accounts)), weights=free)[0]
            free[i] -= p.job_hours
            acct = accounts[i]
            is_prepaid = rng.randrange(BPS) < p.prepaid_bps
            job = prepaid if is_prepaid else posted
            if is_prepaid:
                counts["prepaid"] += 1
                acct.prepaid += 1
                acct.revenue += hours_value  # the claim's sale, outside the market
                market.consumer_paid += hours_value
            acct.jobs += 1
            acct.compute_cost += job_cost - job_cost * acct.n_bad // p.units_per_job
            outcome = _settle(rng, market, acct, job, sybils.get(acct.group), p)
            counts[outcome] = counts.get(outcome, 0) + 1
        sold = n_jobs * p.job_hours
        epochs.append(
            {
                "epoch": epoch,
                "price_usd": round(price_usd, 6),
                "reference_usd": round(reference, 6),
                "demand_hours": round(demand, 3),
                "sold_hours": sold,
                "utilization": round(sold / capacity, 6),
                "jobs": n_jobs,
                "prepaid": counts["prepaid"],
                "audits": counts.get("pass", 0) + counts.get("caught", 0) + counts.get("overturned", 0),
                "caught": counts.get("caught", 0),
                "withheld": counts.get("withheld", 0),
                "reward_pool": market.pool,
            }
        )
        ratio = (demand / capacity) / p.target_utilization
        step = min(max(ratio**p.price_adjust, 0.8), 1.25)
        price_usd = max(price_usd * step, floor_usd)

    assert first_terms is not None  # epochs >= 1
    honest = [v for v in market.verifiers if v.group < 0]
    v_econ = verifier_economics(first_terms, pool=market.pool)
    return {
        "params": _params_json(p),
        "audit": {
            "samples": k,
            "units_per_job": p.units_per_job,
            "detection_at_min_fraction": plan.detection_probability,
            "audit_probability_bps": p.audit_probability_bps,
            "collateral_bps": p.collateral_bps,
            "cost_per_gpu_hour": cost_per_hour,
            "verifier_audit_cost_per_job": v_econ.audit_cost,
            "verifier_fee_per_job": v_econ.fee,
            "verifier_min_fee": v_econ.min_fee,
            "diligence_min_cheat_rate": v_econ.min_cheat_rate_for_diligence,
            "pool_equilibrium": pool_equilibrium(first_terms),
        },
        "epochs": epochs,
        "strategies": {
            s.name: _strategy_report(p, g, s, accounts, sybils.get(g), first_terms, honest_weight)
            for g, s in enumerate(p.strategies)
        },
        "verifiers": {
            "count": p.verifiers,
            "audits": sum(v.audits for v in honest),
            "rewards": sum(v.rewards for v in honest),
            "cost": sum(v.cost for v in honest),
            "slashed": sum(v.slashed for v in honest),
            "profit": sum(v.rewards - v.cost - v.slashed for v in honest),
            "profit_tokens": units_to_tokens(sum(v.rewards - v.cost - v.slashed for v in honest)),
        },
        "consumers": {
            "paid": market.consumer_paid,
            "refunded": market.consumer_refunds,
            "net_spend": market.consumer_paid - market.consumer_refunds,
        },
        "reward_pool": market.pool,
        "conservation": market.tokens_in - market.tokens_out - market.pool,
    }


def _settle(
    rng: random.Random,
    market: _Market,
    acct: _Account,
    job: AuditTerms,
    own_sybil: _Verifier | None,
    p: SimulationParams,
) -> str:
    """One job from escrow to settlement by ``JobMarket``'s rules; returns how it ended."""
    price, collateral, fee = job.price, job.collateral, job.fee
    market.tokens_in += price + collateral
    market.consumer_paid += price
    audited = rng.randrange(BPS) < p.audit_probability_bps
    auditor = market.draw(rng) if audited else None
    hit = audited and acct.n_bad > 0 and rng.random() < detection(p.units_per_job, acct.n_bad, job.samples)
    honest_auditor = auditor is not None and auditor is not own_sybil
    seats = 0
    if hit and honest_auditor and own_sybil is not None:
        # the provider knows the panel before it reveals: contest only when its Sybils hold the majority
        acct.panels += 1
        seats = sum(market.draw(rng, exclude=auditor) is own_sybil for _ in range(p.panel_size))
    panel_wins = 2 * seats > p.panel_size
    policy = acct.strategy.withhold
    would_lose = hit and honest_auditor and not panel_wins
    if acct.n_bad > 0 and ((policy == "audited" and audited) or (policy == "caught" and would_lose)):
        acct.withheld += 1
        acct.slashed += collateral
        market.consumer_refunds += price + collateral
        market.pay_out(price + collateral)
        return "withheld"
    if auditor is None:
        market.pool += fee
        _pay_provider(market, acct, job)
        return "unaudited"
    acct.audited += 1
    if honest_auditor:
        auditor.audits += 1
        auditor.cost += job.audit_cost
    if not (hit and honest_auditor):
        _reward(market, auditor, acct, fee + _take_pool_share(market, fee, p))
        _pay_provider(market, acct, job)
        return "pass"
    if panel_wins:
        # overturned: the accuser is slashed, the fee and the stake go to the majority's seats (all Sybil)
        assert auditor is not None
        slashed = p.false_accuser_slash
        auditor.slashed += slashed
        market.tokens_in += slashed
        per_seat = (fee + slashed) // seats
        market.pool += fee + slashed - per_seat * seats
        acct.contest_income += per_seat * seats
        acct.contests_won += 1
        market.pay_out(per_seat * seats)
        _pay_provider(market, acct, job)
        return "overturned"
    acct.caught += 1
    acct.slashed += collateral
    accuser_paid = job.verifier_share + _take_pool_share(market, fee, p)
    _reward(market, auditor, acct, accuser_paid)
    refund = price + collateral - job.verifier_share
    market.consumer_refunds += refund
    market.pay_out(refund)
    return "caught"


def _take_pool_share(market: _Market, fee: int, p: SimulationParams) -> int:
    share = pool_share(market.pool, fee, p.pool_share_bps)
    market.pool -= share
    return share


def _pay_provider(market: _Market, acct: _Account, job: AuditTerms) -> None:
    acct.revenue += job.paid
    market.pay_out(job.paid + job.collateral)


def _reward(market: _Market, auditor: _Verifier, acct: _Account, amount: int) -> None:
    if auditor.group == acct.group:
        acct.sybil_income += amount
    auditor.rewards += amount
    market.pay_out(amount)


def _strategy_report(
    p: SimulationParams,
    g: int,
    s: Strategy,
    accounts: list[_Account],
    sybil: _Verifier | None,
    terms: AuditTerms,
    honest_weight: int,
) -> dict[str, Any]:
    group = [a for a in accounts if a.group == g]
    revenue = sum(a.revenue for a in group)
    cost = sum(a.compute_cost for a in group)
    slashed = sum(a.slashed for a in group)
    contest_income = sum(a.contest_income for a in group)
    sybil_income = sum(a.sybil_income for a in group)
    jobs = sum(a.jobs for a in group)
    profit = revenue - cost - slashed + contest_income
    n_bad = group[0].n_bad
    total_weight = p.verifiers * BPS
    panel_share = Fraction(s.sybil_share_bps * p.verifiers, total_weight - honest_weight)
    model_terms = terms.with_(
        sybil_share_bps=s.sybil_share_bps,
        accuser_stake_bps=honest_weight // p.verifiers,
    )
    return {
        "profit": profit,
        "profit_tokens": units_to_tokens(profit),
        "profit_per_job": profit // jobs if jobs else 0,
        "cheat_fraction": s.cheat_fraction,
        "withhold": s.withhold,
        "sybil_share_bps": s.sybil_share_bps,
        "providers": s.providers,
        "providers_in_profit": sum(
            1 for a in group if a.revenue - a.compute_cost - a.slashed + a.contest_income > 0
        ),
        "jobs": jobs,
        "prepaid": sum(a.prepaid for a in group),
        "audited": sum(a.audited for a in group),
        "caught": sum(a.caught for a in group),
        "withheld": sum(a.withheld for a in group),
        "panels_drawn": sum(a.panels for a in group),
        "contests_won": sum(a.contests_won for a in group),
        "revenue": revenue,
        "compute_cost": cost,
        "slashed": slashed,
        "contest_income": contest_income,
        "sybil_income": sybil_income,
        "sybil_income_elsewhere": (sybil.rewards - sybil_income) if sybil else 0,
        "panel_majority_probability": float(panel_majority_probability(p.panel_size, panel_share))
        if s.sybil_share_bps
        else 0.0,
        "expected_gain_per_job": round(expected_gain(model_terms, n_bad, withhold=s.withhold)),
    }


def _params_json(p: SimulationParams) -> dict[str, Any]:
    out: dict[str, Any] = {f: getattr(p, f) for f in p.__dataclass_fields__ if f != "strategies"}
    out["strategies"] = [
        {
            "name": s.name,
            "cheat_fraction": s.cheat_fraction,
            "providers": s.providers,
            "withhold": s.withhold,
            "sybil_share_bps": s.sybil_share_bps,
        }
        for s in p.strategies
    ]
    return out


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(name, f"must be an integer in [{low}, {high}], got {value!r}")
