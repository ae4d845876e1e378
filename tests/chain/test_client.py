"""The chain client against a real Anvil: revert decoding, nonces under concurrency, events, permit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.artifacts import load_artifact
from node.chain.client import ChainClient
from node.chain.contract import BoundContract
from node.chain.eip712 import Eip712Domain
from node.chain.errors import ContractRevert, RpcError, TransactionFailed
from node.chain.events import EventDecoder, EventWatcher
from node.chain.revert import ErrorDecoder
from node.chain.token import TOKEN, Token

MINT = 1_000 * TOKEN


@pytest.fixture
def token(chain_snapshot: ChainClient, dev_accounts: tuple[LocalAccount, ...]) -> Token:
    """A fresh ComputeToken minting MINT to dev accounts 0..4 (inside the test's snapshot)."""
    artifact = load_artifact("ComputeToken")
    receipt = chain_snapshot.deploy(dev_accounts[0], artifact, [a.address for a in dev_accounts[:5]], MINT)
    assert receipt.contract_address is not None
    return Token(BoundContract(chain_snapshot, artifact, receipt.contract_address))


# -- revert decoding ------------------------------------------------------------------------------


def test_revert_names_custom_error_with_args(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    poor = dev_accounts[7]  # holds no tokens
    with pytest.raises(ContractRevert) as info:
        token.transfer(poor, dev_accounts[0].address, 5)
    err = info.value
    assert err.contract == "ComputeToken"
    assert err.function == "transfer"
    assert err.error_name == "ERC20InsufficientBalance"
    assert err.error_args == {"sender": poor.address, "balance": 0, "needed": 5}
    assert str(err) == (
        "ComputeToken.transfer reverted: "
        f"ERC20InsufficientBalance(sender={poor.address}, balance=0, needed=5)"
    )
    assert "\n" not in str(err)


def test_revert_of_mined_transaction_is_decoded(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    # An explicit gas limit skips the estimate, so the revert happens on chain and is replayed.
    with pytest.raises(ContractRevert) as info:
        token.contract.transact(dev_accounts[8], "transfer", dev_accounts[0].address, 1, gas=100_000)
    assert info.value.error_name == "ERC20InsufficientBalance"
    assert info.value.tx_hash is not None and info.value.tx_hash.startswith("0x")


def test_constructor_revert_is_decoded(
    chain_snapshot: ChainClient, dev_accounts: tuple[LocalAccount, ...]
) -> None:
    with pytest.raises(ContractRevert) as info:
        chain_snapshot.deploy(dev_accounts[0], load_artifact("ComputeToken"), [], 1)
    assert str(info.value) == "ComputeToken.constructor reverted: ComputeToken_NoHolders()"


def test_view_revert_is_decoded(chain_snapshot: ChainClient, dev_accounts: tuple[LocalAccount, ...]) -> None:
    artifact = load_artifact("ComputeToken")
    with pytest.raises(ContractRevert) as info:
        chain_snapshot.deploy(dev_accounts[0], artifact, [dev_accounts[0].address, "0x" + "00" * 20], 1)
    assert info.value.error_name == "ComputeToken_ZeroHolder"
    assert info.value.error_args == {"index": 1}


def test_decoder_builtin_and_unknown_errors() -> None:
    decoder = ErrorDecoder()
    error_data = keccak(text="Error(string)")[:4] + encode(["string"], ["nope"])
    assert decoder.decode(error_data) == ("Error", {"message": "nope"})
    panic = keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11])
    assert decoder.decode(panic) == ("Panic", {"code": 0x11, "reason": "arithmetic overflow"})
    assert decoder.decode(b"\xde\xad\xbe\xef\x01") == ("unknown", {"data": "0xdeadbeef01"})
    assert decoder.decode(b"") == ("empty", {})
    # A known selector with truncated arguments is named, with the raw bytes kept.
    decoder.add_abi(load_artifact("ComputeToken").abi)
    selector = keccak(text="ComputeToken_ZeroHolder(uint256)")[:4]
    assert decoder.decode(selector + b"\x01") == ("ComputeToken_ZeroHolder", {"data": "0x01"})


def test_unreachable_rpc_is_a_clear_error() -> None:
    client = ChainClient("http://127.0.0.1:9", request_timeout=2.0)
    with pytest.raises(RpcError, match="unreachable"):
        client.block_number()


# -- nonces ---------------------------------------------------------------------------------------


def test_concurrent_senders_from_one_account(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    sender, receiver = dev_accounts[1], dev_accounts[9]
    client = token.contract.client
    start_nonce = client.w3.eth.get_transaction_count(sender.address)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(4):
                token.transfer(sender, receiver.address, 1)
        except (ContractRevert, RpcError) as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert token.balance_of(receiver.address) == 24
    assert client.w3.eth.get_transaction_count(sender.address) == start_nonce + 24


def test_concurrent_senders_from_many_accounts(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    receiver = dev_accounts[9]
    senders = dev_accounts[:5]
    threads = [
        threading.Thread(target=lambda a=a: [token.transfer(a, receiver.address, 2) for _ in range(3)])
        for a in senders
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert token.balance_of(receiver.address) == 2 * 3 * len(senders)


def test_failed_send_does_not_leave_a_nonce_gap(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    sender = dev_accounts[2]
    with pytest.raises(ContractRevert):
        token.transfer(sender, dev_accounts[0].address, MINT + 1)
    token.transfer(sender, dev_accounts[9].address, 3)  # would hang on a gap under automine
    assert token.balance_of(dev_accounts[9].address) == 3


def _token_via(client: ChainClient, token: Token) -> Token:
    """The same token through another client: what a second process with the same key would hold."""
    return Token(BoundContract(client, token.contract.artifact, token.address))


def test_nonce_recovers_after_an_outside_transaction(
    token: Token, dev_accounts: tuple[LocalAccount, ...]
) -> None:
    sender = dev_accounts[3]
    client = token.contract.client
    token.transfer(sender, dev_accounts[9].address, 1)  # the manager now tracks a local nonce
    # Someone else (another process with the same key) sends a transaction behind our back; its
    # amount differs, or ours would be the very same signed bytes (one transaction, not two).
    _token_via(ChainClient(client.rpc_url), token).transfer(sender, dev_accounts[9].address, 10)
    start = client.w3.eth.get_transaction_count(sender.address)
    token.transfer(sender, dev_accounts[9].address, 1)  # "nonce too low", resynced, signed again
    assert token.balance_of(dev_accounts[9].address) == 12
    assert client.w3.eth.get_transaction_count(sender.address) == start + 1  # sent once, not twice


def test_two_clients_interleave_on_one_account(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    """Two ChainClient objects (two processes) send alternately, then at once, from one account."""
    sender, receiver = dev_accounts[4], dev_accounts[9]
    client = token.contract.client
    ours, theirs = token, _token_via(ChainClient(client.rpc_url), token)
    start = client.w3.eth.get_transaction_count(sender.address)
    # Amounts differ per client: two byte-identical transactions would be one transaction.
    amount = {id(ours): 1, id(theirs): 100}
    for i in range(6):  # strictly alternating: every send after the first finds a stale counter
        via = ours if i % 2 == 0 else theirs
        via.transfer(sender, receiver.address, amount[id(via)])
    errors: list[BaseException] = []

    def worker(t: Token) -> None:
        try:
            for _ in range(5):
                t.transfer(sender, receiver.address, amount[id(t)])
        except (ContractRevert, RpcError) as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in (ours, theirs, ours, theirs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert token.balance_of(receiver.address) == 3 * 1 + 3 * 100 + 10 * 1 + 10 * 100
    assert client.w3.eth.get_transaction_count(sender.address) == start + 26  # no tx lost or doubled


class _Manual:
    """Automine off inside the test (the snapshot does not restore it): transactions wait in the pool."""

    def __init__(self, client: ChainClient) -> None:
        self.client = client

    def __enter__(self) -> _Manual:
        self.client.raw("evm_setAutomine", [False])
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.raw("evm_setAutomine", [True])

    def wait_pending(self, address: str, count: int) -> None:
        deadline = time.monotonic() + 30
        while self.client.w3.eth.get_transaction_count(address, "pending") < count:  # type: ignore[arg-type]
            assert time.monotonic() < deadline, f"pending count of {address} never reached {count}"
            time.sleep(0.02)


def _in_thread(errors: list[BaseException], fn: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        try:
            fn()
        except (ContractRevert, RpcError, TransactionFailed) as exc:  # collected and asserted
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_nonce_taken_by_a_pending_transaction_is_resent(
    token: Token, dev_accounts: tuple[LocalAccount, ...]
) -> None:
    """'replacement transaction underpriced': the other process's transaction still waits in the pool."""
    sender, receiver = dev_accounts[2], dev_accounts[9]
    client = token.contract.client
    theirs = _token_via(ChainClient(client.rpc_url), token)
    start = client.w3.eth.get_transaction_count(sender.address)
    errors: list[BaseException] = []
    with _Manual(client) as manual:
        threads = [_in_thread(errors, lambda: token.transfer(sender, receiver.address, 1))]  # nonce start
        manual.wait_pending(sender.address, start + 1)
        threads.append(_in_thread(errors, lambda: theirs.transfer(sender, receiver.address, 2)))  # start+1
        manual.wait_pending(sender.address, start + 2)
        # Our counter says start+1, which the other client's pending transaction holds.
        threads.append(_in_thread(errors, lambda: token.transfer(sender, receiver.address, 4)))
        manual.wait_pending(sender.address, start + 3)
        client.raw("evm_mine", [])
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert token.balance_of(receiver.address) == 7
    assert client.w3.eth.get_transaction_count(sender.address) == start + 3


def test_replaced_transaction_is_signed_again(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    """Another sender replaces our pending transaction with a better-paying one at the same nonce:
    ours can never be mined, so it is signed again with the next nonce (and sent exactly once more)."""
    sender, receiver = dev_accounts[1], dev_accounts[9]
    client = token.contract.client
    w3 = client.w3
    start = w3.eth.get_transaction_count(sender.address)
    errors: list[BaseException] = []
    with _Manual(client) as manual:
        ours = _in_thread(errors, lambda: token.transfer(sender, receiver.address, 5))
        manual.wait_pending(sender.address, start + 1)
        pending: list[Any] = list(w3.eth.get_block("pending", full_transactions=True)["transactions"])
        fee = max(int(tx["maxFeePerGas"]) for tx in pending)
        replacement = sender.sign_transaction(
            {
                "to": receiver.address, "value": 1, "nonce": start, "gas": 21_000, "type": 2,
                "maxFeePerGas": 3 * fee, "maxPriorityFeePerGas": 3 * fee, "chainId": client.chain_id,
            }
        )  # fmt: skip
        w3.eth.send_raw_transaction(replacement.raw_transaction)
        client.raw("evm_mine", [])  # mines the replacement; ours is gone from the pool
        manual.wait_pending(sender.address, start + 2)  # ours, signed again with nonce start+1
        client.raw("evm_mine", [])
        ours.join(timeout=30)
    assert errors == []
    assert token.balance_of(receiver.address) == 5
    assert w3.eth.get_transaction_count(sender.address) == start + 2


# -- events ---------------------------------------------------------------------------------------


def test_event_watcher_respects_confirmations(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    client = token.contract.client
    start = client.block_number() + 1
    watcher = EventWatcher(
        client, EventDecoder({token.address: token.contract.artifact}), next_block=start, confirmations=2
    )
    token.transfer(dev_accounts[0], dev_accounts[9].address, 7)
    assert watcher.poll() == []  # mined, but not yet 2 blocks deep
    client.raw("anvil_mine", ["0x2"])
    events = watcher.poll()
    assert [(e.contract, e.name) for e in events] == [("ComputeToken", "Transfer")]
    assert events[0].args == {"from": dev_accounts[0].address, "to": dev_accounts[9].address, "value": 7}
    assert watcher.poll() == []  # nothing is reported twice


def test_event_watcher_reads_ranges_in_chunks(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    client = token.contract.client
    start = client.block_number() + 1
    for n in range(5):
        token.transfer(dev_accounts[0], dev_accounts[9].address, n + 1)
    watcher = EventWatcher(
        client, EventDecoder({token.address: token.contract.artifact}), next_block=start, max_range=2
    )
    values = [e.args["value"] for e in watcher.poll()]
    assert values == [1, 2, 3, 4, 5]
    assert watcher.next_block == client.block_number() + 1


# -- permit ---------------------------------------------------------------------------------------


def test_permit_signed_in_python_sets_allowance(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    owner, spender = dev_accounts[1], dev_accounts[6]
    deadline = token.contract.client.timestamp() + 3600
    permit = token.sign_permit(owner, spender.address, 50, deadline=deadline)
    token.permit(spender, permit)  # anyone may submit it
    assert token.allowance(owner.address, spender.address) == 50
    assert token.nonce_of(owner.address) == 1
    with pytest.raises(ContractRevert) as info:  # replay
        token.permit(spender, permit)
    assert info.value.error_name == "ERC2612InvalidSigner"


def test_permit_for_wrong_chain_is_rejected(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    owner, spender = dev_accounts[1], dev_accounts[6]
    real = token.domain()
    token._domain = Eip712Domain(real.name, real.version, real.chain_id + 1, real.verifying_contract)
    permit = token.sign_permit(owner, spender.address, 50, deadline=token.contract.client.timestamp() + 3600)
    with pytest.raises(ContractRevert) as info:
        token.permit(spender, permit)
    assert info.value.error_name == "ERC2612InvalidSigner"
    assert token.allowance(owner.address, spender.address) == 0


def test_expired_permit_is_rejected(token: Token, dev_accounts: tuple[LocalAccount, ...]) -> None:
    owner, spender = dev_accounts[1], dev_accounts[6]
    permit = token.sign_permit(owner, spender.address, 50, deadline=token.contract.client.timestamp() - 1)
    with pytest.raises(ContractRevert) as info:
        token.permit(spender, permit)
    assert info.value.error_name == "ERC2612ExpiredSignature"
