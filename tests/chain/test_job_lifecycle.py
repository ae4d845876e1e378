"""The whole job lifecycle on a real Anvil: honest, cheating, contests, every timeout, bad callers.

The session deployment audits every job (audit probability 100%), so each committed job draws a
verifier from the five registered here; which one follows from the two revealed secrets, so tests
look it up.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.errors import ContractRevert
from node.chain.market import Ballot, JobStatus, Outcome, commitment
from tests.chain.helpers import (
    COLLATERAL,
    CONSUMER_SECRET,
    PRICE,
    PROVIDER_SECRET,
    Roles,
    commit,
    draw,
    register_roles,
    terms,
    vote,
)
from verifier.commitment import MerkleTree, data_hash, leaf_hash, meta_hash
from verifier.sampling import sample_indices

ROOT = keccak(b"root")
EVIDENCE = keccak(b"evidence")


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return register_roles(chain, dev_accounts)


def _committed(chain: Chain, roles: Roles, *, n_units: int = 8, root: bytes = ROOT) -> int:
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    commit(chain, roles, job_id, root, n_units)
    return job_id


def _failed(chain: Chain, roles: Roles) -> tuple[int, LocalAccount]:
    job_id = _committed(chain, roles)
    accuser = roles.by_address(draw(chain, roles, job_id).verifier)
    chain.market.attest(accuser, job_id, passed=False, evidence_hash=EVIDENCE)
    return job_id, accuser


def test_honest_job_pays_provider_and_verifier(chain: Chain, roles: Roles) -> None:
    token, market = chain.token, chain.market
    before = {a.address: token.balance_of(a.address) for a in (roles.consumer, roles.provider)}
    job_id = market.post_job(roles.consumer, terms(chain))
    assert market.status_of(job_id) is JobStatus.OPEN
    assert market.held_for(job_id) == PRICE
    market.accept_job(roles.provider, job_id)
    commit(chain, roles, job_id, ROOT, 8)
    drawn = draw(chain, roles, job_id)
    assert drawn.audited and drawn.status is JobStatus.AUDITING
    assert drawn.verifier in {v.address for v in roles.verifiers}
    assert drawn.seed == keccak(CONSUMER_SECRET + PROVIDER_SECRET + job_id.to_bytes(32, "big"))
    verifier = roles.by_address(drawn.verifier)
    v_before = token.balance_of(verifier.address)
    result = market.attest(verifier, job_id, passed=True)
    assert result.status is JobStatus.COMPLETED
    fee = PRICE * 500 // 10_000
    assert token.balance_of(roles.provider.address) == before[roles.provider.address] + PRICE - fee
    assert token.balance_of(roles.consumer.address) == before[roles.consumer.address] - PRICE
    assert token.balance_of(verifier.address) == v_before + fee
    job = market.job(job_id)
    assert (job.provider, job.verifier, job.root, job.n_units) == (
        roles.provider.address,
        verifier.address,
        ROOT,
        8,
    )
    assert market.held_for(job_id) == 0 and market.total_owed() == 0


def test_post_with_permit_in_one_transaction(chain: Chain, roles: Roles) -> None:
    assert chain.token.allowance(roles.consumer.address, chain.market.address) == 0
    deadline = chain.client.timestamp() + 600
    job_id = chain.market.post_job_with_permit(roles.consumer, terms(chain), permit_deadline=deadline)
    assert chain.market.job(job_id).price == PRICE
    assert chain.market.status_of(job_id) is JobStatus.OPEN


def test_cheating_provider_is_slashed_after_uncontested_fail(chain: Chain, roles: Roles) -> None:
    consumer_before = chain.token.balance_of(roles.consumer.address)
    job_id, accuser = _failed(chain, roles)
    assert chain.market.status_of(job_id) is JobStatus.FAILED
    accuser_before = chain.token.balance_of(accuser.address)
    with pytest.raises(ContractRevert) as info:  # the contest window is still open
        chain.market.finalize_fail(roles.outsider, job_id)
    assert info.value.error_name == "JobMarket_DeadlineNotReached"
    chain.increase_time(61)
    result = chain.market.finalize_fail(roles.outsider, job_id)
    assert result.status is JobStatus.SLASHED
    reward = COLLATERAL * 2_000 // 10_000
    assert chain.token.balance_of(roles.consumer.address) == consumer_before + COLLATERAL - reward
    assert chain.token.balance_of(accuser.address) == accuser_before + reward


def test_contest_overturned_slashes_the_false_accuser(chain: Chain, roles: Roles) -> None:
    job_id, accuser = _failed(chain, roles)
    accuser_stake = chain.registry.staker(accuser.address).active
    chain.market.contest(roles.provider, job_id)
    panel = chain.market.panel_of(job_id)
    assert len(panel) == 3 and accuser.address not in panel and roles.provider.address not in panel
    vote(chain, roles, job_id, dict.fromkeys(panel, True))
    assert chain.market.ballot_of(job_id, panel[0]) is Ballot.HONEST
    result = chain.market.resolve_contest(roles.outsider, job_id)
    assert (result.outcome, result.honest_votes, result.status) == (
        Outcome.OVERTURNED,
        3,
        JobStatus.COMPLETED,
    )
    assert chain.registry.staker(accuser.address).active == accuser_stake - 50 * 10**18


def test_contest_upheld_forfeits_the_bond(chain: Chain, roles: Roles) -> None:
    job_id, _ = _failed(chain, roles)
    provider_before = chain.token.balance_of(roles.provider.address)
    chain.market.contest(roles.provider, job_id)
    panel = chain.market.panel_of(job_id)
    members = list(dict.fromkeys(panel))
    ballots = {m: m != members[-1] for m in members}  # every seat but the last member's: cheated
    ballots = {m: not cheated for m, cheated in ballots.items()}
    with pytest.raises(ContractRevert) as info:  # nobody revealed, reveal window still open
        chain.market.resolve_contest(roles.outsider, job_id)
    assert info.value.error_name == "JobMarket_DeadlineNotReached"
    vote(chain, roles, job_id, ballots)
    cheated_seats = sum(1 for m in panel if not ballots[m])
    result = chain.market.resolve_contest(roles.outsider, job_id)
    assert result.cheated_votes == cheated_seats
    if 2 * cheated_seats > len(panel):
        assert (result.outcome, result.status) == (Outcome.UPHELD, JobStatus.SLASHED)
        assert chain.token.balance_of(roles.provider.address) == provider_before - 10 * 10**18  # the bond
    else:  # one member held most seats and voted honest
        assert result.outcome is Outcome.OVERTURNED


def test_contest_without_quorum_lets_the_fail_stand(chain: Chain, roles: Roles) -> None:
    job_id, _ = _failed(chain, roles)
    chain.market.contest(roles.provider, job_id)
    panel = chain.market.panel_of(job_id)
    stakes = {m: chain.registry.staker(m).active for m in panel}
    chain.increase_time(61 + 61)  # vote window and reveal window, nobody voted
    result = chain.market.resolve_contest(roles.outsider, job_id)
    assert (result.outcome, result.status) == (Outcome.NO_QUORUM, JobStatus.SLASHED)
    for member in set(panel):  # silent members lose absentVerifierSlash per seat
        seats = panel.count(member)
        assert chain.registry.staker(member).active == stakes[member] - seats * 10 * 10**18


def test_commit_timeout_defaults_the_provider(chain: Chain, roles: Roles) -> None:
    consumer_before = chain.token.balance_of(roles.consumer.address)
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    chain.increase_time(1201)
    with pytest.raises(ContractRevert) as info:
        commit(chain, roles, job_id, ROOT, 8)
    assert info.value.error_name == "JobMarket_DeadlinePassed"
    result = chain.market.claim_commit_timeout(roles.outsider, job_id)
    assert result.status is JobStatus.DEFAULTED
    assert [(p.to, p.amount) for p in result.payouts] == [(roles.consumer.address, PRICE + COLLATERAL)]
    assert chain.token.balance_of(roles.consumer.address) == consumer_before + COLLATERAL


def test_attest_timeout_slashes_the_absent_verifier(chain: Chain, roles: Roles) -> None:
    job_id = _committed(chain, roles)
    verifier = draw(chain, roles, job_id).verifier
    stake = chain.registry.staker(verifier).active
    chain.increase_time(61)
    result = chain.market.claim_attest_timeout(roles.outsider, job_id)
    assert result.status is JobStatus.COMPLETED
    assert chain.registry.staker(verifier).active == stake - 10 * 10**18
    assert chain.market.reward_pool() > 0


def test_open_job_cancel_and_accept_deadline(chain: Chain, roles: Roles) -> None:
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    with pytest.raises(ContractRevert) as info:
        chain.market.cancel_job(roles.outsider, job_id)
    assert info.value.error_name == "JobMarket_NotConsumer"
    assert chain.market.cancel_job(roles.consumer, job_id).status is JobStatus.CANCELLED
    late = chain.market.post_job(roles.consumer, terms(chain))
    chain.increase_time(601)
    with pytest.raises(ContractRevert) as info:
        chain.market.accept_job(roles.provider, late)
    assert info.value.error_name == "JobMarket_DeadlinePassed"


def test_no_verifier_staked_completes_without_audit(
    chain: Chain, dev_accounts: tuple[LocalAccount, ...]
) -> None:
    roles = register_roles(chain, dev_accounts, verifiers=0)
    job_id = _committed(chain, roles)
    drawn = draw(chain, roles, job_id)
    assert drawn.verifier == "0x" + "0" * 40
    assert drawn.status is JobStatus.COMPLETED


def test_unauthorized_callers_get_named_errors(chain: Chain, roles: Roles) -> None:
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    with pytest.raises(ContractRevert) as info:
        chain.market.accept_job(roles.outsider, job_id)
    assert str(info.value) == (
        f"JobMarket.acceptJob reverted: JobMarket_NotStakedProvider(caller={roles.outsider.address})"
    )
    chain.market.accept_job(roles.provider, job_id)
    with pytest.raises(ContractRevert) as info:
        chain.market.commit_result(roles.outsider, job_id, ROOT, 4, secret_hash=commitment(PROVIDER_SECRET))
    assert str(info.value) == (
        "JobMarket.commitResult reverted: "
        f"JobMarket_NotProvider(jobId={job_id}, caller={roles.outsider.address})"
    )
    with pytest.raises(ContractRevert) as info:
        commit(chain, roles, job_id, ROOT, 0)
    assert info.value.error_name == "JobMarket_InvalidUnits"
    with pytest.raises(ContractRevert) as info:
        commit(chain, roles, job_id, b"\0" * 32, 4)
    assert info.value.error_name == "JobMarket_ZeroHash"
    with pytest.raises(ContractRevert) as info:
        chain.market.sampled_indices(job_id)
    assert info.value.error_name == "JobMarket_NoSeed"
    with pytest.raises(ContractRevert) as info:
        chain.market.cancel_job(roles.consumer, job_id)
    assert info.value.error_args["actual"] == JobStatus.ACCEPTED
    assert info.value.error_name == "JobMarket_WrongStatus"


def test_python_commitment_verifies_on_chain(chain: Chain, roles: Roles) -> None:
    units = [bytes([i]) * (16 + i) for i in range(7)]
    meta = meta_hash("float32", [4])
    tree = MerkleTree([leaf_hash(i, meta, data_hash(u)) for i, u in enumerate(units)])
    job_id = _committed(chain, roles, n_units=len(units), root=tree.root)
    drawn = draw(chain, roles, job_id)
    indices = chain.market.sampled_indices(job_id)
    assert list(indices) == sample_indices(drawn.seed, job_id, len(units), 4)
    for i in range(len(units)):
        assert chain.market.verify_unit(job_id, i, meta, data_hash(units[i]), tree.proof(i))
    assert not chain.market.verify_unit(job_id, 0, meta, data_hash(b"forged"), tree.proof(0))
    assert not chain.market.verify_unit(job_id, 1, meta, data_hash(units[0]), tree.proof(0))
    with pytest.raises(ContractRevert) as info:
        chain.market.verify_unit(job_id, len(units), meta, data_hash(units[0]), tree.proof(0))
    assert info.value.error_name == "JobMarket_IndexOutOfRange"
    assert info.value.error_args == {"jobId": job_id, "index": len(units), "nUnits": len(units)}


def test_reveals_in_order_and_withholding_provider_is_defaulted(chain: Chain, roles: Roles) -> None:
    consumer_before = chain.token.balance_of(roles.consumer.address)
    job_id = _committed(chain, roles)
    with pytest.raises(ContractRevert) as info:  # the provider may not reveal before the consumer
        chain.market.reveal_provider_secret(roles.provider, job_id, PROVIDER_SECRET)
    assert info.value.error_name == "JobMarket_TooEarly"
    with pytest.raises(ContractRevert) as info:
        chain.market.reveal_consumer_secret(roles.consumer, job_id, PROVIDER_SECRET)
    assert info.value.error_name == "JobMarket_WrongPreimage"
    chain.market.reveal_consumer_secret(roles.outsider, job_id, CONSUMER_SECRET)  # anyone may relay it
    assert chain.market.job(job_id).consumer_revealed
    with pytest.raises(ContractRevert) as info:
        chain.market.claim_reveal_timeout(roles.outsider, job_id)
    assert info.value.error_name == "JobMarket_DeadlineNotReached"
    chain.increase_time(61)
    result = chain.market.claim_reveal_timeout(roles.outsider, job_id)
    assert result.status is JobStatus.DEFAULTED
    assert chain.token.balance_of(roles.consumer.address) == consumer_before + COLLATERAL


def test_silent_consumer_counts_as_zero_secret(chain: Chain, roles: Roles) -> None:
    job_id = _committed(chain, roles)
    _, until = chain.market.provider_reveal_span(job_id)
    chain.increase_time(61)  # the consumer's window passes without its reveal
    drawn = chain.market.reveal_provider_secret(roles.provider, job_id, PROVIDER_SECRET)
    assert drawn.seed == keccak(b"\0" * 32 + PROVIDER_SECRET + job_id.to_bytes(32, "big"))
    assert chain.client.timestamp() <= until


def test_fee_and_collateral_minimums(chain: Chain, roles: Roles) -> None:
    params = chain.market.params()
    low_price = params.min_fee * 10_000 // params.protocol_fee_bps - 1
    with pytest.raises(ContractRevert) as info:
        chain.market.post_job(roles.consumer, terms(chain, price=low_price))
    assert info.value.error_name == "JobMarket_FeeTooLow"
    with pytest.raises(ContractRevert) as info:
        chain.market.post_job(roles.consumer, terms(chain, collateral=params.min_collateral - 1))
    assert info.value.error_name == "JobMarket_CollateralTooLow"
