"""Moving a job along its on-chain life cycle: the draw, the timeouts, the panel, the resolution.

Every step of ``JobMarket`` that is not tied to one party's judgement may be called by anyone, and
each is in someone's interest: the provider wants its pay (``drawAudit``, ``claimAttestTimeout``,
``drawPanel``, ``resolveContest``), the consumer its refund (``claimCommitTimeout``,
``finalizeFail``), the accusing verifier its reward (``finalizeFail``). :func:`advance` performs the
one step that is due for a job, if any, so each role calls it on the jobs it cares about; that is how
"something must call drawAudit after the commit block" happens without a keeper.

Races are expected (two parties try the same step): a revert with ``WrongStatus``, ``TooEarly`` or
``DeadlineNotReached`` means "not now / someone was first" and is not an error.

Time: deadlines are judged against the later of the latest block's timestamp and the wall clock
(a devnet may have been moved forward with ``evm_increaseTime``); the contract has the last word.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.chain.errors import ContractRevert
from node.chain.market import Job, JobStatus

logger = logging.getLogger(__name__)

#: Reverts that only mean "not due (yet) or already done by someone else".
BENIGN_REVERTS = frozenset(
    {
        "JobMarket_WrongStatus",
        "JobMarket_TooEarly",
        "JobMarket_DeadlineNotReached",
        "JobMarket_DeadlinePassed",
    }
)


@dataclass(frozen=True)
class Step:
    """What :func:`advance` did: the step's name (``""`` when none was due) and the status after it."""

    name: str
    status: JobStatus


def chain_now(chain: Chain) -> int:
    """The later of the latest block's timestamp and the wall clock (unix seconds)."""
    return max(chain.client.timestamp(), int(time.time()))


def due_step(job: Job, *, now: int, head: int, contest: bool) -> str:
    """The name of the step that anyone may take now for ``job`` (``""`` if none).

    ``contest``: whether the caller is the provider and wants to contest a fail (only the provider
    may); ``head`` is the latest block number.
    """
    s = job.status
    if s == JobStatus.ACCEPTED and now > job.commit_by:
        return "claim_commit_timeout"
    if s == JobStatus.COMMITTED and head >= job.pending_block:
        return "draw_audit"
    if s == JobStatus.AUDITING and now > job.deadline:
        return "claim_attest_timeout"
    if s == JobStatus.FAILED:
        if contest and now <= job.deadline:
            return "contest"
        if now > job.deadline:
            return "finalize_fail"
    if s == JobStatus.CONTESTED and head >= job.pending_block:
        return "draw_panel"
    if s == JobStatus.VOTING:
        return "resolve_contest"
    return ""


def advance(chain: Chain, account: LocalAccount, job_id: int, *, contest: bool = False) -> Step:
    """Take the step that is due for ``job_id`` (blocking; run it in a worker thread from trio).

    ``resolve_contest`` is attempted whenever the job is voting (the contract refuses it until every
    member voted or the deadline passed).
    """
    market = chain.market
    job = market.job(job_id)
    name = due_step(job, now=chain_now(chain), head=chain.client.block_number(), contest=contest)
    if not name:
        return Step("", job.status)
    try:
        if name == "draw_audit":
            market.draw_audit(account, job_id)
        elif name == "draw_panel":
            market.draw_panel(account, job_id)
        elif name == "resolve_contest":
            market.resolve_contest(account, job_id)
        else:
            getattr(market, name)(account, job_id)
    except ContractRevert as err:
        if err.error_name in BENIGN_REVERTS:
            logger.debug("job %s: %s not taken: %s", job_id, name, err.error_name)
            return Step("", market.status_of(job_id))
        raise
    status = market.status_of(job_id)
    logger.info("job %s: %s -> %s", job_id, name, status.name)
    return Step(name, status)
