"""Audits no party can steer, seen from Python on a real Anvil.

* The audit draw follows from the two revealed secrets only: the same secrets give the same seed and
  the same auditor whichever block the provider reveals in (no late-draw option), and stake that a
  Sybil adds after the commitment (when the seed may be known) changes nothing, because the draw
  weighs the stakes of the block before the commitment.
* A verifier drawn for an audit has an open duty in the registry: it may request an unbond, but
  ``withdraw`` is refused with ``StakingRegistry_OpenDuties`` until the job ends.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.errors import ContractRevert
from node.chain.market import JobStatus
from node.chain.registry import Role
from node.chain.token import TOKEN
from tests.chain.helpers import Roles, commit, draw, register_roles, terms

ROOT = keccak(b"root")
EVIDENCE = keccak(b"evidence")


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return register_roles(chain, dev_accounts)


def _committed(chain: Chain, roles: Roles) -> int:
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    commit(chain, roles, job_id, ROOT, 8)
    return job_id


def test_reveal_timing_and_later_stake_do_not_change_the_draw(chain: Chain, roles: Roles) -> None:
    job_id = _committed(chain, roles)
    snapshot = chain.snapshot()
    prompt = draw(chain, roles, job_id)
    chain.revert(snapshot)
    # The outsider stakes 100x every verifier's stake after the commitment, and the reveal waits 5 blocks.
    chain.registry.stake_and_register(roles.outsider, 100 * 200 * TOKEN, Role.VERIFIER, b"sybil", b"\0" * 32)
    chain.mine(5)
    late = draw(chain, roles, job_id)
    assert (late.seed, late.verifier, late.audited) == (prompt.seed, prompt.verifier, prompt.audited)
    assert late.verifier != roles.outsider.address


def test_drawn_verifier_cannot_withdraw_until_its_job_ends(chain: Chain, roles: Roles) -> None:
    job_id = _committed(chain, roles)
    verifier = roles.by_address(draw(chain, roles, job_id).verifier)
    assert chain.registry.duties_of(verifier.address) == 1
    chain.registry.request_unbond(verifier, 1 * TOKEN)
    chain.market.attest(verifier, job_id, passed=False, evidence_hash=EVIDENCE)
    chain.increase_time(chain.registry.params().unbond_delay + 1)
    with pytest.raises(ContractRevert) as info:
        chain.registry.withdraw(verifier)
    assert info.value.error_name == "StakingRegistry_OpenDuties"
    assert info.value.error_args["openDuties"] == 1
    assert chain.market.finalize_fail(roles.outsider, job_id).status is JobStatus.SLASHED
    assert chain.registry.duties_of(verifier.address) == 0
    before = chain.token.balance_of(verifier.address)
    chain.registry.withdraw(verifier)
    assert chain.token.balance_of(verifier.address) == before + 1 * TOKEN
