"""The demo's first form: the whole market driven from one Python process through the chain client.

Every step is real — real workloads (:mod:`node.workloads`), real Merkle roots, the audit seed
drawn on chain, the sampled units recomputed and compared by :mod:`verifier` — but the parties are
played by this process, each signing with its own Anvil dev account (PUBLIC test keys, devnet
only). The multi-process form (:mod:`node.demo.market`) runs the same market as separate daemons.

Flow: stake and register; for each kind, one job with an honest provider and one with the
cheating provider (``corrupt`` cheat model on ``cheat_fraction`` of the units); the drawn verifier
audits the units the chain sampled and attests; an uncontested fail is finalized once the contest
window has passed (the devnet clock is moved), which slashes the cheater's collateral. Then a
capacity-claim trade: the honest provider creates a series in a declared region (GPU-hours and the
H100e-hours its verified capacity makes them) at the forward price from :mod:`tokenomics`, a
reseller buys the whole series and offers it on in lots at its own higher prices, a consumer buys
some lots and resells part to a third party, the clock moves into the window and the consumer
redeems the rest for a prepaid job, which is run and audited too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.market import JobStatus, JobTerms, commitment, new_secret
from node.chain.registry import Role
from node.chain.token import TOKEN
from node.demo.report import Actor, h100e_hours
from node.demo.specs import KINDS, demo_spec
from node.errors import CcmError
from node.workloads import JobSpec, prepare, run_job, spec_hash
from node.workloads.audit import audit_job, reveal
from node.workloads.cheats import Cheat, run_dishonest
from node.workloads.runner import Output
from tokenomics.depreciation import DepreciationModel
from tokenomics.forward import ForwardTerms, forward_price
from tokenomics.market_data import load_market_data
from tokenomics.units import usd_to_units
from verifier.commitment import MerkleTree

Say = Callable[[str], None]

JOB_PRICE = 10 * TOKEN
JOB_COLLATERAL = 20 * TOKEN
STAKE = 200 * TOKEN
GPU_CLASS = "H100"
#: Claims: window opens a week after the series is created and lasts a day.
WINDOW_START_S = 7 * 24 * 3600
WINDOW_LENGTH_S = 24 * 3600
CLAIM_SUPPLY = 10
REGION = b"EU"  # declared by the provider, not proven (README: regions)
CLAIM_BUY = 6
CLAIM_RESELL = 2
#: The reseller buys the whole series and offers it on in lots: (GPU-hours, price in % of its cost).
RESELLER_LOTS = ((4, 110), (3, 115), (3, 120))
#: The consumer's resale of part of what it bought, in % of the provider's price.
RESALE_MARKUP = 112
YEAR_S = 365.25 * 24 * 3600


class DemoError(CcmError):
    """The demo could not complete a step (the message says which)."""


@dataclass(frozen=True)
class Party:
    """A participant played in-process: its public row and the key it signs with."""

    actor: Actor
    account: LocalAccount


@dataclass(frozen=True)
class Cast:
    """Who plays what in the first form."""

    consumer: Party
    third_party: Party
    reseller: Party
    honest: Party
    cheater: Party
    verifiers: tuple[Party, ...]

    @property
    def everyone(self) -> tuple[Party, ...]:
        return (self.honest, self.cheater, *self.verifiers, self.consumer, self.third_party, self.reseller)

    def by_address(self, address: str) -> Party:
        for p in self.everyone:
            if p.account.address == address:
                return p
        raise DemoError(f"the chain drew {address}, which is not one of the demo's parties")


def make_cast(accounts: Sequence[LocalAccount], *, cheat_fraction: str) -> Cast:
    """Dev account 1: consumer, 2: honest provider, 3: cheater, 4-6: verifiers, 7: third party,
    8: reseller (a market maker; role ``consumer`` since it runs no node)."""
    f = float(Fraction(cheat_fraction))

    def party(role: str, name: str, i: int, cheat: float = 0.0) -> Party:
        return Party(Actor(role, name, accounts[i].address, cheat), accounts[i])

    return Cast(
        consumer=party("consumer", "consumer", 1),
        third_party=party("consumer", "claims-buyer", 7),
        reseller=party("consumer", "reseller", 8),
        honest=party("provider", "provider-1", 2),
        cheater=party("provider", "cheater", 3, f),
        verifiers=tuple(party("verifier", f"verifier-{n}", 3 + n) for n in (1, 2, 3)),
    )


def _ensure_staked(chain: Chain, party: Party, role: Role) -> None:
    addr = party.account.address
    if role is Role.PROVIDER and chain.registry.is_provider(addr):
        return
    if role is Role.VERIFIER and chain.registry.is_verifier(addr):
        return
    advert = keccak(text=f"demo advert {party.actor.name}") if role is Role.PROVIDER else b"\0" * 32
    chain.registry.stake_and_register(party.account, STAKE, role, f"demo-{party.actor.name}".encode(), advert)


@dataclass(frozen=True)
class _Work:
    """What a provider holds after running a job: the bytes it will reveal, its tree, its root."""

    revealed: tuple[Output, ...]
    tree: MerkleTree
    root: bytes
    n_units: int
    cheated: frozenset[int]


def _execute(spec: JobSpec, *, cheat_fraction: str, seed: int) -> _Work:
    if Fraction(cheat_fraction) == 0:
        result = run_job(spec, device="cpu", blobs={})
        return _Work(result.outputs, result.tree, result.root, result.n_units, frozenset())
    run = run_dishonest(spec, Cheat("corrupt", fraction=cheat_fraction, seed=seed), device="cpu", blobs={})
    return _Work(run.revealed, run.tree, run.root, len(run.committed), run.cheated)


def _audit(
    chain: Chain, cast: Cast, spec: JobSpec, job_id: int, work: _Work, secrets: tuple[bytes, bytes], say: Say
) -> bool | None:
    """Reveal both audit secrets (the consumer's, then the provider's, which draws the audit) and, if
    drawn, audit and attest; the verdict (None: not audited)."""
    consumer_secret, provider_secret = secrets
    job = chain.market.job(job_id)
    chain.market.reveal_consumer_secret(cast.by_address(job.consumer).account, job_id, consumer_secret)
    draw = chain.market.reveal_provider_secret(cast.by_address(job.provider).account, job_id, provider_secret)
    if not draw.audited:
        say(f"job {job_id}: not drawn for audit; completed")
        return None
    verifier = cast.by_address(draw.verifier)
    indices = chain.market.sampled_indices(job_id)
    job = chain.market.job(job_id)
    prepared = prepare(spec, device="cpu", blobs={})
    revealed = reveal(work.revealed, work.tree, indices, needs_prev=prepared.needs_prev)
    outcome = audit_job(prepared, root=job.root, indices=indices, revealed=revealed)
    evidence = b"\0" * 32
    if not outcome.passed:
        evidence = keccak(
            text=json.dumps(
                {"job": job_id, "indices": list(indices), "reason": outcome.reason}, sort_keys=True
            )
        )
    chain.market.attest(verifier.account, job_id, passed=outcome.passed, evidence_hash=evidence)
    say(
        f"job {job_id}: {verifier.actor.name} checked units {list(indices)}: "
        + ("pass" if outcome.passed else f"FAIL ({outcome.reason})")
    )
    return outcome.passed


def _run_job(
    chain: Chain,
    cast: Cast,
    provider: Party,
    spec: JobSpec,
    *,
    job_id: int | None,
    consumer_secret: bytes | None = None,
    say: Say,
) -> tuple[int, bool | None]:
    """Post (unless ``job_id`` is a prepaid job already open, whose holder passes its
    ``consumer_secret``), accept, run, commit, reveal, audit."""
    market = chain.market
    if job_id is None:
        consumer_secret = new_secret()
        now = chain.client.timestamp()
        terms = JobTerms(
            spec_hash=spec_hash(spec),
            price=JOB_PRICE,
            collateral=JOB_COLLATERAL,
            accept_by=now + 600,
            commit_by=now + 1200,
            secret_hash=commitment(consumer_secret),
        )
        job_id = market.post_job(cast.consumer.account, terms)
        market.accept_job(provider.account, job_id)
    assert consumer_secret is not None
    provider_secret = new_secret()
    work = _execute(spec, cheat_fraction=_fraction_text(provider.actor.cheat_fraction), seed=job_id)
    market.commit_result(
        provider.account, job_id, work.root, work.n_units, secret_hash=commitment(provider_secret)
    )
    extra = f", corrupted units {sorted(work.cheated)}" if work.cheated else ""
    say(f"job {job_id} ({spec.kind}): {provider.actor.name} committed {work.n_units} units{extra}")
    return job_id, _audit(chain, cast, spec, job_id, work, (consumer_secret, provider_secret), say)


def _fraction_text(value: float) -> str:
    return str(Fraction(value).limit_denominator(1000))


def run_jobs(chain: Chain, cast: Cast, *, say: Say) -> dict[bytes, str]:
    """One job per kind for each provider; failed audits finalized (slash). Spec hash → kind."""
    kinds: dict[bytes, str] = {}
    failed: list[int] = []
    for n, kind in enumerate(KINDS):
        for provider in (cast.honest, cast.cheater):
            spec = demo_spec(kind, seed=10 * n + 1)
            kinds[spec_hash(spec)] = kind
            job_id, verdict = _run_job(chain, cast, provider, spec, job_id=None, say=say)
            if verdict is False:
                failed.append(job_id)
    if failed:
        window = chain.market.params().contest_window
        say(f"nobody contests: moving the devnet clock past the {window} s contest window")
        chain.increase_time(window + 1)
        for job_id in failed:
            result = chain.market.finalize_fail(cast.consumer.account, job_id)
            if result.status is not JobStatus.SLASHED:
                raise DemoError(f"job {job_id}: finalizing the fail left it {result.status.name}")
            say(f"job {job_id}: fail stands, provider's collateral slashed")
    return kinds


def claim_price(*, window_start_s: int, window_length_s: int, collateral: int) -> int:
    """The forward price (token units per GPU-hour) of a claim on the window, from :mod:`tokenomics`."""
    gpu = load_market_data().gpu_class(GPU_CLASS)
    start = window_start_s / YEAR_S
    usd = forward_price(
        gpu,
        start_years=start,
        end_years=start + window_length_s / YEAR_S,
        model=DepreciationModel.defaults(),
        terms=ForwardTerms(collateral_usd_per_hour=collateral / TOKEN),
    )
    return usd_to_units(round(usd, 6))


def verify_capacity(chain: Chain, cast: Cast, *, say: Say) -> None:
    """A verifier challenges the seller with a real random matmul and attests what it achieved.

    ``CapacityClaims`` caps issuance at verified capacity, so a series needs this first. The one
    machine plays both sides here; the GPU count (enough for the series' window) is declared.
    """
    import time

    from node.capacity.challenge import compute_answer, judge, new_challenge
    from node.claims.capacity import devnet_verify

    compute_answer(new_challenge(advertised_gflops=1, n=64), device="cpu")  # warm up torch first
    challenge = new_challenge(advertised_gflops=1, n=1024)
    start = time.perf_counter()
    answer = compute_answer(challenge, device="cpu")
    result = judge(challenge, digest=answer.digest, c=answer.c, elapsed_s=time.perf_counter() - start)
    if not result.passed:
        raise DemoError(f"capacity challenge of {cast.honest.actor.name} failed: {result.reason}")
    gpus = -(-CLAIM_SUPPLY * 3600 // WINDOW_LENGTH_S)
    devnet_verify(
        chain,
        cast.verifiers[0].account,
        provider=cast.honest.account.address,
        gpu_class=GPU_CLASS,
        gpus=gpus,
        gflops_per_gpu=max(result.achieved_gflops, 1),
    )
    say(
        f"capacity: {cast.verifiers[0].actor.name} challenged {cast.honest.actor.name} "
        f"({result.achieved_gflops} GFLOP/s fp32 achieved) and attested {gpus} {GPU_CLASS} on chain"
    )


def run_claims(chain: Chain, cast: Cast, *, say: Say) -> dict[bytes, str]:
    """Create a series, sell, resell, redeem the rest for an audited prepaid job. Spec hash → kind."""
    from node.chain.claims import SellOrder

    seller, reseller, buyer, third = cast.honest, cast.reseller, cast.consumer, cast.third_party
    gpu = load_market_data().gpu_class(GPU_CLASS)
    collateral = usd_to_units(round(DepreciationModel.defaults().spot(gpu, WINDOW_START_S / YEAR_S), 6))
    price = claim_price(window_start_s=WINDOW_START_S, window_length_s=WINDOW_LENGTH_S, collateral=collateral)
    verify_capacity(chain, cast, say=say)
    now = chain.client.timestamp()
    series_id = chain.claims.create_series(
        seller.account,
        gpu_class=keccak(text=GPU_CLASS),
        floor=1,
        window_start=now + WINDOW_START_S,
        window_end=now + WINDOW_START_S + WINDOW_LENGTH_S,
        supply=CLAIM_SUPPLY,
        collateral_per_token=collateral,
        region=REGION,
    )
    series = chain.claims.series(series_id)
    say(
        f"claims: {seller.actor.name} created series {series_id} in region {REGION.decode()}: "
        f"{CLAIM_SUPPLY} {GPU_CLASS} GPU-hours = {h100e_hours(series.normalized_micro)} H100e-hours "
        f"(verified {series.ppm_per_gpu} ppm per GPU-hour) in a day-long window a week ahead, "
        f"forward price {price / TOKEN:.4f} tokens/h, collateral {collateral / TOKEN:.4f}/h"
    )
    claims = chain.claims
    order = SellOrder(seller.account.address, series_id, CLAIM_SUPPLY, price, 0, now + 3600)
    paid = claims.fill(reseller.account, claims.sign_order(seller.account, order), CLAIM_SUPPLY)
    say(
        f"claims: {reseller.actor.name} bought the whole series ({CLAIM_SUPPLY}) "
        f"for {paid / TOKEN:.4f} tokens"
    )
    lots = []
    for n, (amount, markup) in enumerate(RESELLER_LOTS):
        lot = SellOrder(reseller.account.address, series_id, amount, price * markup // 100, n, now + 3600)
        lots.append((lot, claims.sign_order(reseller.account, lot)))
        say(
            f"claims: {reseller.actor.name} offers a lot of {amount} "
            f"at {lot.price_per_token / TOKEN:.4f} tokens/h (+{markup - 100}%)"
        )
    left = CLAIM_BUY
    for lot, signed in lots:
        take = min(left, lot.amount)
        if take == 0:
            break
        paid = claims.fill(buyer.account, signed, take)
        left -= take
        say(
            f"claims: {buyer.actor.name} bought {take} from {reseller.actor.name}'s lot "
            f"for {paid / TOKEN:.4f} tokens"
        )
    resale = SellOrder(
        buyer.account.address, series_id, CLAIM_RESELL, price * RESALE_MARKUP // 100, 0, now + 3600
    )
    paid = claims.fill(third.account, claims.sign_order(buyer.account, resale), CLAIM_RESELL)
    say(
        f"claims: {buyer.actor.name} resold {CLAIM_RESELL} to {third.actor.name} "
        f"for {paid / TOKEN:.4f} tokens"
    )
    chain.increase_time(WINDOW_START_S + 1)
    spec = demo_spec("matmul", seed=99)
    holder_secret = new_secret()
    redemption = chain.claims.redeem(
        buyer.account,
        series_id,
        CLAIM_BUY - CLAIM_RESELL,
        spec_hash(spec),
        secret_hash=commitment(holder_secret),
    )
    say(
        f"claims: window open; {buyer.actor.name} redeemed {redemption.amount} "
        f"for prepaid job {redemption.job_id}"
    )
    _run_job(chain, cast, seller, spec, job_id=redemption.job_id, consumer_secret=holder_secret, say=say)
    return {spec_hash(spec): "matmul"}


def run_direct(chain: Chain, cast: Cast, *, say: Say) -> dict[bytes, str]:
    """The whole first form; returns spec hash → kind for the report."""
    say("staking: 2 providers, 3 verifiers (devnet: every committed job is audited)")
    for p in (cast.honest, cast.cheater):
        _ensure_staked(chain, p, Role.PROVIDER)
    for p in cast.verifiers:
        _ensure_staked(chain, p, Role.VERIFIER)
    kinds = run_jobs(chain, cast, say=say)
    kinds.update(run_claims(chain, cast, say=say))
    return kinds
