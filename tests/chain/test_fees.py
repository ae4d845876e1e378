"""EIP-1559 fees: the configured cap holds; a transaction stuck below the base fee is replaced with a
higher fee after ``replace_after_blocks`` blocks and mined once; a revert is the same named error
whether the node mines it (Anvil) or refuses it at send (Hardhat: tests/chain/test_hardhat.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount

from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.contract import BoundContract
from node.chain.deploy import DeployParams, deploy_all
from node.chain.errors import ContractRevert

GWEI = 10**9


@pytest.fixture
def accounts() -> tuple[LocalAccount, ...]:
    return tuple(a.account for a in devnet_accounts(devnet=True))


@pytest.fixture
def anvil() -> Iterator[AnvilProcess]:
    with AnvilProcess() as process:
        yield process


def test_fee_cap_bounds_the_max_fee(anvil: AnvilProcess, accounts: tuple[LocalAccount, ...]) -> None:
    pending = ChainClient(anvil.rpc_url).block("latest")
    assert pending is not None
    cap = pending.base_fee + 1  # enough for the next block, well under 2 x base + tip
    client = ChainClient(anvil.rpc_url, max_fee_per_gas=cap)
    receipt = client.send(accounts[1], "eth", "transfer", to=accounts[2].address, data="0x", value=1)  # type: ignore[arg-type]
    tx = client.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
    assert tx["maxFeePerGas"] == cap and tx["maxPriorityFeePerGas"] <= cap


def test_stuck_transaction_is_replaced_with_a_higher_fee(
    anvil: AnvilProcess, accounts: tuple[LocalAccount, ...]
) -> None:
    miner = ChainClient(anvil.rpc_url)
    miner.raw("evm_setAutomine", [False])
    client = ChainClient(anvil.rpc_url, replace_after_blocks=2)
    result: list[object] = []

    def send() -> None:
        try:
            result.append(
                client.send(accounts[1], "eth", "transfer", to=accounts[2].address, data="0x", value=5)  # type: ignore[arg-type]
            )
        except Exception as exc:  # noqa: BLE001 - handed to the test thread, which re-raises it
            result.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while miner.w3.eth.get_transaction_count(accounts[1].address, "pending") == 0:
            time.sleep(0.02)  # until the transaction is in the pool
        # the base fee jumps above what the transaction offers: it cannot be mined as sent
        miner.raw("anvil_setNextBlockBaseFeePerGas", [hex(100 * GWEI)])
        while sender.is_alive():
            miner.raw("evm_mine", [])
            time.sleep(0.3)
    finally:
        sender.join(timeout=60)
        miner.raw("evm_setAutomine", [True])
    (receipt,) = result
    assert not isinstance(receipt, Exception), receipt
    assert client.requests["eth_sendRawTransaction"] >= 2  # the original, then its replacement
    mined = client.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[attr-defined]
    assert mined["nonce"] == 0 and mined["maxFeePerGas"] > 100 * GWEI
    assert client.w3.eth.get_transaction_count(accounts[1].address) == 1  # mined once


def test_revert_mined_by_anvil_is_the_named_error(
    anvil: AnvilProcess, accounts: tuple[LocalAccount, ...]
) -> None:
    assert _overdraw(anvil.rpc_url, accounts) == "ERC20InsufficientBalance"


def _overdraw(rpc_url: str, accounts: tuple[LocalAccount, ...]) -> str:
    """Send a transfer beyond the balance with a fixed gas (no estimate to catch it first)."""
    client = ChainClient(rpc_url)
    holders = [accounts[1].address]
    deployment = deploy_all(client, accounts[0], holders=holders, params=DeployParams(), devnet=True)
    chain = Chain.connect(deployment)
    token: BoundContract = chain.token.contract
    balance = chain.token.balance_of(accounts[1].address)
    with pytest.raises(ContractRevert) as info:
        token.transact(accounts[1], "transfer", accounts[2].address, balance + 1, gas=100_000)
    assert info.value.error_args["needed"] == balance + 1
    return info.value.error_name
