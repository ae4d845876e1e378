"""Typed wrapper of ``JobMarket``: post (approve or permit), accept, commit, audit, contest, vote,
timeouts, and the views (job record, sampled indices, ``verifyUnit``).

Function names follow the Solidity; every write returns the typed outcome (ids, statuses) read
from the receipt's events, and every revert arrives as ``ContractRevert`` with the custom error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from node.chain.client import Receipt
from node.chain.contract import BoundContract
from node.chain.token import Token


class JobStatus(IntEnum):
    """``IJobMarket.Status``. Terminal: CANCELLED, COMPLETED, DEFAULTED, SLASHED."""

    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    COMMITTED = 3
    AUDITING = 4
    FAILED = 5
    CONTESTED = 6
    VOTING = 7
    CANCELLED = 8
    COMPLETED = 9
    DEFAULTED = 10
    SLASHED = 11

    @property
    def terminal(self) -> bool:
        return self >= JobStatus.CANCELLED


class Outcome(IntEnum):
    """``IJobMarket.Outcome`` of a contest."""

    OVERTURNED = 0
    UPHELD = 1
    NO_QUORUM = 2


class Ballot(IntEnum):
    """``IJobMarket.Ballot`` of a panel member."""

    NONE = 0
    PENDING = 1
    HONEST = 2
    CHEATED = 3


@dataclass(frozen=True)
class JobTerms:
    """What a consumer posts (``IJobMarket.JobTerms``); deadlines are unix seconds."""

    spec_hash: bytes
    price: int
    collateral: int
    accept_by: int
    commit_by: int
    min_units: int = 0
    max_units: int = 0

    def as_tuple(self) -> tuple[object, ...]:
        return (
            self.spec_hash,
            self.price,
            self.collateral,
            self.min_units,
            self.max_units,
            self.accept_by,
            self.commit_by,
        )


@dataclass(frozen=True)
class Job:
    """A job's full record (``IJobMarket.Job``)."""

    job_id: int
    consumer: ChecksumAddress
    provider: ChecksumAddress
    verifier: ChecksumAddress
    status: JobStatus
    prepaid: bool
    accept_by: int
    commit_by: int
    deadline: int
    min_units: int
    max_units: int
    n_units: int
    pending_block: int
    spec_hash: bytes
    root: bytes
    seed: bytes
    evidence_hash: bytes
    price: int
    collateral: int
    bond: int


@dataclass(frozen=True)
class MarketParams:
    """The market's deployment parameters (``IJobMarket.Params``)."""

    audit_probability_bps: int
    protocol_fee_bps: int
    accuser_reward_bps: int
    pool_share_bps: int
    samples_k: int
    panel_size: int
    attest_window: int
    contest_window: int
    vote_window: int
    prepaid_commit_window: int
    draw_window_blocks: int
    contest_bond: int
    false_accuser_slash: int
    absent_verifier_slash: int


@dataclass(frozen=True)
class AuditDraw:
    """The result of ``drawAudit``: the seed, whether the job is audited and by whom."""

    job_id: int
    seed: bytes
    audited: bool
    verifier: ChecksumAddress
    status: JobStatus


@dataclass(frozen=True)
class ContestResult:
    """How ``resolveContest`` ended, with the tally."""

    job_id: int
    outcome: Outcome
    honest_votes: int
    cheated_votes: int
    status: JobStatus


@dataclass(frozen=True)
class Payout:
    """One ``Paid`` event: tokens that left the market for ``to`` during a step."""

    to: ChecksumAddress
    amount: int


@dataclass(frozen=True)
class StepResult:
    """A state-changing step: the job's status afterwards and who was paid what."""

    job_id: int
    status: JobStatus
    payouts: tuple[Payout, ...]
    receipt: Receipt


class Market:
    """``JobMarket`` at one address."""

    def __init__(self, contract: BoundContract, token: Token) -> None:
        self.contract = contract
        self.address = contract.address
        self.token = token

    # -- consumer -------------------------------------------------------------------------------

    def post_job(self, consumer: LocalAccount, terms: JobTerms) -> int:
        """Escrow ``terms.price`` (approving it first if needed) and post; returns the job id."""
        self.token.ensure_allowance(consumer, self.address, terms.price)
        receipt = self.contract.transact(consumer, "postJob", terms.as_tuple())
        return self._job_id(receipt, "JobPosted")

    def post_job_with_permit(self, consumer: LocalAccount, terms: JobTerms, *, permit_deadline: int) -> int:
        """Post in one transaction, the price's allowance given by an EIP-2612 permit signed here."""
        permit = self.token.sign_permit(consumer, self.address, terms.price, deadline=permit_deadline)
        sig = permit.signature
        receipt = self.contract.transact(
            consumer, "postJobWithPermit", terms.as_tuple(), permit_deadline, sig.v, sig.r, sig.s
        )
        return self._job_id(receipt, "JobPosted")

    def cancel_job(self, consumer: LocalAccount, job_id: int) -> StepResult:
        return self._step(consumer, "cancelJob", job_id)

    # -- provider -------------------------------------------------------------------------------

    def accept_job(self, provider: LocalAccount, job_id: int) -> StepResult:
        """Lock the job's collateral (approving it first if needed) and accept."""
        collateral = self.job(job_id).collateral
        self.token.ensure_allowance(provider, self.address, collateral)
        return self._step(provider, "acceptJob", job_id)

    def commit_result(self, provider: LocalAccount, job_id: int, root: bytes, n_units: int) -> StepResult:
        return self._step(provider, "commitResult", job_id, root, n_units)

    def contest(self, provider: LocalAccount, job_id: int) -> StepResult:
        """Post the contest bond (approving it first if needed) against a fail."""
        self.token.ensure_allowance(provider, self.address, self.params().contest_bond)
        return self._step(provider, "contest", job_id)

    # -- anyone (draws, timeouts) ---------------------------------------------------------------

    def draw_audit(self, sender: LocalAccount, job_id: int) -> AuditDraw:
        """Fix the seed (in a block after the commit); decides whether and by whom it is audited."""
        receipt = self.contract.transact(sender, "drawAudit", job_id)
        (event,) = self.contract.receipt_events(receipt, "AuditDrawn")
        return AuditDraw(
            job_id=job_id,
            seed=bytes(event.args["seed"]),
            audited=bool(event.args["audited"]),
            verifier=to_checksum_address(event.args["verifier"]),
            status=self.status_of(job_id),
        )

    def draw_panel(self, sender: LocalAccount, job_id: int) -> tuple[ChecksumAddress, ...]:
        """Draw the contest panel (in a block after the contest); returns its members."""
        receipt = self.contract.transact(sender, "drawPanel", job_id)
        (event,) = self.contract.receipt_events(receipt, "PanelDrawn")
        return tuple(to_checksum_address(a) for a in event.args["panel"])

    def claim_commit_timeout(self, sender: LocalAccount, job_id: int) -> StepResult:
        return self._step(sender, "claimCommitTimeout", job_id)

    def claim_attest_timeout(self, sender: LocalAccount, job_id: int) -> StepResult:
        return self._step(sender, "claimAttestTimeout", job_id)

    def finalize_fail(self, sender: LocalAccount, job_id: int) -> StepResult:
        return self._step(sender, "finalizeFail", job_id)

    def resolve_contest(self, sender: LocalAccount, job_id: int) -> ContestResult:
        receipt = self.contract.transact(sender, "resolveContest", job_id)
        (event,) = self.contract.receipt_events(receipt, "ContestResolved")
        return ContestResult(
            job_id=job_id,
            outcome=Outcome(int(event.args["outcome"])),
            honest_votes=int(event.args["honestVotes"]),
            cheated_votes=int(event.args["cheatedVotes"]),
            status=self.status_of(job_id),
        )

    # -- verifier -------------------------------------------------------------------------------

    def attest(
        self, verifier: LocalAccount, job_id: int, *, passed: bool, evidence_hash: bytes = b"\0" * 32
    ) -> StepResult:
        """The drawn verifier's verdict; a fail needs a non-zero ``evidence_hash``."""
        return self._step(verifier, "attest", job_id, passed, evidence_hash)

    def vote(self, member: LocalAccount, job_id: int, *, provider_honest: bool) -> StepResult:
        return self._step(member, "vote", job_id, provider_honest)

    # -- views ----------------------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        raw = self.contract.call("jobOf", job_id)
        return Job(
            job_id=job_id,
            consumer=_addr(raw[0]),
            provider=_addr(raw[1]),
            verifier=_addr(raw[2]),
            status=JobStatus(int(raw[3])),
            prepaid=bool(raw[4]),
            accept_by=int(raw[5]),
            commit_by=int(raw[6]),
            deadline=int(raw[7]),
            min_units=int(raw[8]),
            max_units=int(raw[9]),
            n_units=int(raw[10]),
            pending_block=int(raw[11]),
            spec_hash=bytes(raw[12]),
            root=bytes(raw[13]),
            seed=bytes(raw[14]),
            evidence_hash=bytes(raw[15]),
            price=int(raw[16]),
            collateral=int(raw[17]),
            bond=int(raw[18]),
        )

    def status_of(self, job_id: int) -> JobStatus:
        return JobStatus(int(self.contract.call("statusOf", job_id)))

    def params(self) -> MarketParams:
        return MarketParams(*(int(v) for v in self.contract.call("params")))

    def panel_of(self, job_id: int) -> tuple[ChecksumAddress, ...]:
        return tuple(_addr(a) for a in self.contract.call("panelOf", job_id))

    def ballot_of(self, job_id: int, member: str) -> Ballot:
        return Ballot(int(self.contract.call("ballotOf", job_id, _addr(member))))

    def tally_of(self, job_id: int) -> tuple[int, int]:
        """``(honest, cheated)`` votes so far."""
        honest, cheated = self.contract.call("tallyOf", job_id)
        return int(honest), int(cheated)

    def held_for(self, job_id: int) -> int:
        return int(self.contract.call("heldFor", job_id))

    def sampled_indices(self, job_id: int) -> tuple[int, ...]:
        """The unit indices the audit must check (reverts ``JobMarket_NoSeed`` before the draw)."""
        return tuple(int(i) for i in self.contract.call("sampledIndices", job_id))

    def verify_unit(
        self, job_id: int, index: int, meta_hash: bytes, data_hash: bytes, proof: Sequence[bytes]
    ) -> bool:
        """Whether a revealed unit is under the job's committed root, checked by the contract."""
        return bool(self.contract.call("verifyUnit", job_id, index, meta_hash, data_hash, list(proof)))

    def job_count(self) -> int:
        return int(self.contract.call("jobCount"))

    def total_owed(self) -> int:
        return int(self.contract.call("totalOwed"))

    def reward_pool(self) -> int:
        return int(self.contract.call("rewardPool"))

    # -- internals ------------------------------------------------------------------------------

    def _job_id(self, receipt: Receipt, event_name: str) -> int:
        (event,) = self.contract.receipt_events(receipt, event_name)
        return int(event.args["jobId"])

    def _step(self, account: LocalAccount, function: str, job_id: int, *args: object) -> StepResult:
        receipt = self.contract.transact(account, function, job_id, *args)
        payouts = tuple(
            Payout(_addr(e.args["to"]), int(e.args["amount"]))
            for e in self.contract.receipt_events(receipt, "Paid")
        )
        return StepResult(job_id, self.status_of(job_id), payouts, receipt)


def _addr(value: str) -> ChecksumAddress:
    return to_checksum_address(value)
