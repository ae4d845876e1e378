"""An agent-based market: providers (honest and cheating), consumers, verifiers, over epochs.

Each epoch (a week by default) consumers demand GPU-hours along an elastic demand curve around the
model spot price of the class (:mod:`tokenomics.depreciation`; elasticity > 1 is the "Jevons"
regime of Zhang & Zhang), providers offer their capacity, and the price moves towards the level
that clears the market at the target utilization (never below the providers' cash cost). Demand is
cut into jobs of ``job_hours``; each job goes to a provider drawn in proportion to its free
capacity (consumers cannot tell cheaters apart before an audit).

Every job settles by the contracts' rules, in integer token base units: the consumer escrows the
price, the provider posts collateral; with probability ``p`` (bps, as ``auditProbabilityBps``) the
job is audited with ``k`` samples (``verifier.detection.plan_samples``); a provider that corrupted
``b`` units is caught with ``d(b)`` (``verifier.detection.detection_probability``). Pass or not
audited → provider paid price minus fee (the fee goes to the drawn verifier on an audit, to the
verifier reward pool otherwise); caught → consumer gets the price back and the collateral minus
``accuserRewardBps`` of it, which goes to the verifier; every audit also pays the verifier
``poolShareBps`` of the pool (``JobMarket``'s rules). A cheater saves the share ``b/N`` of the
full cost of the hours (capex and power: the worst case is a provider with no GPU at all); it
never contests (it would also lose the bond). Everything is drawn from one
``random.Random(seed)``: same seed, same result.

Bounds: at most :data:`MAX_EPOCHS` epochs and :data:`MAX_JOBS` jobs per run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from tokenomics.audit import AuditTerms, detection, n_bad_for_fraction, verifier_economics
from tokenomics.costs import OperatingCosts
from tokenomics.depreciation import DepreciationModel
from tokenomics.errors import ParameterError
from tokenomics.market_data import HOURS_PER_YEAR, load_market_data
from tokenomics.provider import ProviderTerms
from tokenomics.units import BPS, check_fraction, check_positive, units_to_tokens, usd_to_units
from verifier.detection import plan_samples
from verifier.errors import InvalidArgument

MAX_EPOCHS = 1000
MAX_JOBS = 500_000
_MICRO = 10**6


@dataclass(frozen=True)
class Strategy:
    """A group of providers that corrupt ``cheat_fraction`` of every job's units (0 = honest)."""

    name: str
    cheat_fraction: float
    providers: int


DEFAULT_STRATEGIES = (
    Strategy("honest", 0.0, 6),
    Strategy("cheat_sparse", 0.05, 3),
    Strategy("cheat_half", 0.5, 3),
    Strategy("cheat_all", 1.0, 3),
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
        _check_int("verifiers", self.verifiers, 1, 1000)
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
        total = sum(s.providers for s in self.strategies) * self.gpus_per_provider * self.epoch_hours
        if total * self.epochs // self.job_hours > MAX_JOBS:
            raise ParameterError(
                "epochs", f"run too large: more than {MAX_JOBS} jobs; use fewer epochs or providers"
            )


@dataclass
class _Account:
    """Running totals of one provider (base units)."""

    strategy: Strategy
    n_bad: int
    capacity_hours: int
    revenue: int = 0
    compute_cost: int = 0
    slashed: int = 0
    jobs: int = 0
    audited: int = 0
    caught: int = 0


def run_simulation(params: SimulationParams | None = None) -> dict[str, Any]:
    """Run the market and return a JSON-ready report (integers are base units).

        Keys: ``params``, ``audit`` (k, detection, the audit condition), ``epochs`` (price, demand,
        utilization per epoch), ``strategies`` (name → profit and counters), ``verifiers``,
        ``consumers``, ``reward_pool`` (left in the market at the end) and ``conservation`` (tokens in
    minus tokens out minus the pool: always 0, as the contract's ``totalOwed`` invariant).
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
    for s in p.strategies:
        n_bad = n_bad_for_fraction(s.cheat_fraction, p.units_per_job) if s.cheat_fraction > 0 else 0
        for _ in range(s.providers):
            accounts.append(_Account(s, n_bad, p.gpus_per_provider * p.epoch_hours))
    capacity = sum(a.capacity_hours for a in accounts)
    base_demand = p.target_utilization * capacity

    verifier_rewards = [0] * p.verifiers
    verifier_costs = [0] * p.verifiers
    verifier_audits = [0] * p.verifiers
    consumer_paid = consumer_refunds = reward_pool = 0
    escrow_in = 0  # tokens into the market (price + collateral)
    escrow_out = 0  # tokens out of it (payments, fees, refunds, slashes, returned collateral)
    price_usd = gpu.spot_usd_per_hour.value
    epochs: list[dict[str, Any]] = []
    sigma = p.demand_noise

    for epoch in range(p.epochs):
        years = epoch * p.epoch_hours / HOURS_PER_YEAR
        reference = model.spot(gpu, years)
        shock = math.exp(sigma * rng.gauss(0.0, 1.0) - sigma * sigma / 2) if sigma else 1.0
        demand = base_demand * (price_usd / reference) ** (-p.demand_elasticity) * shock
        n_jobs = min(int(demand // p.job_hours), capacity // p.job_hours)
        hour_units = usd_to_units(f"{price_usd:.6f}")
        job_price = hour_units * p.job_hours
        job_cost = cost_per_hour * p.job_hours
        audit_terms = AuditTerms(
            price=job_price,
            compute_cost=job_cost,
            collateral=job_price * p.collateral_bps // BPS,
            n_units=p.units_per_job,
            samples=k,
            audit_probability_bps=p.audit_probability_bps,
            fee_bps=p.fee_bps,
            accuser_reward_bps=p.accuser_reward_bps,
        )
        free = [a.capacity_hours for a in accounts]
        audits = caught = 0
        for _ in range(n_jobs):
            i = rng.choices(range(len(accounts)), weights=free)[0]
            free[i] -= p.job_hours
            acct = accounts[i]
            acct.jobs += 1
            consumer_paid += job_price
            escrow_in += job_price + audit_terms.collateral
            acct.compute_cost += job_cost - job_cost * acct.n_bad // p.units_per_job
            audited = rng.randrange(BPS) < p.audit_probability_bps
            fail = False
            v = -1
            if audited:
                audits += 1
                acct.audited += 1
                v = rng.randrange(p.verifiers)
                verifier_audits[v] += 1
                verifier_costs[v] += audit_terms.audit_cost
                pool_share = reward_pool * p.pool_share_bps // BPS
                reward_pool -= pool_share
                verifier_rewards[v] += pool_share
                escrow_out += pool_share
                fail = acct.n_bad > 0 and rng.random() < detection(p.units_per_job, acct.n_bad, k)
            if fail:
                caught += 1
                acct.caught += 1
                acct.slashed += audit_terms.collateral
                share = audit_terms.verifier_share
                verifier_rewards[v] += share
                refund = job_price + audit_terms.collateral - share
                consumer_refunds += refund
                escrow_out += share + refund
            else:
                acct.revenue += audit_terms.paid
                if audited:
                    verifier_rewards[v] += audit_terms.fee
                    escrow_out += audit_terms.fee
                else:
                    reward_pool += audit_terms.fee
                escrow_out += audit_terms.paid + audit_terms.collateral
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
                "audits": audits,
                "caught": caught,
            }
        )
        ratio = (demand / capacity) / p.target_utilization
        step = min(max(ratio**p.price_adjust, 0.8), 1.25)
        price_usd = max(price_usd * step, floor_usd)

    strategies: dict[str, dict[str, Any]] = {}
    for s in p.strategies:
        group = [a for a in accounts if a.strategy is s]
        revenue = sum(a.revenue for a in group)
        cost = sum(a.compute_cost for a in group)
        slashed = sum(a.slashed for a in group)
        jobs = sum(a.jobs for a in group)
        profit = revenue - cost - slashed
        strategies[s.name] = {
            "profit": profit,
            "profit_tokens": units_to_tokens(profit),
            "profit_per_job": profit // jobs if jobs else 0,
            "cheat_fraction": s.cheat_fraction,
            "providers": s.providers,
            "providers_in_profit": sum(1 for a in group if a.revenue - a.compute_cost - a.slashed > 0),
            "jobs": jobs,
            "audited": sum(a.audited for a in group),
            "caught": sum(a.caught for a in group),
            "revenue": revenue,
            "compute_cost": cost,
            "slashed": slashed,
        }
    v_econ = verifier_economics(audit_terms)  # the last epoch's terms (epochs >= 1)
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
        },
        "epochs": epochs,
        "strategies": strategies,
        "verifiers": {
            "count": p.verifiers,
            "audits": sum(verifier_audits),
            "rewards": sum(verifier_rewards),
            "cost": sum(verifier_costs),
            "profit": sum(verifier_rewards) - sum(verifier_costs),
            "profit_tokens": units_to_tokens(sum(verifier_rewards) - sum(verifier_costs)),
        },
        "consumers": {
            "paid": consumer_paid,
            "refunded": consumer_refunds,
            "net_spend": consumer_paid - consumer_refunds,
        },
        "reward_pool": reward_pool,
        "conservation": escrow_in - escrow_out - reward_pool,
    }


def _params_json(p: SimulationParams) -> dict[str, Any]:
    out: dict[str, Any] = {f: getattr(p, f) for f in p.__dataclass_fields__ if f != "strategies"}
    out["strategies"] = [
        {"name": s.name, "cheat_fraction": s.cheat_fraction, "providers": s.providers} for s in p.strategies
    ]
    return out


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(name, f"must be an integer in [{low}, {high}], got {value!r}")
