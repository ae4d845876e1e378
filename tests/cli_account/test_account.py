"""``ccm account``, ``ccm stake``, ``ccm token`` against the session's real Anvil.

Jobs are played through the chain client (as the chain tests do), then the commands run in process
(``node.cli.main``) on a node home holding the deployment, and every figure is checked against the
chain: the ledger's wallet changes add up to the token balance, settled earnings and slashes equal
the balance changes the jobs made, and each refusal names the contract's error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.cli import main
from node.query.account import account_view
from tests.chain.helpers import COLLATERAL, PRICE, STAKE, Roles, commit, draw, register_roles, terms
from tests.roles.conftest import Nodes

ROOT = keccak(b"root")


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return register_roles(chain, dev_accounts)


def _ccm(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _account_json(capsys: pytest.CaptureFixture[str], home: Path, index: int) -> dict[str, object]:
    code, out, err = _ccm(capsys, "account", "--home", str(home), "--account-index", str(index), "--json")
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def _play_jobs(chain: Chain, roles: Roles) -> tuple[int, int]:
    """One honest job (paid) and one failed job (slashed after the contest window); their ids."""
    market = chain.market
    honest = market.post_job(roles.consumer, terms(chain, spec=b"honest"))
    market.accept_job(roles.provider, honest)
    commit(chain, roles, honest, ROOT, 8)
    market.attest(roles.by_address(draw(chain, roles, honest).verifier), honest, passed=True)
    cheat = market.post_job(roles.consumer, terms(chain, spec=b"cheat"))
    market.accept_job(roles.provider, cheat)
    commit(chain, roles, cheat, ROOT, 8)
    market.attest(
        roles.by_address(draw(chain, roles, cheat).verifier), cheat, passed=False, evidence_hash=keccak(b"e")
    )
    chain.increase_time(market.params().contest_window + 1)
    market.finalize_fail(roles.outsider, cheat)
    return honest, cheat


def test_account_figures_match_the_chain(
    chain: Chain, roles: Roles, nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    home = nodes.home("acct")
    token = chain.token
    everyone = (roles.consumer, roles.provider, *roles.verifiers)
    before = {a.address: token.balance_of(a.address) for a in everyone}
    _play_jobs(chain, roles)
    fee = PRICE * chain.market.params().protocol_fee_bps // 10_000

    provider = _account_json(capsys, home, 2)
    assert provider["address"] == roles.provider.address
    assert provider["token_balance"] == str(token.balance_of(roles.provider.address))
    assert provider["active_stake"] == str(STAKE) and provider["roles"] == ["provider"]
    assert provider["totals"] == {"earned": str(PRICE - fee), "slashed": str(COLLATERAL), "fees": str(fee)}
    ledger = provider["ledger"]
    assert isinstance(ledger, list)
    # Every token the account ever held or moved is a line: the wallet changes add up to the balance.
    assert sum(int(e["delta"]) for e in ledger) == token.balance_of(roles.provider.address)
    kinds = [e["kind"] for e in ledger]
    assert kinds.count("collateral") == 2 and kinds.count("payment") == 1 and "stake" in kinds

    for verifier in roles.verifiers:
        index = 3 + roles.verifiers.index(verifier)
        doc = _account_json(capsys, home, index)
        gained = token.balance_of(verifier.address) - before[verifier.address]
        assert int(doc["totals"]["earned"]) == gained  # type: ignore[index]
        assert sum(int(e["delta"]) for e in doc["ledger"]) == token.balance_of(verifier.address)  # type: ignore[attr-defined]

    consumer = _account_json(capsys, home, 1)
    refund_beyond_price = token.balance_of(roles.consumer.address) - before[roles.consumer.address] + PRICE
    assert int(consumer["totals"]["earned"]) == refund_beyond_price > 0  # type: ignore[index]

    code, out, _ = _ccm(capsys, "account", "--home", str(home), "--account-index", "2")
    assert code == 0
    assert f"earned {(PRICE - fee) // 10**18}, slashed {COLLATERAL // 10**18}" in out.replace(".0", "")
    assert roles.provider.address in out


def test_account_view_daily_totals_add_up(chain: Chain, roles: Roles) -> None:
    _play_jobs(chain, roles)
    view = account_view(chain, roles.provider.address)
    assert sum(d.earned for d in view.days) == view.totals.earned > 0
    assert sum(d.slashed for d in view.days) == view.totals.slashed > 0


def test_stake_unbond_withdraw_and_each_refusal(
    chain: Chain, nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(nodes.home("staker"))
    who = ("--home", home, "--account-index", "9")

    code, _, err = _ccm(capsys, "stake", "withdraw", *who)
    assert code == 1 and "refused: StakingRegistry_NothingToWithdraw()" in err
    code, _, err = _ccm(capsys, "stake", "unbond", "1", *who)
    assert code == 1 and "StakingRegistry_InsufficientStake(" in err and "only 0 tokens" in err

    code, out, err = _ccm(capsys, "stake", "add", "150.5", *who, "--json")
    assert code == 0, err
    added = json.loads(out)
    assert added["active_stake"] == str(150_500_000_000_000_000_000)
    code, out, err = _ccm(capsys, "stake", "unbond", "50", *who, "--json")
    assert code == 0, err
    unbonding = json.loads(out)
    assert unbonding["unbonding"] == str(50 * 10**18) and unbonding["active_stake"] == str(100_500 * 10**15)

    code, _, err = _ccm(capsys, "stake", "withdraw", *who)
    assert code == 1 and "refused: StakingRegistry_StillBonded(unbondAt=" in err
    assert f"unbondAt={unbonding['unbond_at']}" in err and "the stake unbonds at" in err

    doc = _account_json(capsys, Path(home), 9)
    assert doc["withdrawable"] == "0" and doc["withdraw_blocked_by"].startswith("unbonding until")  # type: ignore[union-attr]

    chain.increase_time(chain.registry.params().unbond_delay + 1)
    doc = _account_json(capsys, Path(home), 9)
    assert doc["withdrawable"] == str(50 * 10**18) and doc["withdraw_blocked_by"] == ""
    code, out, err = _ccm(capsys, "stake", "withdraw", *who, "--json")
    assert code == 0, err
    assert json.loads(out)["amount"] == str(50 * 10**18)
    assert chain.registry.staker(added["address"]).unbonding == 0
    code, _, err = _ccm(capsys, "stake", "unbond", "0", *who)
    assert code == 1 and "StakingRegistry_ZeroAmount()" in err


def test_withdraw_refused_while_a_duty_is_open(
    chain: Chain, roles: Roles, nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    market = chain.market
    job = market.post_job(roles.consumer, terms(chain))
    market.accept_job(roles.provider, job)
    commit(chain, roles, job, ROOT, 8)
    drawn = draw(chain, roles, job).verifier
    index = 3 + [v.address for v in roles.verifiers].index(drawn)
    home = str(nodes.home("drawn"))
    who = ("--home", home, "--account-index", str(index))
    assert _ccm(capsys, "stake", "unbond", "10", *who)[0] == 0
    chain.increase_time(chain.registry.params().unbond_delay + 1)
    code, _, err = _ccm(capsys, "stake", "withdraw", *who)
    assert code == 1 and "refused: StakingRegistry_OpenDuties(openDuties=1)" in err
    assert _account_json(capsys, Path(home), index)["duties"] == 1


def test_token_transfer_and_its_refusals(
    chain: Chain, nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(nodes.home("payer"))
    who = ("--home", home, "--account-index", "9")
    to = "0x" + "ab" * 20
    code, out, err = _ccm(capsys, "token", "transfer", to, "2.25", *who, "--json")
    assert code == 0, err
    sent = json.loads(out)
    assert sent["amount"] == str(2_250_000_000_000_000_000)
    assert chain.token.balance_of(to) == 2_250_000_000_000_000_000
    assert sent["balance"] == str(chain.token.balance_of(sent["from"]))

    code, _, err = _ccm(capsys, "token", "transfer", "0x1234", "1", *who)
    assert code == 1 and "TO: not an Ethereum address" in err
    code, _, err = _ccm(capsys, "token", "transfer", to, "1000000000", *who)
    assert code == 1 and "refused: ERC20InsufficientBalance(" in err and "tokens needed" in err
    code, _, err = _ccm(capsys, "token", "transfer", "0x" + "00" * 20, "1", *who)
    assert code == 1 and "refused: ERC20InvalidReceiver(" in err
    code, _, err = _ccm(capsys, "token", "transfer", to, "0.0000000000000000001", *who)
    assert code == 1 and "more than 18 decimals" in err

    doc = _account_json(capsys, Path(home), 9)
    outgoing = [e for e in doc["ledger"] if e["kind"] == "transfer out"]  # type: ignore[union-attr]
    assert [(e["amount"], e["counterparty"]) for e in outgoing] == [
        (str(2_250_000_000_000_000_000), chain.client.w3.to_checksum_address(to))
    ]


def test_capacity_bonds_are_ledger_lines(chain: Chain, roles: Roles) -> None:
    from node.claims.capacity import devnet_verify

    verifier = roles.verifiers[0]
    devnet_verify(
        chain, verifier, provider=roles.provider.address, gpu_class="H100", gpus=2, gflops_per_gpu=50_000
    )
    view = account_view(chain, verifier.address)
    kinds = [e.kind for e in view.ledger]
    assert "capacity bond" in kinds and "capacity payout" in kinds
    assert sum(e.delta for e in view.ledger) == chain.token.balance_of(verifier.address)
