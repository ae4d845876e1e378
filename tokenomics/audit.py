"""Audit economics: when does cheating on a job pay, and what makes honest auditing pay.

A provider is paid ``price`` for a job of ``N`` units that costs it ``C`` to compute honestly,
and posts ``collateral`` ``S``. With probability ``p`` the job is audited: ``k`` distinct units are
recomputed. A provider that corrupted ``b`` units (fraction ``f = b/N``, saving ``f·C``) is caught
with ``p·d(b)``, where ``d(b) = 1 - C(N-b, k)/C(N, k)`` comes from :mod:`verifier.detection` (the
same code that sizes real audits). The payout rules are ``JobMarket``'s: not caught → paid
``price - fee`` (the fee goes to the auditing verifier, or to the verifier reward pool when the job
is not audited); caught → no payment (the consumer gets the price back) and the collateral goes to
the consumer except ``accuserRewardBps`` of it, which rewards the verifier.

Gain of cheating over honesty:  ``G(b) = (b/N)·C - p·d(b)·(price - fee + S)``.
Because ``d`` is concave in ``b`` (its increments ``S(b)·k/(N-b)`` shrink), ``d(b)/b`` falls, so the
gain per corrupted unit ``G(b)/b`` is largest when corrupting everything (``b = N``, ``d = 1``): the
sign of ``G(N)`` decides for every ``b`` at once, and every cheating strategy is
unprofitable iff ``p·(price - fee + S) > C`` — the Proof-of-Sampling condition ``p > C/(R + S)``
(Hyperbolic, arXiv 2405.00295) with R the payment at risk. :func:`min_collateral` and
:func:`min_audit_probability_bps` solve it in exact integers; :func:`worst_cheat` checks it by
scanning every ``b`` (tests confirm the scan agrees with the closed form).

Verifier: an audit costs ``k/N·C`` plus overhead and earns the fee (pass) or its share of the
slashed collateral (fail), plus ``poolShareBps`` of the reward pool either way. A verifier that
rubber-stamps "pass" without recomputing earns the fee for free, so diligence only pays when
enough audited jobs are cheats (or planted test jobs): :func:`verifier_economics` gives that
minimum rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from tokenomics.errors import ParameterError
from tokenomics.units import BPS
from verifier.detection import detection_probability, parse_fraction
from verifier.errors import InvalidArgument

SCAN_LIMIT = 4096
"""Largest N for which :func:`worst_cheat` tries every b; above it a geometric grid plus b = N."""


@dataclass(frozen=True)
class AuditTerms:
    """One job's economics; every amount in token base units (int), shares and p in basis points."""

    price: int
    compute_cost: int
    collateral: int
    n_units: int
    samples: int
    audit_probability_bps: int
    fee_bps: int = 500
    accuser_reward_bps: int = 2000
    verifier_overhead: int = 0

    def __post_init__(self) -> None:
        for name in ("price", "compute_cost", "collateral", "verifier_overhead"):
            _check_int(name, getattr(self, name), low=0)
        _check_int("n_units", self.n_units, low=1)
        _check_int("samples", self.samples, low=1, high=self.n_units)
        for name in ("audit_probability_bps", "fee_bps", "accuser_reward_bps"):
            _check_int(name, getattr(self, name), low=0, high=BPS)

    @property
    def fee(self) -> int:
        """Protocol fee on the price (to the verifier on an audited pass)."""
        return self.price * self.fee_bps // BPS

    @property
    def paid(self) -> int:
        """What an accepted job pays the provider: price minus fee."""
        return self.price - self.fee

    @property
    def verifier_share(self) -> int:
        """The verifier's part of a slashed collateral (the consumer gets the rest)."""
        return self.collateral * self.accuser_reward_bps // BPS

    @property
    def audit_cost(self) -> int:
        """What one audit costs the verifier: recomputing k of N units, plus overhead."""
        return -(-self.compute_cost * self.samples // self.n_units) + self.verifier_overhead

    def with_(self, **changes: int) -> AuditTerms:
        """A copy with some fields replaced."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        return AuditTerms(**values)


def n_bad_for_fraction(fraction: float | str, n_units: int) -> int:
    """``ceil(f·N)`` without float error (``0.1`` means 1/10), at least 1 for ``f > 0``."""
    try:
        frac = parse_fraction("cheat_fraction", fraction)
    except InvalidArgument as exc:
        raise ParameterError("cheat_fraction", str(exc)) from None
    if not 0 < frac <= 1:
        raise ParameterError("cheat_fraction", f"must be in (0, 1], got {fraction}")
    return -((-frac.numerator * n_units) // frac.denominator)


@lru_cache(maxsize=4096)
def detection(n_units: int, n_bad: int, k: int) -> float:
    """:func:`verifier.detection.detection_probability`, cached (the simulation asks often)."""
    return detection_probability(n_units, n_bad, k)


def caught_probability(terms: AuditTerms, n_bad: int) -> float:
    """Probability that a job with ``n_bad`` corrupted units is audited and caught: ``p·d(b)``."""
    return terms.audit_probability_bps / BPS * detection(terms.n_units, n_bad, terms.samples)


def _caught(terms: AuditTerms, n_bad: int) -> Fraction:
    # Exact rational arithmetic on the (float) detection probability: amounts are ~1e20 base units,
    # and a float sum would lose the last units that decide a boundary case.
    d = detection(terms.n_units, n_bad, terms.samples)
    return Fraction(terms.audit_probability_bps, BPS) * Fraction(d)


def expected_gain(terms: AuditTerms, n_bad: int) -> float:
    """Expected gain (base units, model float) of corrupting ``n_bad`` units instead of being honest."""
    _check_int("n_bad", n_bad, low=0, high=terms.n_units)
    saved = Fraction(terms.compute_cost * n_bad, terms.n_units)
    return float(saved - _caught(terms, n_bad) * (terms.paid + terms.collateral))


def expected_profit(terms: AuditTerms, n_bad: int) -> float:
    """Expected profit per job (base units, model float) of a provider corrupting ``n_bad`` units."""
    _check_int("n_bad", n_bad, low=0, high=terms.n_units)
    q = _caught(terms, n_bad)
    cost = Fraction(terms.compute_cost * (terms.n_units - n_bad), terms.n_units)
    return float((1 - q) * terms.paid - cost - q * terms.collateral)


@dataclass(frozen=True)
class WorstCheat:
    """The most profitable corruption count found and its expected gain over honesty."""

    n_bad: int
    gain: float


def worst_cheat(terms: AuditTerms) -> WorstCheat:
    """Scan corruption counts (all of them up to :data:`SCAN_LIMIT` units) for the largest gain."""
    n = terms.n_units
    if n <= SCAN_LIMIT:
        candidates = range(1, n + 1)
    else:
        grid = {n}
        b = 1
        while b < n:
            grid.add(b)
            b = max(b + 1, int(b * 1.05))
        candidates = sorted(grid)  # type: ignore[assignment]
    best = max(candidates, key=lambda b: expected_gain(terms, b))
    return WorstCheat(n_bad=best, gain=expected_gain(terms, best))


def cheating_unprofitable(terms: AuditTerms) -> bool:
    """Exact integer test of ``p·(price - fee + S) > C``: no corruption count beats honesty."""
    return terms.audit_probability_bps * (terms.paid + terms.collateral) > terms.compute_cost * BPS


def min_collateral(terms: AuditTerms) -> int | None:
    """Smallest collateral (base units) that makes every cheating strategy lose against honesty.

    ``None`` when no collateral helps (audit probability 0).
    """
    p = terms.audit_probability_bps
    if p == 0:
        return None
    # smallest S with p·(paid + S) > C·BPS
    need = terms.compute_cost * BPS - p * terms.paid
    return max(0, need // p + 1)


def min_audit_probability_bps(terms: AuditTerms) -> int | None:
    """Smallest audit probability (bps) that makes every cheating strategy lose; ``None`` if > 100 %."""
    total = terms.paid + terms.collateral
    if total == 0:
        return None
    p = terms.compute_cost * BPS // total + 1
    return p if p <= BPS else None


def min_collateral_to_lose(terms: AuditTerms, n_bad: int) -> int | None:
    """Smallest collateral that makes a provider corrupting ``n_bad`` units lose money outright.

    Stronger than beating honesty (a near-honest cheater still earns most of an honest profit);
    ``None`` when it cannot be caught (p = 0 or d = 0).
    """
    q = caught_probability(terms, n_bad)
    if q == 0:
        return None
    cost = terms.compute_cost * (terms.n_units - n_bad) / terms.n_units
    need = ((1 - q) * terms.paid - cost) / q
    return max(0, int(need) + 1)


@dataclass(frozen=True)
class VerifierEconomics:
    """Per-audit economics of a verifier; amounts in base units (expected values are floats)."""

    audit_cost: int
    fee: int
    slash_reward: int
    pool_reward: int
    honest_expected_profit: float
    lazy_expected_profit: float
    min_fee_bps: int
    min_cheat_rate_for_diligence: float | None


def verifier_economics(
    terms: AuditTerms, *, cheat_rate: float = 0.0, n_bad: int | None = None, pool_reward: int = 0
) -> VerifierEconomics:
    """What auditing honestly earns per audit when ``cheat_rate`` of audited jobs corrupt ``n_bad`` units.

    ``pool_reward`` is the reward-pool share an audit also earns (``poolShareBps`` of the pool; in a
    steady state about ``(1-p)/p`` fees); it is paid for lazy and diligent audits alike.

    ``min_fee_bps`` is the fee at which an audit of an honest job pays for itself;
    ``min_cheat_rate_for_diligence`` is the share of cheating (or planted) jobs above which
    recomputing beats rubber-stamping (``None`` when the slash reward never exceeds the fee).
    """
    if not 0 <= cheat_rate <= 1:
        raise ParameterError("cheat_rate", f"must be in [0, 1], got {cheat_rate}")
    b = terms.n_units if n_bad is None else n_bad
    d = detection(terms.n_units, b, terms.samples)
    cost = terms.audit_cost
    caught = cheat_rate * d
    honest = (1 - caught) * terms.fee + caught * terms.verifier_share - cost + pool_reward
    lazy = float(terms.fee + pool_reward)
    edge = d * (terms.verifier_share - terms.fee)
    min_rate = cost / edge if edge > 0 else None
    min_fee_bps = -(-cost * BPS // terms.price) if terms.price else BPS
    return VerifierEconomics(
        audit_cost=cost,
        fee=terms.fee,
        slash_reward=terms.verifier_share,
        pool_reward=pool_reward,
        honest_expected_profit=honest,
        lazy_expected_profit=lazy,
        min_fee_bps=min_fee_bps,
        min_cheat_rate_for_diligence=min_rate if min_rate is not None and min_rate <= 1 else None,
    )


def _check_int(name: str, value: object, *, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(name, f"must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ParameterError(name, f"must be {bound}, got {value}")
