"""Jobs as the chain and the store record them: reports, timelines, audits performed.

* :func:`job_report` — where one job stands (``ccm job submit --json`` / ``ccm job status``): the
  chain's record and verdict, the store's kind and peer, whether the outputs were verified here;
* :func:`job_timelines` — every job an account took part in (consumer, provider, drawn verifier,
  panel member) or that its store knows, each with its chain transactions in order and the audit
  verdicts with the units the chain sampled;
* :func:`audits_performed` — the audits a verifier's store recorded, joined with its attestations.

Verdicts (:func:`verdict_from_events`): ``pass``, ``fail``, ``overturned`` (a panel found the
provider honest), ``timeout`` (the drawn verifier never attested), ``not audited`` or ``pending``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from node.errors import WorkloadError
from node.query.scan import ZERO_ADDRESS, EventScan, checksum, same

if TYPE_CHECKING:
    from node.chain.events import DecodedEvent
    from node.chain.market import Job, JobStatus
    from node.roles.context import NodeContext
    from node.store import Store


@dataclass(frozen=True)
class JobReport:
    """Where a job stands, as ``ccm job submit --json`` / ``ccm job status --json`` print it."""

    job_id: int
    kind: str
    spec_hash: str
    provider: str
    provider_peer: str
    price: int
    collateral: int
    status: str
    audited: bool
    verifier: str
    verdict: str
    outputs_verified: bool
    root: str
    n_units: int
    wall_s: float = 0.0
    local_status: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def job_report(ctx: NodeContext, job_id: int, outputs_verified: bool | None = None) -> JobReport:
    """Blocking: the report of ``job_id`` from the chain (status, verdict) and the store."""
    from node.chain.market import JobStatus
    from node.roles.outputs import load_manifest

    record = ctx.store.get_job(str(job_id))
    job = ctx.chain.market.job(job_id)
    if job.status == JobStatus.NONE:
        raise WorkloadError(f"no job {job_id} on chain")
    audited = job.verifier != ZERO_ADDRESS
    verdict = verdict_of(ctx, job_id, job.status, audited)
    if outputs_verified is None:
        outputs_verified = load_manifest(ctx.home, job_id) is not None
    return JobReport(
        job_id=job_id,
        kind=record.kind if record else "",
        spec_hash="0x" + job.spec_hash.hex(),
        provider=job.provider,
        provider_peer=record.peer_id if record else "",
        price=job.price,
        collateral=job.collateral,
        status=job.status.name.lower(),
        audited=audited,
        verifier=job.verifier if audited else "",
        verdict=verdict,
        outputs_verified=outputs_verified,
        root="0x" + job.root.hex(),
        n_units=job.n_units,
        local_status=record.status if record else "",
        error=record.error if record else "",
    )


def verdict_of(ctx: NodeContext, job_id: int, status: JobStatus, audited: bool) -> str:
    """The verdict of ``job_id`` (see the module docstring) from the deployment's events."""
    events = [
        e
        for e in ctx.chain.event_watcher().poll()
        if e.contract == "JobMarket" and int(e.args.get("jobId", -1)) == job_id
    ]
    return verdict_from_events(events, status, audited)


def verdict_from_events(events: Iterable[DecodedEvent], status: JobStatus, audited: bool) -> str:
    """The verdict of one job from its ``JobMarket`` events (see the module docstring)."""
    from node.chain.market import JobStatus

    if not audited:
        return "not audited" if status == JobStatus.COMPLETED else "pending"
    names: dict[str, Mapping[str, Any]] = {e.name: e.args for e in events}
    if "AttestationTimedOut" in names:
        return "timeout"
    if "ContestResolved" in names and int(names["ContestResolved"]["outcome"]) == 0:
        return "overturned"
    if "Attested" in names:
        return "pass" if names["Attested"]["passed"] else "fail"
    return "pending"


@dataclass(frozen=True)
class Step:
    """One chain event of a job: when, which transaction, what it says."""

    block: int
    timestamp: int
    tx_hash: str
    event: str
    detail: str


@dataclass(frozen=True)
class AuditRow:
    """One audit as a verifier's store recorded it, with its attestation on chain when there is one."""

    job_id: int
    auditor: str
    status: str
    verdict: str
    detail: str
    indices: tuple[int, ...]
    attested_block: int | None
    attested_tx: str
    passed: bool | None


@dataclass(frozen=True)
class JobTimeline:
    """A job with its chain steps and audit (see the module docstring); amounts in base units."""

    job_id: int
    kind: str
    roles: tuple[str, ...]
    status: str
    consumer: str
    provider: str
    verifier: str
    price: int
    collateral: int
    n_units: int
    prepaid: bool
    audited: bool
    verdict: str
    sampled: tuple[int, ...]
    panel: tuple[str, ...]
    steps: tuple[Step, ...]
    audits: tuple[AuditRow, ...] = ()

    def to_json(self) -> dict[str, Any]:
        obj = asdict(self)
        obj["price"], obj["collateral"] = str(self.price), str(self.collateral)
        return obj


_AMOUNT_EVENTS = (
    "JobCompleted",
    "JobDefaulted",
    "JobSlashed",
    "Contested",
    "PoolFunded",
    "AttestationTimedOut",
)


def _detail(e: DecodedEvent) -> str:
    a = e.args
    from tokenomics.units import units_to_tokens

    if e.name == "JobPosted":
        return f"price {units_to_tokens(int(a['price']))}, collateral {units_to_tokens(int(a['collateral']))}"
    if e.name == "PrepaidJobOpened":
        return f"claim redeemed, provider {a['provider']}"
    if e.name == "JobAccepted":
        return f"accepted by {a['provider']}"
    if e.name == "ResultCommitted":
        return f"{a['nUnits']} units, root 0x{bytes(a['root']).hex()[:16]}…"
    if e.name == "AuditDrawn":
        return f"audited by {a['verifier']}" if a["audited"] else "not audited"
    if e.name == "Attested":
        return f"{'pass' if a['passed'] else 'FAIL'} by {a['verifier']}"
    if e.name == "Paid":
        return f"{units_to_tokens(int(a['amount']))} to {a['to']}"
    if e.name == "Voted":
        return f"{a['member']}: {'honest' if a['providerHonest'] else 'cheated'}"
    if e.name == "PanelDrawn":
        return f"panel of {len(a['panel'])}"
    if e.name == "ContestResolved":
        return f"outcome {a['outcome']} ({a['honestVotes']} honest, {a['cheatedVotes']} cheated)"
    if e.name in _AMOUNT_EVENTS:
        return ", ".join(
            f"{k} {units_to_tokens(v) if isinstance(v, int) and k != 'verifier' else v}"
            for k, v in a.items()
            if k != "jobId"
        )
    return ""


def _audit_rows(store: Store, attested: Mapping[tuple[int, str], DecodedEvent]) -> list[AuditRow]:
    rows = []
    for a in store.list_audits():
        event = attested.get((int(a.job_id), a.auditor.lower()))
        rows.append(
            AuditRow(
                job_id=int(a.job_id),
                auditor=checksum(a.auditor),
                status=a.status,
                verdict=a.verdict,
                detail=a.detail,
                indices=tuple(a.indices),
                attested_block=event.block_number if event else None,
                attested_tx=event.tx_hash if event else "",
                passed=bool(event.args["passed"]) if event else None,
            )
        )
    return rows


def _attested(scan: EventScan) -> dict[tuple[int, str], DecodedEvent]:
    return {(int(e.args["jobId"]), str(e.args["verifier"]).lower()): e for e in scan.named("Attested")}


def audits_performed(scan: EventScan, store: Store, address: str) -> list[AuditRow]:
    """The audits of ``address`` recorded in ``store``, and attestations by it the store lacks."""
    rows = [r for r in _audit_rows(store, _attested(scan)) if same(r.auditor, address)]
    known = {r.job_id for r in rows}
    for e in scan.named("Attested"):
        j = int(e.args["jobId"])
        if same(e.args["verifier"], address) and j not in known:
            rows.append(
                AuditRow(
                    j,
                    checksum(address),
                    "attested",
                    "pass" if e.args["passed"] else "fail",
                    "",
                    scan.chain.market.sampled_indices(j),
                    e.block_number,
                    e.tx_hash,
                    bool(e.args["passed"]),
                )
            )
    return sorted(rows, key=lambda r: r.job_id)


def job_timelines(
    scan: EventScan, store: Store | None, address: str, *, records: Mapping[int, Job] | None = None
) -> list[JobTimeline]:
    """Every job ``address`` took part in or ``store`` records, newest first (see the module docstring)."""
    market = scan.chain.market
    known = {int(j.job_id): j for j in store.list_jobs()} if store is not None else {}
    ids = scan.job_ids()
    records = {j: market.job(j) for j in ids} if records is None else records
    panels = {
        int(e.args["jobId"]): tuple(checksum(m) for m in e.args["panel"]) for e in scan.named("PanelDrawn")
    }
    attested = _attested(scan)
    audits = _audit_rows(store, attested) if store is not None else []
    out = []
    for j in ids:
        rec = records[j]
        parties = (("consumer", rec.consumer), ("provider", rec.provider), ("verifier", rec.verifier))
        roles = tuple(role for role, who in parties if same(who, address))
        roles += ("panel",) if any(same(m, address) for m in panels.get(j, ())) else ()
        if not roles and j not in known:
            continue
        events = scan.for_job(j)
        audited = rec.verifier != ZERO_ADDRESS
        sampled: tuple[int, ...] = ()
        if audited and rec.seed != b"\0" * 32:
            sampled = market.sampled_indices(j)
        stored = known.get(j)
        out.append(
            JobTimeline(
                job_id=j,
                kind=stored.kind if stored else "",
                roles=roles,
                status=rec.status.name.lower(),
                consumer=rec.consumer,
                provider=rec.provider,
                verifier=rec.verifier if audited else "",
                price=rec.price,
                collateral=rec.collateral,
                n_units=rec.n_units,
                prepaid=rec.prepaid,
                audited=audited,
                verdict=verdict_from_events(events, rec.status, audited),
                sampled=sampled,
                panel=panels.get(j, ()),
                steps=tuple(
                    Step(e.block_number, scan.timestamp(e.block_number), e.tx_hash, e.name, _detail(e))
                    for e in events
                ),
                audits=tuple(a for a in audits if a.job_id == j),
            )
        )
    return sorted(out, key=lambda t: -t.job_id)
