"""Moving a job along its on-chain life cycle: the reveals, the timeouts, the resolution.

Every step of ``JobMarket`` that is not tied to one party's judgement may be called by anyone, and
each is in someone's interest: the provider wants its pay (``claimAttestTimeout``,
``resolveContest``), the consumer its refund (``claimCommitTimeout``, ``claimRevealTimeout``,
``finalizeFail``), the accusing verifier its reward (``finalizeFail``). The two secret reveals that
draw the audit can only be sent by the party that holds the secret (kept in its store under the
on-chain commitment): the consumer reveals once the root is committed, the provider once the
consumer revealed or the consumer's window passed. :func:`advance` performs the one step that is
due for a job, if any, so each role calls it on the jobs it cares about, without a keeper.

Races are expected (two parties try the same step): a revert with ``WrongStatus``, ``TooEarly`` or
``DeadlineNotReached`` means "not now / someone was first" and is not an error.

Time: whether a deadline passed is judged on the chain's latest block timestamp only (chain time,
whatever this machine's clock says; a devnet may have been moved forward with ``evm_increaseTime``
or lag behind); the contract has the last word. Deadlines this node *sets* (a job's terms, a
permit) start from :func:`next_block_time`, the expected timestamp of the block its transaction
lands in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.chain.errors import ContractRevert
from node.chain.market import Job, JobStatus
from node.store import Store

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
    """Chain time: the latest block's timestamp (unix seconds), what deadline decisions use."""
    return chain.client.timestamp()


def next_block_time(chain: Chain) -> int:
    """The expected timestamp of the next block (what deadlines set now are counted from): the
    latest block's plus the block time; on a chain that mines on demand, which stamps a block with
    the wall clock plus any offset it was moved by (``evm_increaseTime``), the pending block's
    timestamp, which carries that offset (the latest block may be minutes old on an idle devnet)."""
    latest = chain.client.timestamp()
    block_time = chain.deployment.block_time_s
    if block_time > 0:
        return latest + max(1, round(block_time))
    return max(latest + 1, chain.client.timestamp("pending"))


def provider_reveal_span(job: Job, reveal_window: int) -> tuple[int, int]:
    """``(from, until)``: when the provider may reveal (mirrors ``JobMarket.providerRevealSpan``)."""
    if job.consumer_revealed:
        return 0, job.deadline
    return job.deadline + 1, job.deadline + reveal_window


def due_step(job: Job, *, now: int, me: str, reveal_window: int, contest: bool) -> str:
    """The name of the step that ``me`` may take now for ``job`` (``""`` if none).

    ``contest``: whether the caller is the provider and wants to contest a fail (only the provider
    may). The reveals are due only for the party they belong to.
    """
    s = job.status
    if s == JobStatus.ACCEPTED and now > job.commit_by:
        return "claim_commit_timeout"
    if s == JobStatus.COMMITTED:
        start, until = provider_reveal_span(job, reveal_window)
        if me == job.consumer and not job.consumer_revealed and now <= job.deadline:
            return "reveal_consumer_secret"
        if me == job.provider and start <= now <= until:
            return "reveal_provider_secret"
        if now > until:
            return "claim_reveal_timeout"
    if s == JobStatus.AUDITING and now > job.deadline:
        return "claim_attest_timeout"
    if s == JobStatus.FAILED:
        if contest and now <= job.deadline:
            return "contest"
        if now > job.deadline:
            return "finalize_fail"
    if s == JobStatus.VOTING:
        return "resolve_contest"
    return ""


def advance(
    chain: Chain,
    account: LocalAccount,
    job_id: int,
    *,
    store: Store | None = None,
    contest: bool = False,
    job: Job | None = None,
    now: int | None = None,
) -> Step:
    """Take the step that is due for ``job_id`` (blocking; run it in a worker thread from trio).

    ``store`` holds this node's audit secrets; without it (or without the secret) no reveal is sent.
    ``resolve_contest`` is attempted whenever the job is voting (the contract refuses it until every
    seat revealed or the reveal window passed). ``job`` and ``now`` (a block's timestamp): what the
    caller already read at the newest block it saw (each read here otherwise: two requests fewer).
    """
    market = chain.market
    job = market.job(job_id) if job is None else job
    window = market.params().reveal_window
    now = chain_now(chain) if now is None else now
    name = due_step(job, now=now, me=account.address, reveal_window=window, contest=contest)
    if not name:
        return Step("", job.status)
    try:
        if name in ("reveal_consumer_secret", "reveal_provider_secret"):
            commitment = job.consumer_secret if name == "reveal_consumer_secret" else job.provider_secret
            secret = store.secret_for(commitment) if store is not None else None
            if secret is None:
                logger.warning("job %s: %s due but this node does not hold the secret", job_id, name)
                return Step("", job.status)
            getattr(market, name)(account, job_id, secret)
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
