"""Typed wrapper of ``JobMarket``: post (approve or permit), accept, commit, the two secret
reveals that draw the audit, attest, contest, committed ballots, timeouts, and the views (job
record, sampled indices, ``verifyUnit``).

Audit secrets: a consumer posts ``commitment(secret)`` of a fresh ``new_secret()`` and reveals the
secret after the provider's commitment; the provider commits to its own with the root and reveals
it last, which fixes the seed. Ballots are committed as ``ballot_commitment(...)`` and revealed
after the vote window.

Function names follow the Solidity; every write returns the typed outcome (ids, statuses) read
from the receipt's events, and every revert arrives as ``ContractRevert`` with the custom error.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

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
    COMMITTED = 2
    HONEST = 3
    CHEATED = 4


def new_secret() -> bytes:
    """A fresh random 32-byte audit secret or ballot salt."""
    return secrets.token_bytes(32)


def commitment(secret: bytes) -> bytes:
    """``keccak256(abi.encode(secret))``: what goes on chain before a secret is revealed."""
    return keccak(encode(["bytes32"], [secret]))


def ballot_commitment(job_id: int, member: str, provider_honest: bool, salt: bytes) -> bytes:
    """``keccak256(abi.encode(jobId, member, providerHonest, salt))``, a panel member's hidden ballot."""
    return keccak(
        encode(["uint256", "address", "bool", "bytes32"], [job_id, _addr(member), provider_honest, salt])
    )


@dataclass(frozen=True)
class JobTerms:
    """What a consumer posts (``IJobMarket.JobTerms``); deadlines are unix seconds;
    ``secret_hash`` is ``commitment()`` of the consumer's audit secret."""

    spec_hash: bytes
    price: int
    collateral: int
    accept_by: int
    commit_by: int
    secret_hash: bytes
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
            self.secret_hash,
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
    consumer_revealed: bool
    accept_by: int
    commit_by: int
    deadline: int
    min_units: int
    max_units: int
    n_units: int
    snapshot_block: int
    spec_hash: bytes
    root: bytes
    consumer_secret: bytes
    provider_secret: bytes
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
    reveal_window: int
    contest_bond: int
    false_accuser_slash: int
    absent_verifier_slash: int
    min_fee: int
    min_collateral: int


@dataclass(frozen=True)
class AuditDraw:
    """The audit draw made by the provider's reveal: the seed, whether the job is audited and by whom."""

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
        self._params: MarketParams | None = None

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

    def commit_result(
        self, provider: LocalAccount, job_id: int, root: bytes, n_units: int, *, secret_hash: bytes
    ) -> StepResult:
        """Commit the root and ``commitment()`` of the provider's audit secret."""
        return self._step(provider, "commitResult", job_id, root, n_units, secret_hash)

    def reveal_provider_secret(self, sender: LocalAccount, job_id: int, secret: bytes) -> AuditDraw:
        """Reveal the provider's secret (after the consumer's reveal or its window): draws the audit."""
        receipt = self.contract.transact(sender, "revealProviderSecret", job_id, secret)
        (event,) = self.contract.receipt_events(receipt, "AuditDrawn")
        return AuditDraw(
            job_id=job_id,
            seed=bytes(event.args["seed"]),
            audited=bool(event.args["audited"]),
            verifier=to_checksum_address(event.args["verifier"]),
            status=self.status_of(job_id),
        )

    def contest(self, provider: LocalAccount, job_id: int) -> StepResult:
        """Post the contest bond (approving it first if needed) against a fail."""
        self.token.ensure_allowance(provider, self.address, self.params().contest_bond)
        return self._step(provider, "contest", job_id)

    # -- anyone (draws, timeouts) ---------------------------------------------------------------

    def reveal_consumer_secret(self, sender: LocalAccount, job_id: int, secret: bytes) -> StepResult:
        """Reveal the consumer's audit secret (after the provider's commitment)."""
        return self._step(sender, "revealConsumerSecret", job_id, secret)

    def claim_reveal_timeout(self, sender: LocalAccount, job_id: int) -> StepResult:
        """Default a provider that did not reveal its secret in time."""
        return self._step(sender, "claimRevealTimeout", job_id)

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

    def commit_vote(self, member: LocalAccount, job_id: int, ballot_hash: bytes) -> StepResult:
        """Commit ``ballot_commitment(...)`` within the vote window."""
        return self._step(member, "commitVote", job_id, ballot_hash)

    def reveal_vote(
        self, member: LocalAccount, job_id: int, *, provider_honest: bool, salt: bytes
    ) -> StepResult:
        """Reveal a committed ballot, after the vote window."""
        return self._step(member, "revealVote", job_id, provider_honest, salt)

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
            consumer_revealed=bool(raw[5]),
            accept_by=int(raw[6]),
            commit_by=int(raw[7]),
            deadline=int(raw[8]),
            min_units=int(raw[9]),
            max_units=int(raw[10]),
            n_units=int(raw[11]),
            snapshot_block=int(raw[12]),
            spec_hash=bytes(raw[13]),
            root=bytes(raw[14]),
            consumer_secret=bytes(raw[15]),
            provider_secret=bytes(raw[16]),
            seed=bytes(raw[17]),
            evidence_hash=bytes(raw[18]),
            price=int(raw[19]),
            collateral=int(raw[20]),
            bond=int(raw[21]),
        )

    def provider_reveal_span(self, job_id: int) -> tuple[int, int]:
        """``(from, until)``: when the provider may reveal its secret (while the job is Committed)."""
        start, until = self.contract.call("providerRevealSpan", job_id)
        return int(start), int(until)

    def status_of(self, job_id: int) -> JobStatus:
        return JobStatus(int(self.contract.call("statusOf", job_id)))

    def params(self) -> MarketParams:
        """The deployment parameters (immutable: read once)."""
        if self._params is None:
            self._params = MarketParams(*(int(v) for v in self.contract.call("params")))
        return self._params

    def panel_of(self, job_id: int) -> tuple[ChecksumAddress, ...]:
        return tuple(_addr(a) for a in self.contract.call("panelOf", job_id))

    def ballot_of(self, job_id: int, member: str) -> Ballot:
        return Ballot(int(self.contract.call("ballotOf", job_id, _addr(member))))

    def tally_of(self, job_id: int) -> tuple[int, int]:
        """``(honest, cheated)`` seats revealed so far."""
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
