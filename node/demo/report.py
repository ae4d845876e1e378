"""What the demo reports: who was paid, who was slashed, balances — all read back from the chain.

:func:`collect` builds the report from nothing but the chain: the events between the demo's first
block and ``block`` (``JobPosted``/``PrepaidJobOpened``, ``AuditDrawn``, ``Attested``, ``Paid``,
``Slashed``, ``SeriesCreated``, ``OrderFilled``, ``Redeemed``) and views called *at* ``block``
(``balanceOf``, ``stakerOf``, ``jobOf``). So the same code reports the in-process form and the
multi-process market, and a test can check every figure against an independent read.

Definitions (integers in the token's smallest unit): ``earned`` and ``slashed`` as
:mod:`node.query.account` settles jobs (the same figures ``ccm account`` shows);
``balance_change`` — ``token_balance`` minus the balance just before the demo's first block.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from node.chain.chain import Chain
from node.chain.events import DecodedEvent
from node.query.account import Settlement, job_settlements
from node.query.scan import EventScan
from tokenomics.units import units_to_tokens

ROLES = ("provider", "verifier", "consumer")


@dataclass(frozen=True)
class Actor:
    """A participant the demo knows: its role, a name for people, its address, how much it cheats."""

    role: str
    name: str
    address: str
    cheat_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")


@dataclass(frozen=True)
class ParticipantRow:
    role: str
    name: str
    address: str
    cheat_fraction: float
    token_balance: int
    balance_change: int
    staked: int
    earned: int
    slashed: int


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str
    provider: str
    status: str
    audited: bool
    verdict: str | None
    verifier: str | None
    prepaid: bool


@dataclass(frozen=True)
class Holder:
    address: str
    balance: int


@dataclass(frozen=True)
class ClaimsRow:
    series: int
    minted: int
    sold: int
    resold: int
    redeemed: int
    price_per_token: int
    holders: tuple[Holder, ...] = field(default=())
    region: str = ""
    ppm_per_gpu: int = 0
    h100e_micro: int = 0
    """The series' size in micro-H100e-hours (``minted * ppm_per_gpu``, :mod:`tokenomics.normalized`)."""


@dataclass(frozen=True)
class IndexRow:
    """The claims price index after the demo's trades (:mod:`node.query.index`): its points as
    :meth:`node.query.index.IndexPoint.to_json` gives them, and the PNG it was drawn to."""

    points: tuple[dict[str, Any], ...]
    plot: str | None


@dataclass(frozen=True)
class DemoReport:
    """The demo's outcome; :meth:`to_json` is the object the last stdout line carries."""

    rpc_url: str
    chain_id: int
    block: int
    start_block: int
    contracts: Mapping[str, str]
    participants: tuple[ParticipantRow, ...]
    jobs: tuple[JobRow, ...]
    claims: ClaimsRow | None
    mode: str
    notes: tuple[str, ...] = ()
    index: IndexRow | None = None
    dashboard: str | None = None
    """URL of the dashboard ``--keep`` leaves running (``http://127.0.0.1:PORT/``), else ``None``."""

    def to_json(self) -> dict[str, Any]:
        obj = asdict(self)
        obj["contracts"] = dict(self.contracts)
        obj["notes"] = list(self.notes)
        if self.claims is not None:
            obj["claims"]["holders"] = [asdict(h) for h in self.claims.holders]
        if self.index is not None:
            obj["index"] = {"points": [dict(p) for p in self.index.points], "plot": self.index.plot}
        return obj

    def json_line(self) -> str:
        """One JSON object on one line."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


def collect(
    chain: Chain,
    *,
    start_block: int,
    block: int,
    actors: Sequence[Actor],
    kinds: Mapping[bytes, str],
    mode: str,
    notes: Sequence[str] = (),
) -> DemoReport:
    """Read the demo's outcome from the chain at ``block`` (events from ``start_block`` on).

    ``kinds`` maps a job's spec hash to its kind (the chain stores only the hash).
    """
    scan = EventScan.read(chain, from_block=start_block, to_block=block)
    by_name: dict[str, list[DecodedEvent]] = defaultdict(list)
    for e in scan.events:
        by_name[e.name].append(e)
    job_ids = scan.job_ids()
    # Job records are read at the head: the demo calls collect once everything has stopped, so the
    # head is ``block`` (balances and stakes below are read at ``block`` explicitly).
    records = {j: chain.market.job(j) for j in job_ids}
    draws = {int(e.args["jobId"]): e for e in by_name["AuditDrawn"]}
    verdicts = {int(e.args["jobId"]): bool(e.args["passed"]) for e in by_name["Attested"]}
    settled, _ = job_settlements(scan, records)

    token = chain.token.contract
    registry = chain.registry.contract
    rows = []
    for a in actors:
        addr = to_checksum_address(a.address)
        balance = int(token.call("balanceOf", addr, block=block))
        before = int(token.call("balanceOf", addr, block=max(start_block - 1, 0)))
        staked = int(registry.call("stakerOf", addr, block=block)[0])
        rows.append(
            ParticipantRow(
                role=a.role,
                name=a.name,
                address=addr,
                cheat_fraction=a.cheat_fraction,
                token_balance=balance,
                balance_change=balance - before,
                staked=staked,
                earned=settled.get(addr, Settlement()).earned,
                slashed=settled.get(addr, Settlement()).slashed,
            )
        )

    job_rows = []
    for j in job_ids:
        rec = records[j]
        draw = draws.get(j)
        passed = verdicts.get(j)
        job_rows.append(
            JobRow(
                id=j,
                kind=kinds.get(rec.spec_hash, "unknown"),
                provider=rec.provider,
                status=rec.status.name.lower(),
                audited=bool(draw is not None and draw.args["audited"]),
                verdict=None if passed is None else ("pass" if passed else "fail"),
                verifier=None if draw is None or not draw.args["audited"] else str(draw.args["verifier"]),
                prepaid=rec.prepaid,
            )
        )
    return DemoReport(
        rpc_url=chain.deployment.rpc_url,
        chain_id=chain.deployment.chain_id,
        block=block,
        start_block=start_block,
        contracts=dict(chain.deployment.contracts),
        participants=tuple(rows),
        jobs=tuple(job_rows),
        claims=_claims(chain, by_name, block),
        mode=mode,
        notes=tuple(notes),
    )


def index_row(chain: Chain, *, start_block: int, gpu_class: str, plot: Path | None) -> IndexRow:
    """The price index of the fills since ``start_block``, read from the chain; drawn to ``plot``."""
    from node.query.index import collect_trades, compute_index, plot_index

    points = compute_index(collect_trades(chain, from_block=start_block), gpu_class=gpu_class)
    drawn = str(plot_index(plot, points, gpu_class=gpu_class)) if plot is not None else None
    return IndexRow(points=tuple(p.to_json() for p in points), plot=drawn)


def _claims(chain: Chain, by_name: Mapping[str, list[DecodedEvent]], block: int) -> ClaimsRow | None:
    created = by_name.get("SeriesCreated", [])
    if not created:
        return None
    series_event = created[-1]
    series_id = int(series_event.args["seriesId"])
    provider = to_checksum_address(series_event.args["provider"])
    fills = [e for e in by_name.get("OrderFilled", []) if int(e.args["seriesId"]) == series_id]
    sold = sum(int(e.args["amount"]) for e in fills if to_checksum_address(e.args["seller"]) == provider)
    resold = sum(int(e.args["amount"]) for e in fills if to_checksum_address(e.args["seller"]) != provider)
    first_sale = next((e for e in fills if to_checksum_address(e.args["seller"]) == provider), None)
    price = int(first_sale.args["payment"]) // int(first_sale.args["amount"]) if first_sale else 0
    redeemed = sum(
        int(e.args["amount"]) for e in by_name.get("Redeemed", []) if int(e.args["seriesId"]) == series_id
    )
    candidates = {provider}
    for e in fills:
        candidates.add(to_checksum_address(e.args["buyer"]))
    holders = []
    for addr in sorted(candidates):
        bal = int(chain.claims.contract.call("balanceOf", addr, series_id, block=block))
        if bal > 0:
            holders.append(Holder(addr, bal))
    from node.chain.claims import decode_region

    onchain = chain.claims.series(series_id)
    return ClaimsRow(
        region=decode_region(onchain.region),
        ppm_per_gpu=onchain.ppm_per_gpu,
        h100e_micro=onchain.supply * onchain.ppm_per_gpu,
        series=series_id,
        minted=int(series_event.args["supply"]),
        sold=sold,
        resold=resold,
        redeemed=redeemed,
        price_per_token=price,
        holders=tuple(holders),
    )


def _tok(units: int) -> str:
    return units_to_tokens(units)


def h100e_hours(micro: int) -> str:
    """Micro-H100e-hours as H100e-hours for people (six decimals: the unit's resolution)."""
    return f"{micro / 1_000_000:.6f}"


def render(report: DemoReport) -> str:
    """The human-readable summary: participants, jobs, the claim trade."""
    from node.cli._output import table

    names = {p.address: p.name for p in report.participants}
    lines = [
        f"Balances read from the chain at block {report.block} "
        f"({report.rpc_url}, chain id {report.chain_id}), in tokens:",
        "",
        table(
            ["who", "role", "address", "cheats", "balance", "change", "staked", "earned", "slashed"],
            [
                [
                    p.name,
                    p.role,
                    p.address[:10] + "…",
                    f"{p.cheat_fraction:.0%}" if p.cheat_fraction else "-",
                    _tok(p.token_balance),
                    ("+" if p.balance_change > 0 else "") + _tok(p.balance_change),
                    _tok(p.staked),
                    _tok(p.earned),
                    _tok(p.slashed),
                ]
                for p in report.participants
            ],
        ),
        "",
        table(
            ["job", "kind", "provider", "audited", "verdict", "verifier", "outcome"],
            [
                [
                    j.id,
                    j.kind + (" (claim)" if j.prepaid else ""),
                    names.get(j.provider, j.provider[:10]),
                    "yes" if j.audited else "no",
                    j.verdict or "-",
                    names.get(j.verifier, j.verifier[:10]) if j.verifier else "-",
                    j.status,
                ]
                for j in report.jobs
            ],
        ),
    ]
    paid = sorted({names.get(j.provider, j.provider) for j in report.jobs if j.status == "completed"})
    cheats = sorted({names.get(j.provider, j.provider) for j in report.jobs if j.status == "slashed"})
    lines += ["", f"paid: {', '.join(paid) or 'nobody'}; slashed: {', '.join(cheats) or 'nobody'}"]
    c = report.claims
    if c is not None:
        held = ", ".join(f"{names.get(h.address, h.address[:10])} {h.balance}" for h in c.holders)
        lines += [
            f"capacity claims, series {c.series} (region {c.region or '-'}): {c.minted} GPU-hours "
            f"= {h100e_hours(c.h100e_micro)} H100e-hours minted, {c.sold} sold at "
            f"{_tok(c.price_per_token)} tokens each, {c.resold} resold by holders, {c.redeemed} "
            f"redeemed; held: {held or 'none'}"
        ]
    if report.index is not None:
        lines += ["", "claims price index (per H100e-hour, from the chain's fills):", ""]
        lines.append(
            table(
                ["class", "window", "day", "price", "volume H100e-h", "trades"],
                [
                    [
                        p["gpu_class"],
                        p["window"],
                        p["day"],
                        p["price_tokens"],
                        f"{p['volume']:.6g}",
                        f"{p['trades']}" + (" (thin)" if p["thin"] else ""),
                    ]
                    for p in report.index.points
                ],
            )
            if report.index.points
            else "no fills"
        )
        if report.index.plot:
            lines.append(f"plot: {report.index.plot}")
    lines += [f"note: {n}" for n in report.notes]
    if report.dashboard:
        lines.append(f"dashboard: {report.dashboard} (stop it and the devnet: ccm devnet down --home …)")
    return "\n".join(lines)
