"""Audit economics: when does cheating on a job pay, and what makes honest auditing pay.

A provider is paid ``price`` for a job of ``N`` units that costs it ``C`` to compute honestly,
and posts ``collateral`` ``S``. With probability ``p`` the job is audited: ``k`` distinct units are
recomputed. A provider that corrupted ``b`` units (fraction ``f = b/N``, saving ``f·C``) is caught
with ``p·d(b)``, where ``d(b) = 1 - C(N-b, k)/C(N, k)`` comes from :mod:`verifier.detection` (the
same code that sizes real audits). The payout rules are ``JobMarket``'s: ``fee = price·feeBps`` (a
prepaid job's price is all fee) and must reach ``minFee``; not audited → the provider is paid
``price - fee``, the fee funds the reward pool; pass → the verifier gets the fee plus the pool share
``min(pool·poolShareBps, fee)`` (capped by the job's own fee); caught → no payment (the consumer gets
the price back) and the collateral goes to the consumer except ``accuserRewardBps`` of it, which
goes to the verifier with the pool share.

The audit seed comes from two secrets committed before the result, so ``p`` is exact. The provider
reveals last and then knows everything the seed fixes: audited or not, the auditor, the sampled
units and the contest panel. Its only choice is to withhold its reveal, which defaults it (price and
collateral to the consumer): :data:`WITHHOLD_POLICIES` (``"audited"`` loses more than revealing,
``"caught"`` exactly as much), so revealing is never worse.

A provider may also hold Sybil verifiers, a share ``s`` of the drawable stake. Its Sybil audits its
job with probability ``s`` and passes it; after an honest fail it contests exactly when the panel it
already knows is a Sybil majority (probability ``q``, :func:`panel_majority_probability`), and then
takes back ``price - fee + S`` and its seats split the fee and the accuser's slashed stake. A catch
by an honest verifier therefore costs ``L = (1-q)·(price - fee + S) - q·(fee + falseAccuserSlash)``
over honesty, and the gain of cheating is  ``G(b) = (b/N)·C - p·(1-s)·d(b)·L``  (``s = q = 0``: the
Proof-of-Sampling condition ``p > C/(R + S)``, Hyperbolic, arXiv 2405.00295). Because ``d`` is
concave in ``b`` (its increments ``S(b)·k/(N-b)`` shrink), ``d(b)/b`` falls, so the gain per
corrupted unit is largest at ``b = N`` (``d = 1``): every cheating strategy is unprofitable iff
``p·(1-s)·L > C``. :func:`min_collateral` and :func:`min_audit_probability_bps` solve it exactly;
:func:`worst_cheat` checks it by scanning every ``b``.

Verifier: an audit costs ``k/N·C`` plus overhead and earns the fee (pass) or its share of the
slashed collateral (fail), plus the capped pool share either way. A verifier that rubber-stamps
"pass" earns fee and pool share for free, so diligence only pays when enough audited jobs are
revealed cheats (or planted test jobs): :func:`verifier_economics` gives that minimum rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import comb
from typing import Final, Literal

from tokenomics.errors import ParameterError
from tokenomics.units import BPS
from verifier.detection import detection_probability, parse_fraction
from verifier.errors import InvalidArgument

SCAN_LIMIT = 4096
"""Largest N for which :func:`worst_cheat` tries every b; above it a geometric grid plus b = N."""

Withhold = Literal["never", "audited", "caught"]
WITHHOLD_POLICIES: Final[tuple[Withhold, ...]] = ("never", "audited", "caught")
"""When a cheating provider withholds its reveal (and defaults): never; whenever the seed says
audited; only when the audit would catch it and no Sybil panel would save it."""


@dataclass(frozen=True)
class AuditTerms:
    """One job's economics; every amount in token base units (int), shares and p in basis points.

    ``prepaid``: a redeemed claim's job (its whole price is the fee, the provider was paid when the
    claim was sold). ``min_fee`` / ``min_collateral``: the market's minimums (``JobMarket_FeeTooLow``
    / ``JobMarket_CollateralTooLow`` here as :class:`ParameterError`). ``sybil_share_bps``: the
    provider's share of the drawable verifier stake; ``accuser_stake_bps``: the honest accuser's
    share, which a panel excludes; ``panel_size``: seats per contest; ``false_accuser_slash``: stake
    an overturned accuser loses (to the majority's seats).
    """

    price: int
    compute_cost: int
    collateral: int
    n_units: int
    samples: int
    audit_probability_bps: int
    fee_bps: int = 500
    accuser_reward_bps: int = 2000
    verifier_overhead: int = 0
    pool_share_bps: int = 1000
    prepaid: bool = False
    min_fee: int = 0
    min_collateral: int = 0
    sybil_share_bps: int = 0
    accuser_stake_bps: int = 0
    panel_size: int = 3
    false_accuser_slash: int = 0

    def __post_init__(self) -> None:
        for name in (
            "price",
            "compute_cost",
            "collateral",
            "verifier_overhead",
            "min_fee",
            "min_collateral",
            "false_accuser_slash",
        ):
            _check_int(name, getattr(self, name), low=0)
        _check_int("n_units", self.n_units, low=1)
        _check_int("samples", self.samples, low=1, high=self.n_units)
        for name in ("audit_probability_bps", "fee_bps", "accuser_reward_bps", "pool_share_bps"):
            _check_int(name, getattr(self, name), low=0, high=BPS)
        _check_int("sybil_share_bps", self.sybil_share_bps, low=0, high=BPS)
        _check_int("accuser_stake_bps", self.accuser_stake_bps, low=0, high=BPS - self.sybil_share_bps)
        _check_int("panel_size", self.panel_size, low=1, high=31)
        if not isinstance(self.prepaid, bool):
            raise ParameterError("prepaid", f"must be a bool, got {self.prepaid!r}")
        if self.fee < self.min_fee:
            raise ParameterError("price", f"fee {self.fee} is below the minimum fee {self.min_fee}")
        if self.collateral < self.min_collateral:
            raise ParameterError(
                "collateral", f"{self.collateral} is below the minimum collateral {self.min_collateral}"
            )

    @property
    def fee(self) -> int:
        """Protocol fee: ``price·feeBps`` (a prepaid job's whole price); to the auditor or the pool."""
        return self.price if self.prepaid else self.price * self.fee_bps // BPS

    @property
    def paid(self) -> int:
        """What an accepted job pays the provider: price minus fee (0 for a prepaid job)."""
        return self.price - self.fee

    @property
    def verifier_share(self) -> int:
        """The verifier's part of a slashed collateral (the consumer gets the rest)."""
        return self.collateral * self.accuser_reward_bps // BPS

    @property
    def audit_cost(self) -> int:
        """What one audit costs the verifier: recomputing k of N units, plus overhead."""
        return -(-self.compute_cost * self.samples // self.n_units) + self.verifier_overhead

    @property
    def panel_share(self) -> Fraction:
        """The provider's Sybil share of each panel seat's draw (the accuser's stake is excluded)."""
        return Fraction(self.sybil_share_bps, BPS - self.accuser_stake_bps)

    def with_(self, **changes: int | bool) -> AuditTerms:
        """A copy with some fields replaced."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        return AuditTerms(**values)


def min_price(min_fee: int, fee_bps: int) -> int:
    """Least price of a posted job whose fee ``price·feeBps // BPS`` reaches ``min_fee``."""
    if fee_bps == 0:
        if min_fee > 0:
            raise ParameterError("fee_bps", f"0 bps can never reach the minimum fee {min_fee}")
        return 0
    return -(-min_fee * BPS // fee_bps)


def pool_share(pool: int, fee: int, pool_share_bps: int) -> int:
    """What a verifier whose verdict stands takes from the reward pool: ``min(pool·bps, fee)``."""
    return min(pool * pool_share_bps // BPS, fee)


def panel_majority_probability(seats: int, share: Fraction | float) -> Fraction:
    """Exact probability that a group drawing each of ``seats`` independent stake-weighted seats with
    probability ``share`` holds a strict majority: ``sum_{i > m/2} C(m, i)·s^i·(1-s)^(m-i)``."""
    _check_int("seats", seats, low=1)
    s = Fraction(share)
    if not 0 <= s <= 1:
        raise ParameterError("share", f"must be in [0, 1], got {share}")
    return sum(
        (comb(seats, i) * s**i * (1 - s) ** (seats - i) for i in range(seats // 2 + 1, seats + 1)),
        Fraction(0),
    )


def contest_win_probability(terms: AuditTerms) -> Fraction:
    """Probability that the provider's Sybils hold the majority of a contest panel (it then contests)."""
    if terms.sybil_share_bps == 0:
        return Fraction(0)
    return panel_majority_probability(terms.panel_size, terms.panel_share)


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
    """Probability that a job with ``n_bad`` corrupted units fails by an honest auditor: ``p·(1-s)·d(b)``."""
    return float(_caught(terms, n_bad))


def _caught(terms: AuditTerms, n_bad: int) -> Fraction:
    # Exact rational arithmetic on the (float) detection probability: amounts are ~1e20 base units,
    # and a float sum would lose the last units that decide a boundary case.
    d = detection(terms.n_units, n_bad, terms.samples)
    honest_auditor = 1 - Fraction(terms.sybil_share_bps, BPS)
    return Fraction(terms.audit_probability_bps, BPS) * honest_auditor * Fraction(d)


def loss_if_caught(terms: AuditTerms) -> Fraction:
    """``L``: what a fail by an honest auditor costs a cheater over honesty, net of a won contest."""
    q = contest_win_probability(terms)
    return (1 - q) * (terms.paid + terms.collateral) - q * (terms.fee + terms.false_accuser_slash)


def expected_gain(terms: AuditTerms, n_bad: int, *, withhold: Withhold = "never") -> float:
    """Expected gain (base units, model float) of corrupting ``n_bad`` units instead of being honest."""
    return float(_gain(terms, n_bad, withhold))


def expected_profit(terms: AuditTerms, n_bad: int, *, withhold: Withhold = "never") -> float:
    """Expected profit per job (base units, model float) of a provider corrupting ``n_bad`` units.

    Profit from the job itself (and contest winnings), not from its Sybils' own audit fees.
    """
    return float(terms.paid - terms.compute_cost + _gain(terms, n_bad, withhold))


def _gain(terms: AuditTerms, n_bad: int, withhold: Withhold) -> Fraction:
    _check_int("n_bad", n_bad, low=0, high=terms.n_units)
    _check_withhold(withhold)
    saved = Fraction(terms.compute_cost * n_bad, terms.n_units)
    if withhold == "audited" and n_bad > 0:
        p = Fraction(terms.audit_probability_bps, BPS)
        return saved - p * (terms.paid + terms.collateral)
    # "caught" withholds exactly when revealing would lose the collateral anyway: the same loss
    return saved - _caught(terms, n_bad) * loss_if_caught(terms)


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
    """Exact test of ``p·(1-s)·L > C``: no corruption count (and no withholding) beats honesty."""
    return _caught(terms, terms.n_units) * loss_if_caught(terms) > terms.compute_cost


def min_collateral(terms: AuditTerms) -> int | None:
    """Smallest collateral (base units) that makes every cheating strategy lose against honesty.

    ``None`` when no collateral helps (p = 0, every auditor a Sybil, or every panel a Sybil majority).
    The market's own ``min_collateral`` is a separate floor.
    """
    caught = _caught(terms, terms.n_units)
    q = contest_win_probability(terms)
    if caught == 0 or q == 1:
        return None
    # smallest S with caught·((1-q)(paid + S) - q(fee + slash)) > C
    bound = (terms.compute_cost / caught + q * (terms.fee + terms.false_accuser_slash)) / (1 - q) - terms.paid
    return max(0, _floor(bound) + 1)


def min_audit_probability_bps(terms: AuditTerms) -> int | None:
    """Smallest audit probability (bps) that makes every cheating strategy lose; ``None`` if > 100 %."""
    per_p = (1 - Fraction(terms.sybil_share_bps, BPS)) * loss_if_caught(terms)
    if per_p <= 0:
        return None
    p = _floor(terms.compute_cost * BPS / per_p) + 1
    return p if p <= BPS else None


def max_sybil_share_bps(terms: AuditTerms) -> int | None:
    """Largest Sybil stake share (bps) of the provider at which every cheating strategy still loses.

    ``None`` when cheating pays even without Sybils. Monotone: a larger share means fewer honest
    auditors and more Sybil panels.
    """
    if not cheating_unprofitable(terms.with_(sybil_share_bps=0)):
        return None
    lo, hi = 0, BPS - terms.accuser_stake_bps
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cheating_unprofitable(terms.with_(sybil_share_bps=mid)):
            lo = mid
        else:
            hi = mid - 1
    return lo


def min_collateral_to_lose(terms: AuditTerms, n_bad: int) -> int | None:
    """Smallest collateral that makes a provider corrupting ``n_bad`` units lose money outright.

    Stronger than beating honesty (a near-honest cheater still earns most of an honest profit);
    ``None`` when it cannot be caught (p = 0, d = 0, or a certain Sybil panel).
    """
    caught = _caught(terms, n_bad)
    q = contest_win_probability(terms)
    if caught == 0 or q == 1:
        return None
    cost = Fraction(terms.compute_cost * (terms.n_units - n_bad), terms.n_units)
    # profit = paid - cost - caught·((1-q)(paid + S) - q(fee + slash)) < 0
    contest = q * (terms.fee + terms.false_accuser_slash)
    bound = ((terms.paid - cost) / caught + contest) / (1 - q) - terms.paid
    return max(0, _floor(bound) + 1)


def false_fail_gain(terms: AuditTerms) -> float:
    """Expected gain per job (base units, model float) of a consumer whose Sybils (``sybil_share_bps``)
    fail an honest job whenever one is drawn as auditor.

    The fail stands when the panel has no honest majority (the honest provider, who knows the panel,
    contests only when it would win): the consumer keeps the price and the collateral, less the fee
    its Sybil would have earned by passing. Otherwise the Sybil accuser loses ``false_accuser_slash``
    and that fee. The panel share is taken as ``s`` itself (a Sybil stake split into many accounts
    loses little to the accuser's exclusion).
    """
    stands = _false_fail_stands(terms)
    p = Fraction(terms.audit_probability_bps, BPS)
    s = Fraction(terms.sybil_share_bps, BPS)
    win = terms.price + terms.collateral - terms.fee
    lose = terms.fee + terms.false_accuser_slash
    return float(p * s * (stands * win - (1 - stands) * lose))


def min_false_accuser_slash(terms: AuditTerms) -> int | None:
    """Smallest ``false_accuser_slash`` at which failing honest jobs loses for a consumer with
    ``sybil_share_bps`` of the stake; ``None`` when its Sybils always hold the panel."""
    stands = _false_fail_stands(terms)
    if stands == 1:
        return None
    # stands·win < (1 - stands)·(fee + slash)
    win = terms.price + terms.collateral - terms.fee
    return max(0, _floor(stands * win / (1 - stands) - terms.fee) + 1)


def _false_fail_stands(terms: AuditTerms) -> Fraction:
    # the fail stands unless honest members hold a strict majority: Sybil seats >= m/2
    s = Fraction(terms.sybil_share_bps, BPS)
    m = terms.panel_size
    return sum(
        (comb(m, i) * s**i * (1 - s) ** (m - i) for i in range(-(-m // 2), m + 1)),
        Fraction(0),
    )


def pool_equilibrium(terms: AuditTerms) -> int | None:
    """Reward pool at which the expected inflow per job, ``(1-p)·fee``, equals the expected outflow,
    ``p·min(pool·poolShareBps, fee)``; ``None`` when the pool grows without bound (``p <= 1/2``: the
    cap lets an audit take at most one fee, fewer than the unaudited jobs put in)."""
    p = Fraction(terms.audit_probability_bps, BPS)
    if p == 0 or terms.fee == 0 or terms.pool_share_bps == 0 or (1 - p) >= p:
        return None
    return _floor((1 - p) * terms.fee / (p * Fraction(terms.pool_share_bps, BPS)))


def self_dealing_drain(
    pool: int, fees: Sequence[int], *, pool_share_bps: int, min_fee: int = 0, capped: bool = True
) -> list[int]:
    """Pool shares taken by a run of self-dealing jobs (consumer, provider and auditor one owner).

    Colluding parties choose both secrets, so they can pick a seed that is audited by their own
    verifier: each job pays its fee to itself and takes the pool share on top. ``capped`` applies
    the market's rule ``min(pool·bps, fee)``; ``capped=False`` is the earlier, uncapped rule. A fee
    below ``min_fee`` is refused, as ``postJob`` refuses it.
    """
    taken: list[int] = []
    for fee in fees:
        _check_int("fee", fee, low=0)
        if fee < min_fee:
            raise ParameterError("fee", f"{fee} is below the minimum fee {min_fee}")
        share = pool_share(pool, fee, pool_share_bps) if capped else pool * pool_share_bps // BPS
        pool -= share
        taken.append(share)
    return taken


@dataclass(frozen=True)
class VerifierEconomics:
    """Per-audit economics of a verifier; amounts in base units (expected values are floats)."""

    audit_cost: int
    fee: int
    slash_reward: int
    pool_reward: int
    honest_expected_profit: float
    lazy_expected_profit: float
    min_fee: int
    min_fee_bps: int
    min_cheat_rate_for_diligence: float | None


def verifier_economics(
    terms: AuditTerms, *, cheat_rate: float = 0.0, n_bad: int | None = None, pool: int = 0
) -> VerifierEconomics:
    """What auditing honestly earns per audit when ``cheat_rate`` of audited jobs are revealed cheats
    corrupting ``n_bad`` units, with ``pool`` tokens in the reward pool.

    Every verdict that stands also earns the pool share ``min(pool·poolShareBps, fee)``, for lazy
    and diligent audits alike, so it cancels from the diligence threshold. ``min_fee`` is the least
    fee at which an audit of an honest job pays for itself (``fee + min(pool share, fee) >= cost``:
    half the audit cost once the pool is full); ``min_cheat_rate_for_diligence`` is the share of
    revealed cheats (or planted jobs) above which recomputing beats rubber-stamping (``None`` when
    the slash reward never exceeds the fee). A cheater that withholds when caught never reaches an
    auditor: only planted jobs and revealed cheats count.
    """
    if not 0 <= cheat_rate <= 1:
        raise ParameterError("cheat_rate", f"must be in [0, 1], got {cheat_rate}")
    _check_int("pool", pool, low=0)
    b = terms.n_units if n_bad is None else n_bad
    d = detection(terms.n_units, b, terms.samples)
    cost = terms.audit_cost
    share = pool_share(pool, terms.fee, terms.pool_share_bps)
    caught = cheat_rate * d
    honest = (1 - caught) * terms.fee + caught * terms.verifier_share - cost + share
    lazy = float(terms.fee + share)
    edge = d * (terms.verifier_share - terms.fee)
    min_rate = cost / edge if edge > 0 else None
    offered = pool * terms.pool_share_bps // BPS
    min_fee = -(-cost // 2) if offered >= -(-cost // 2) else cost - offered
    min_fee_bps = BPS if terms.prepaid or not terms.price else -(-min_fee * BPS // terms.price)
    return VerifierEconomics(
        audit_cost=cost,
        fee=terms.fee,
        slash_reward=terms.verifier_share,
        pool_reward=share,
        honest_expected_profit=honest,
        lazy_expected_profit=lazy,
        min_fee=min_fee,
        min_fee_bps=min_fee_bps,
        min_cheat_rate_for_diligence=min_rate if min_rate is not None and min_rate <= 1 else None,
    )


def _floor(x: Fraction) -> int:
    return x.numerator // x.denominator


def _check_withhold(policy: str) -> None:
    if policy not in WITHHOLD_POLICIES:
        raise ParameterError("withhold", f"must be one of {', '.join(WITHHOLD_POLICIES)}, got {policy!r}")


def _check_int(name: str, value: object, *, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(name, f"must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ParameterError(name, f"must be {bound}, got {value}")
