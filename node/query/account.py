"""An account as the chain knows it: balances, stake by role, duties, and what it earned, lost and paid.

:func:`account_view` reads the views at the head (gas and token balance, ``stakerOf``, ``dutiesOf``,
the registry's minimums) and walks the deployment's events once (:class:`~node.query.scan.EventScan`)
for the account's ledger. Amounts are integers in token base units (gas in wei).

The ledger (:class:`LedgerEntry`): one line per event that moved the account's tokens or stake —
``escrow`` (a posted job's price), ``collateral`` (locked on acceptance), ``bond`` (a contest),
``payment`` (``Paid`` by the market: price, refunds, collateral back, rewards), ``stake``,
``unbond`` (moves stake, not tokens), ``withdraw``, ``slashed`` (``Slashed`` by the registry: stake
taken), ``claims sale`` / ``claims purchase`` (``OrderFilled``), ``series collateral`` /
``collateral released`` (``CapacityClaims``), ``capacity bond`` / ``capacity payout`` (a capacity
attestation's or dispute's bond, and what ``CapacityRegistry`` pays back or awards), ``transfer in`` /
``transfer out``
(plain ERC-20 transfers between accounts). ``delta`` is the change of the wallet balance (0 for stake moves).

Settled jobs (:func:`job_settlements`; the demo's report uses the same definitions):

* ``earned`` — provider: per job, what the market paid it beyond its own collateral and bond
  (price − fee on a completed job); verifiers and panel members: every payment of a job they are
  neither provider nor consumer of; consumer: refunds beyond the escrowed price (a cheater's
  collateral);
* ``slashed`` — provider: per job, collateral and bond it did not get back; anyone: stake taken by
  the registry (``Slashed``);
* ``fees`` — provider: the protocol fee kept from the price of its completed jobs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from node.query.scan import ZERO_ADDRESS, EventScan, checksum, same

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.chain.market import Job


@dataclass(frozen=True)
class LedgerEntry:
    """One event that moved the account's tokens or stake (see the module docstring for ``kind``)."""

    block: int
    timestamp: int
    tx_hash: str
    kind: str
    amount: int
    delta: int
    job_id: int | None = None
    series_id: int | None = None
    counterparty: str = ""


@dataclass(frozen=True)
class Settlement:
    """An account's totals over settled jobs (see the module docstring)."""

    earned: int = 0
    slashed: int = 0
    fees: int = 0


@dataclass(frozen=True)
class DayTotals:
    """Earned, slashed and fees of one UTC day (``YYYY-MM-DD``), by the block of the settlement."""

    day: str
    earned: int
    slashed: int
    fees: int


@dataclass(frozen=True)
class AccountView:
    """One account at block ``block`` (see the module docstring); integers in base units, gas in wei."""

    address: str
    block: int
    timestamp: int
    gas_wei: int
    token_balance: int
    active_stake: int
    unbonding: int
    unbond_at: int
    withdrawable: int
    withdraw_blocked_by: str
    roles: tuple[str, ...]
    provider_eligible: bool
    verifier_drawable: bool
    duties: int
    peer_id: str
    min_provider_stake: int
    min_verifier_stake: int
    unbond_delay_s: int
    totals: Settlement
    days: tuple[DayTotals, ...] = ()
    ledger: tuple[LedgerEntry, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Every amount as a decimal string of base units (uint256 does not fit a JSON number everywhere)."""
        obj = asdict(self)
        for key in ("gas_wei", "token_balance", "active_stake", "unbonding", "withdrawable"):
            obj[key] = str(obj[key])
        for key in ("min_provider_stake", "min_verifier_stake"):
            obj[key] = str(obj[key])
        obj["totals"] = {k: str(v) for k, v in asdict(self.totals).items()}
        obj["days"] = [
            {**asdict(d), **{k: str(getattr(d, k)) for k in ("earned", "slashed", "fees")}} for d in self.days
        ]
        obj["ledger"] = [{**asdict(e), "amount": str(e.amount), "delta": str(e.delta)} for e in self.ledger]
        obj["roles"] = list(self.roles)
        obj["amounts"] = "token base units (10**18 per token) as decimal strings; gas in wei"
        return obj


def day_of(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def job_records(view: EventScan) -> dict[int, Job]:
    """Every job of the deployment as ``jobOf`` returns it now."""
    return {j: view.chain.market.job(j) for j in view.job_ids()}


def paid_by_job(view: EventScan) -> dict[int, dict[str, int]]:
    """``Paid`` summed per job and recipient."""
    paid: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in view.named("Paid"):
        paid[int(e.args["jobId"])][checksum(e.args["to"])] += int(e.args["amount"])
    return paid


def job_settlements(
    view: EventScan, records: Mapping[int, Job] | None = None
) -> tuple[dict[str, Settlement], dict[str, dict[str, Settlement]]]:
    """Totals per address over every settled job (and ``Slashed``), and the same per UTC day.

    A job counts on the day of its last ``Paid`` (its settlement); a ``Slashed`` on its own block's day.
    """
    records = job_records(view) if records is None else records
    fee_bps = view.chain.market.params().protocol_fee_bps if records else 0
    paid = paid_by_job(view)
    last_paid: dict[int, int] = {}
    for e in view.named("Paid"):
        last_paid[int(e.args["jobId"])] = e.block_number
    earned: dict[tuple[str, str], int] = defaultdict(int)
    slashed: dict[tuple[str, str], int] = defaultdict(int)
    fees: dict[tuple[str, str], int] = defaultdict(int)
    for j, rec in records.items():
        if not rec.status.terminal or j not in last_paid:
            continue
        day = day_of(view.timestamp(last_paid[j]))
        to_provider = paid[j].get(rec.provider, 0)
        if rec.provider != ZERO_ADDRESS:
            net = to_provider - rec.collateral - rec.bond
            if net >= 0:
                earned[(rec.provider, day)] += net
                fees[(rec.provider, day)] += rec.price * fee_bps // 10_000
            else:
                slashed[(rec.provider, day)] += -net
        refund = paid[j].get(rec.consumer, 0) - rec.price
        if refund > 0:
            earned[(rec.consumer, day)] += refund
        for to, amount in paid[j].items():
            if to not in (rec.provider, rec.consumer):
                earned[(to, day)] += amount
    for e in view.named("Slashed"):
        slashed[(checksum(e.args["account"]), day_of(view.timestamp(e.block_number)))] += int(
            e.args["amount"]
        )
    per_day: dict[str, dict[str, Settlement]] = defaultdict(dict)
    for addr, day in {k for d in (earned, slashed, fees) for k, v in d.items() if v}:
        per_day[addr][day] = Settlement(earned[(addr, day)], slashed[(addr, day)], fees[(addr, day)])
    totals = {
        addr: Settlement(
            sum(s.earned for s in days.values()),
            sum(s.slashed for s in days.values()),
            sum(s.fees for s in days.values()),
        )
        for addr, days in per_day.items()
    }
    return totals, dict(per_day)


def ledger(view: EventScan, address: str, records: Mapping[int, Job] | None = None) -> list[LedgerEntry]:
    """The account's ledger (see the module docstring), in chain order."""
    records = job_records(view) if records is None else records
    contracts = {a.lower() for a in view.chain.deployment.contracts.values()}
    capacity = view.chain.capacity.address.lower()
    # A token transfer inside a transaction of another contract (a claims fill pays the seller
    # directly) is that contract's line; only plain ``transfer`` calls get lines of their own.
    busy = {e.tx_hash for e in view.events if e.contract != "ComputeToken"}
    out: list[LedgerEntry] = []

    def add(e: Any, kind: str, amount: int, delta: int, **extra: Any) -> None:
        out.append(
            LedgerEntry(
                e.block_number, view.timestamp(e.block_number), e.tx_hash, kind, amount, delta, **extra
            )
        )

    for e in view.events:
        a = e.args
        name = e.name
        if name == "JobPosted" and same(a["consumer"], address):
            add(e, "escrow", int(a["price"]), -int(a["price"]), job_id=int(a["jobId"]))
        elif name == "JobAccepted" and same(a["provider"], address):
            job = records.get(int(a["jobId"]))
            collateral = job.collateral if job is not None else 0
            add(e, "collateral", collateral, -collateral, job_id=int(a["jobId"]))
        elif name == "Contested":
            job = records.get(int(a["jobId"]))
            if job is not None and same(job.provider, address):
                add(e, "bond", int(a["bond"]), -int(a["bond"]), job_id=int(a["jobId"]))
        elif name == "Paid" and same(a["to"], address):
            add(e, "payment", int(a["amount"]), int(a["amount"]), job_id=int(a["jobId"]))
        elif name == "Staked" and same(a["account"], address):
            add(e, "stake", int(a["amount"]), -int(a["amount"]))
        elif name == "UnbondRequested" and same(a["account"], address):
            add(e, "unbond", int(a["amount"]), 0)
        elif name == "Withdrawn" and same(a["account"], address):
            add(e, "withdraw", int(a["amount"]), int(a["amount"]))
        elif name == "Slashed" and same(a["account"], address):
            add(e, "slashed", int(a["amount"]), 0, counterparty=checksum(a["to"]))
        elif name == "OrderFilled" and same(a["seller"], address):
            add(
                e,
                "claims sale",
                int(a["payment"]),
                int(a["payment"]),
                series_id=int(a["seriesId"]),
                counterparty=checksum(a["buyer"]),
            )
        elif name == "OrderFilled" and same(a["buyer"], address):
            add(
                e,
                "claims purchase",
                int(a["payment"]),
                -int(a["payment"]),
                series_id=int(a["seriesId"]),
                counterparty=checksum(a["seller"]),
            )
        elif name == "SeriesCreated" and same(a["provider"], address):
            locked = int(a["supply"]) * int(a["collateralPerToken"])
            add(e, "series collateral", locked, -locked, series_id=int(a["seriesId"]))
        elif name == "CollateralReleased" and same(a["provider"], address):
            add(e, "collateral released", int(a["amount"]), int(a["amount"]), series_id=int(a["seriesId"]))
        elif name == "Transfer" and e.contract == "ComputeToken":
            src, dst, value = str(a["from"]), str(a["to"]), int(a["value"])
            if capacity in (src.lower(), dst.lower()) and value:
                # Capacity attestations and disputes carry no amount in their events: the bond is
                # the token transfer itself (to the registry; back, or awarded, at finalization).
                if same(src, address):
                    add(e, "capacity bond", value, -value, counterparty=checksum(dst))
                elif same(dst, address):
                    add(e, "capacity payout", value, value, counterparty=checksum(src))
                continue
            if src.lower() in contracts or dst.lower() in contracts or value == 0 or e.tx_hash in busy:
                continue  # a market, registry or claims movement: already a line above
            if same(dst, address):
                kind = "minted" if src == ZERO_ADDRESS else "transfer in"
                add(e, kind, value, value, counterparty=checksum(src))
            elif same(src, address):
                add(e, "transfer out", value, -value, counterparty=checksum(dst))
    return out


def account_view(chain: Chain, address: str, *, view: EventScan | None = None) -> AccountView:
    """The account ``address`` now (see the module docstring)."""
    from node.chain.registry import Role
    from node.query.node import peer_id_text

    view = EventScan.read(chain) if view is None else view
    address = checksum(address)
    registry = chain.registry
    staker = registry.staker(address)
    params = registry.params()
    duties = registry.duties_of(address)
    now = view.timestamp(view.block)
    blocked = ""
    if staker.unbonding == 0:
        blocked = "nothing unbonding"
    elif now < staker.unbond_at:
        blocked = f"unbonding until {datetime.fromtimestamp(staker.unbond_at, UTC):%Y-%m-%d %H:%M:%S} UTC"
    elif duties:
        blocked = f"{duties} open audit or panel duties"
    records = job_records(view)
    totals, per_day = job_settlements(view, records)
    days = per_day.get(address, {})
    return AccountView(
        address=address,
        block=view.block,
        timestamp=now,
        gas_wei=chain.client.eth_balance(address),
        token_balance=chain.token.balance_of(address),
        active_stake=staker.active,
        unbonding=staker.unbonding,
        unbond_at=staker.unbond_at,
        withdrawable=0 if blocked else staker.unbonding,
        withdraw_blocked_by=blocked,
        roles=tuple(r.name.lower() for r in Role if r in staker.roles and r.name),
        provider_eligible=registry.is_provider(address),
        verifier_drawable=registry.is_verifier(address),
        duties=duties,
        peer_id=peer_id_text(staker.peer_id),
        min_provider_stake=params.min_provider_stake,
        min_verifier_stake=params.min_verifier_stake,
        unbond_delay_s=params.unbond_delay,
        totals=totals.get(address, Settlement()),
        days=tuple(DayTotals(d, s.earned, s.slashed, s.fees) for d, s in sorted(days.items())),
        ledger=tuple(ledger(view, address, records)),
    )
