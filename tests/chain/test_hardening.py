"""The two hardening rules seen from Python on a real Anvil.

* A ``drawAudit`` later than ``drawWindowBlocks`` after the commit block is audited for certain, even
  with audit probability 0 (a fresh deployment with ``audit_probability_bps=0``).
* A verifier drawn for an audit has an open duty in the registry: it may request an unbond, but
  ``withdraw`` is refused with ``StakingRegistry_OpenDuties`` until the job ends.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.deploy import DeployParams, deploy_all
from node.chain.errors import ContractRevert
from node.chain.market import JobStatus
from node.chain.token import TOKEN
from tests.chain.helpers import Roles, register_roles, terms

ROOT = keccak(b"root")
EVIDENCE = keccak(b"evidence")


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return register_roles(chain, dev_accounts)


@pytest.fixture
def never_audited(chain_snapshot: ChainClient, dev_accounts: tuple[LocalAccount, ...]) -> Chain:
    """A fresh deployment (inside the test's snapshot) whose prompt draws are never audited."""
    deployment = deploy_all(
        chain_snapshot,
        dev_accounts[0],
        holders=[a.address for a in dev_accounts],
        params=DeployParams(audit_probability_bps=0, draw_window_blocks=2),
        devnet=True,
    )
    return Chain.connect(deployment, client=chain_snapshot)


def _committed(chain: Chain, roles: Roles) -> int:
    job_id = chain.market.post_job(roles.consumer, terms(chain))
    chain.market.accept_job(roles.provider, job_id)
    chain.market.commit_result(roles.provider, job_id, ROOT, 8)
    return job_id


def test_params_carry_the_draw_window(chain: Chain) -> None:
    assert chain.market.params().draw_window_blocks == DeployParams().draw_window_blocks == 1


def test_prompt_draw_rolls_and_late_draw_is_audited(
    never_audited: Chain, dev_accounts: tuple[LocalAccount, ...]
) -> None:
    chain = never_audited
    roles = register_roles(chain, dev_accounts)
    prompt = _committed(chain, roles)
    chain.mine(1)  # the draw lands 2 blocks after the commit: still inside the window
    draw = chain.market.draw_audit(roles.outsider, prompt)
    assert not draw.audited and draw.status is JobStatus.COMPLETED
    late = _committed(chain, roles)
    chain.mine(2)  # 3 blocks after the commit: past the window
    draw = chain.market.draw_audit(roles.outsider, late)
    assert draw.audited and draw.status is JobStatus.AUDITING
    assert draw.verifier in {v.address for v in roles.verifiers}
    assert chain.market.job(late).seed == draw.seed != b"\0" * 32


def test_drawn_verifier_cannot_withdraw_until_its_job_ends(chain: Chain, roles: Roles) -> None:
    job_id = _committed(chain, roles)
    verifier = roles.by_address(chain.market.draw_audit(roles.outsider, job_id).verifier)
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
