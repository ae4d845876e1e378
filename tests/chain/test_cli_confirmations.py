"""CLI answers that depend on transactions say how many confirmations they saw, wait for
``--confirmations N`` / ``[chain] confirmations``, and never report what a reorg took back.

Real Anvil: the session chain for the field itself; a chain of its own (``anvil_reorg``, blocks
mined by hand) for the waits and the dropped fill, with the command running as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.chain.accounts import devnet_accounts
from node.chain.chain import Chain
from node.chain.confirm import wait_receipts
from node.chain.deployment import DEPLOYMENT_FILE
from node.chain.errors import TxDropped
from node.chain.token import TOKEN
from node.claims import market
from node.claims.book import OrderBook, live_orders
from node.claims.capacity import devnet_verify
from node.cli import main
from node.demo.procs import ccm_argv
from node.store import Store
from tests.chain.helpers import register_roles
from tests.cli import ccm_json
from tests.roles.conftest import Nodes

ROOT = Path(__file__).resolve().parents[2]
RECIPIENT = "0x000000000000000000000000000000000000bEEF"


def test_transaction_answers_carry_their_confirmations(
    chain: Chain, nodes: Nodes, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(nodes.home("sender"))
    who = ("--home", home, "--account-index", "9")
    sent = ccm_json(capsys, None, "token", "transfer", RECIPIENT, "1", *who)
    assert sent["confirmations"] == 1  # [chain] confirmations defaults to 1: on inclusion
    assert chain.token.balance_of(RECIPIENT) == TOKEN
    staked = ccm_json(capsys, None, "stake", "add", "10", *who)
    assert staked["confirmations"] == 1 and staked["active_stake"] == str(10 * TOKEN)
    assert main(["token", "transfer", RECIPIENT, "1", *who]) == 0
    out = capsys.readouterr().out
    assert "(1 confirmation)" in out.splitlines()[0]


def _mine(chain: Chain, blocks: int = 1) -> None:
    for _ in range(blocks):
        chain.client.raw("evm_mine", [])


def _home(root: Path, chain: Chain, name: str, config: str = "") -> Path:
    home = root / name
    home.mkdir()
    chain.deployment.save(home / DEPLOYMENT_FILE)
    if config:
        (home / "config.toml").write_text(config)
    return home


def _spawn(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CCM_HOME", None)
    return subprocess.Popen(
        ccm_argv(sys.executable, *argv),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _until(check: object, proc: subprocess.Popen[str], *, timeout: float = 60.0) -> None:
    """Wait for ``check()`` while ``proc`` runs (its stderr in the failure)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(f"exited early with {proc.returncode}: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_answer_waits_for_the_confirmations_asked(own_chain: Chain, tmp_path: Path) -> None:
    chain = own_chain
    for name, flag, config in (
        ("flag", ("--confirmations", "3"), ""),
        ("config", (), "[chain]\nconfirmations = 3\n"),
    ):
        home = _home(tmp_path, chain, name, config)
        before = chain.token.balance_of(RECIPIENT)
        proc = _spawn("token", "transfer", RECIPIENT, "1", "--home", str(home), "--account-index", "9", *flag)
        _until(lambda b=before: chain.token.balance_of(RECIPIENT) > b, proc)  # mined: 1 confirmation
        _mine(chain)
        assert proc.poll() is None  # 2 of 3: still waiting
        _mine(chain)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "(3 confirmations)" in out, out


def test_a_fill_dropped_by_a_reorg_is_not_reported(own_chain: Chain, tmp_path: Path) -> None:
    chain, accounts = own_chain, tuple(a.account for a in devnet_accounts(devnet=True))
    roles = register_roles(chain, accounts, verifiers=1)
    devnet_verify(
        chain,
        roles.verifiers[0],
        provider=roles.provider.address,
        gpu_class="H100",
        gpus=4,
        gflops_per_gpu=60_000,
    )
    home = _home(tmp_path, chain, "buyer")
    store = Store.open(home)
    try:
        now = chain.client.timestamp()
        created = market.create_series(
            chain,
            OrderBook(store),
            roles.provider,
            gpu_class="H100",
            window_start=now + 3600,
            window_end=now + 7200,
            supply=4,
        )
    finally:
        store.close()
    sid, buyer = created.series_id, roles.consumer.address
    tokens_before = chain.token.balance_of(buyer)
    proc = _spawn(
        "claims", "buy", str(sid), "--amount", "3", "--home", str(home), "--account-index", "1",
        "--confirmations", "2", "--json",
    )  # fmt: skip
    _until(lambda: chain.claims.balance_of(buyer, sid) == 3, proc)  # the fill is in the head block
    chain.client.raw("anvil_reorg", [1, []])  # ... and a reorg takes that block back
    _mine(chain, 2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and out == "", (out, err)
    assert "dropped by a reorg" in err and "Traceback" not in err, err
    # The chain and the buyer's node agree: nothing bought, nothing paid, the order whole again.
    assert chain.claims.balance_of(buyer, sid) == 0
    assert chain.token.balance_of(buyer) == tokens_before
    store = Store.open(home)
    try:
        (order,) = live_orders(OrderBook(store), chain, series_id=sid)
        assert order.remaining == 4
    finally:
        store.close()
    # No token is stuck: the same order fills once more, for real this time.
    again = _spawn(
        "claims", "buy", str(sid), "--amount", "3", "--home", str(home), "--account-index", "1", "--json"
    )
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    doc = json.loads(out)
    assert (doc["bought"], doc["balance"], doc["confirmations"]) == (3, 3, 1)
    assert chain.token.balance_of(buyer) == tokens_before - int(str(doc["paid"]))


def test_a_transaction_a_reorg_moved_is_followed_unless_it_reverted_there(own_chain: Chain) -> None:
    chain = own_chain
    accounts = tuple(a.account for a in devnet_accounts(devnet=True))
    owner, spender = accounts[9], accounts[8]
    token, client = chain.token, chain.client
    token.approve(owner, spender.address, 2**255)
    balance = token.balance_of(owner.address)

    # Moved: the same signed transfer, one block later on the new branch; its new block counts.
    moved = token.transfer(owner, RECIPIENT, 1)
    raw = client.raw("eth_getRawTransactionByHash", [moved.tx_hash])
    _mine(chain)
    client.raw("anvil_reorg", [2, [[raw, 1]]])  # its block and the next, replaced: it is in the second
    assert client.receipt(moved.tx_hash).block_number == moved.block_number + 1  # type: ignore[union-attr]
    _mine(chain)
    assert wait_receipts(client, [moved], confirmations=2, block_time_s=0) == 2

    # Reverted: on the new branch the spender drains the owner first; the transfer fails there.
    sent = token.transfer(owner, RECIPIENT, balance - 1)
    raw = client.raw("eth_getRawTransactionByHash", [sent.tx_hash])
    drain = spender.sign_transaction(
        {
            "to": token.address,
            "data": token.contract.encode("transferFrom", owner.address, spender.address, balance - 1),
            "nonce": client.w3.eth.get_transaction_count(spender.address),
            "gas": 100_000,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "chainId": client.chain_id,
            "type": 2,
        }
    )
    client.raw("anvil_reorg", [1, [["0x" + bytes(drain.raw_transaction).hex(), 0], [raw, 0]]])
    assert token.balance_of(RECIPIENT) == 1  # the big transfer is not on the chain any more
    with pytest.raises(TxDropped, match="reverted there"):
        wait_receipts(client, [sent], confirmations=1, block_time_s=0)
