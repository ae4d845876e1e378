"""Typed wrapper of ``JobMarket``: post (approve or permit), accept, commit, audit, contest, vote,
timeouts, and the views (job record, sampled indices, ``verifyUnit``).

Function names follow the Solidity; every write returns the typed outcome (ids, statuses) read
from the receipt's events, and every revert arrives as ``ContractRevert`` with the custom error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

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


class Market:
    """``JobMarket`` at one address."""

    def __init__(self, contract: BoundContract, token: Token) -> None:
        self.contract = contract
        self.address = contract.address
        self.token = token

    def status_of(self, job_id: int) -> JobStatus:
        return JobStatus(int(self.contract.call("statusOf", job_id)))


def _addr(value: str) -> ChecksumAddress:
    return to_checksum_address(value)
