"""The synchronous chain client: one web3 ``HTTPProvider`` per endpoint, signing, nonces, reverts.

Why synchronous: the node runs on trio and web3's async provider is asyncio-only (it fails under
``trio.run``). Everything here blocks; trio code goes through :mod:`node.chain.aio`, which runs these
calls in worker threads. That choice lives in those two modules only.

Transactions are signed locally with eth-account (the RPC never sees a key). Each send estimates
gas first, which surfaces a revert before anything is signed; a transaction that is mined and still
fails is replayed with ``eth_call`` at its block to recover the revert data. Every revert becomes a
:class:`~node.chain.errors.ContractRevert` naming the custom error.

Nonces: a lock and a locally tracked next nonce per sender, so many threads can send from one
account; after any send error the nonce is resynced from the ``pending`` count. Another *process*
signing with the same key (a ``ccm claims`` command beside a running daemon) makes the local
counter stale: the node answers "nonce too low" or "replacement transaction underpriced". Those two
answers (and only those) are recovered from: first the signed transaction's own hash is looked up
(a retried request whose first try did land must not be sent twice), then the nonce is resynced
from ``pending`` (after a short random pause, so two colliding senders do not collide again) and
the transaction signed again, at most :data:`NONCE_RETRIES` times. A
transaction that vanishes from the node while its nonce is taken by another is signed again the
same way; one that may still be mined never is. (Two senders signing byte-identical
transactions, same nonce and fees, make one transaction: the chain cannot tell them apart.)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception, Web3RPCError
from web3.types import Nonce, TxParams, TxReceipt

from node.chain.artifacts import Artifact
from node.chain.errors import ChainIdMismatch, ContractRevert, RpcError, TransactionFailed
from node.chain.revert import ErrorDecoder, revert_data

T = TypeVar("T")

#: Headroom over ``eth_estimateGas``: state can move a little between estimate and inclusion.
GAS_MARGIN_NUM, GAS_MARGIN_DEN = 5, 4

#: How many times one send is signed again after another sender took its nonce. Each conflict means
#: the other sender's transaction got in, so a handful covers even a busy second process.
NONCE_RETRIES = 8

#: Upper bound of the random pause (seconds) before the n-th retry after a conflict, times n.
CONFLICT_BACKOFF_S = 0.02

#: Node answers (lower case, as geth, anvil and reth word them) meaning "this nonce is taken".
NONCE_TAKEN = ("nonce too low", "replacement transaction underpriced")

#: Node answers meaning "this very transaction is already in the pool": the send did happen.
ALREADY_KNOWN = ("already known", "already imported")

#: While waiting for a receipt, how often (seconds) to ask whether the transaction is still known.
DROP_CHECK_INTERVAL = 1.0


class NonceConflict(RpcError):
    """Another sender used this account's nonce (another process with the same key).

    Raised inside :meth:`NonceManager.send` to make it resync and sign again; it reaches a caller
    only after :data:`NONCE_RETRIES` conflicts in a row. ``nonce`` is the one that was taken.
    """

    def __init__(self, message: str, *, address: str, nonce: int) -> None:
        self.address = address
        self.nonce = nonce
        super().__init__(message)


def _answer_is(exc: RpcError, phrases: tuple[str, ...]) -> bool:
    text = str(exc).lower()
    return any(p in text for p in phrases)


@dataclass(frozen=True)
class Receipt:
    """What a caller needs from a mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    contract_address: ChecksumAddress | None
    logs: tuple[Any, ...]


class NonceManager:
    """Hands out consecutive nonces per account, safe across threads.

    ``reserve(address)`` is a context manager: inside it the account's lock is held and the nonce is
    fixed; leaving it normally advances the local counter, leaving with an error resyncs from the
    node's ``pending`` transaction count (so a failed send never leaves a gap).
    """

    def __init__(self, fetch_pending: Callable[[ChecksumAddress], int]) -> None:
        self._fetch = fetch_pending
        self._guard = threading.Lock()
        self._locks: dict[ChecksumAddress, threading.Lock] = {}
        self._next: dict[ChecksumAddress, int] = {}

    def _lock(self, address: ChecksumAddress) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def reset(self, address: ChecksumAddress | None = None) -> None:
        """Forget the local counter(s); the next send asks the node (after a snapshot revert)."""
        with self._guard:
            if address is None:
                self._next.clear()
            else:
                self._next.pop(address, None)

    def send(
        self, address: ChecksumAddress, submit: Callable[[int], T], *, retries: int = NONCE_RETRIES
    ) -> T:
        """Call ``submit(nonce)`` under the account's lock; advance on success, resync on error.

        ``submit`` raises :class:`NonceConflict` when the node says the nonce is taken (by another
        process); then the nonce is fetched again from ``pending`` and ``submit`` called again, up
        to ``retries`` more times. Any other error is raised at once (after the resync).
        """
        with self._lock(address):
            for attempt in range(retries + 1):
                nonce = self._next.get(address)
                if nonce is None:
                    nonce = self._fetch(address)
                try:
                    result = submit(nonce)
                except NonceConflict:
                    self._next.pop(address, None)
                    if attempt == retries:
                        raise
                    # Two senders that keep fetching the same nonce keep colliding; a random pause
                    # that grows with each try lets one of them go first. The taken nonce is a floor
                    # for the next (a node's pending count can lag behind its pool).
                    time.sleep(random.uniform(0, CONFLICT_BACKOFF_S * (attempt + 1)))
                    self._next[address] = max(self._fetch(address), nonce + 1)
                    continue
                except BaseException:
                    self._next.pop(address, None)
                    raise
                self._next[address] = nonce + 1
                return result
            raise AssertionError("unreachable: the last attempt returns or raises")


class ChainClient:
    """A connection to one Ethereum RPC endpoint (HTTP), with signing and revert decoding.

    ``expected_chain_id`` (if given) is checked on first use; a mismatch raises ChainIdMismatch.
    Thread-safe: the wrappers and the trio facade call it from several threads at once.
    """

    def __init__(
        self,
        rpc_url: str,
        *,
        expected_chain_id: int | None = None,
        request_timeout: float = 30.0,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout}))
        self.errors = ErrorDecoder()
        self.nonces = NonceManager(self._pending_count)
        self._receipt_timeout = receipt_timeout
        self._poll = poll_interval
        self._chain_id: int | None = None
        self._expected = expected_chain_id

    # -- basics ---------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            actual = self.rpc(lambda: int(self.w3.eth.chain_id))
            if self._expected is not None and actual != self._expected:
                raise ChainIdMismatch(expected=self._expected, actual=actual)
            self._chain_id = actual
        return self._chain_id

    def rpc(self, thunk: Callable[[], T]) -> T:
        """Run one web3 call, turning transport and node errors into RpcError."""
        try:
            return thunk()
        except (requests.RequestException, OSError) as exc:
            raise RpcError(f"RPC {self.rpc_url} unreachable: {type(exc).__name__}") from exc
        except Web3RPCError as exc:
            raise RpcError(f"RPC {self.rpc_url} error: {exc.message or exc}") from exc

    def raw(self, method: str, params: list[Any] | None = None) -> Any:
        """A raw JSON-RPC request (``evm_snapshot``, ``anvil_mine``); raises RpcError on an error."""
        response = self.rpc(lambda: self.w3.provider.make_request(method, params or []))  # type: ignore[arg-type]
        if "error" in response:
            raise RpcError(f"RPC {method} failed: {response['error']}")
        return response.get("result")

    def block_number(self) -> int:
        return self.rpc(lambda: int(self.w3.eth.block_number))

    def timestamp(self, block: int | str = "latest") -> int:
        return self.rpc(lambda: int(self.w3.eth.get_block(block)["timestamp"]))  # type: ignore[arg-type]

    def eth_balance(self, address: str) -> int:
        return self.rpc(lambda: int(self.w3.eth.get_balance(to_checksum_address(address))))

    def register_abi(self, abi: Iterable[Mapping[str, Any]]) -> None:
        """Make this ABI's custom errors decodable in reverts."""
        self.errors.add_abi(abi)

    def _pending_count(self, address: ChecksumAddress) -> int:
        return self.rpc(lambda: int(self.w3.eth.get_transaction_count(address, "pending")))

    # -- calls and transactions -----------------------------------------------------------------

    def call(self, contract: str, function: str, tx: TxParams, block: int | str = "latest") -> bytes:
        """``eth_call``; returns the raw return data, raises ContractRevert on revert."""
        try:
            return bytes(self.rpc(lambda: self.w3.eth.call(tx, block)))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self._revert(contract, function, exc) from None

    def send(
        self,
        account: LocalAccount,
        contract: str,
        function: str,
        *,
        to: ChecksumAddress | None,
        data: str,
        value: int = 0,
        gas: int | None = None,
    ) -> Receipt:
        """Sign and send one transaction, wait for its receipt, raise ContractRevert if it reverted."""
        sender = to_checksum_address(account.address)
        base: TxParams = {"from": sender, "data": data, "value": value}  # type: ignore[typeddict-item]
        if to is not None:
            base["to"] = to
        chain_id = self.chain_id

        def submit(nonce: int) -> tuple[bytes, int]:
            estimate = gas or self._estimate(contract, function, {**base, "nonce": Nonce(nonce)})
            fees = self._fees()
            tx: dict[str, Any] = {
                **base,
                "nonce": nonce,
                "gas": estimate if gas else estimate * GAS_MARGIN_NUM // GAS_MARGIN_DEN,
                "chainId": chain_id,
                "type": 2,
                **fees,
            }
            tx.pop("from")
            if to is None:
                tx.pop("to", None)
            signed = account.sign_transaction(tx)
            try:
                return bytes(
                    self.rpc(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
                ), nonce
            except RpcError as exc:
                if _answer_is(exc, ALREADY_KNOWN) or (
                    _answer_is(exc, NONCE_TAKEN) and self._known(bytes(signed.hash))
                ):
                    return bytes(signed.hash), nonce  # this very transaction is in: never send it twice
                if _answer_is(exc, NONCE_TAKEN):
                    raise NonceConflict(
                        f"{contract}.{function}: nonce {nonce} of {sender} taken by another sender",
                        address=sender,
                        nonce=nonce,
                    ) from exc
                raise

        for attempt in range(NONCE_RETRIES + 1):
            tx_hash, nonce = self.nonces.send(sender, submit)
            try:
                return self._wait(contract, function, tx_hash, base, sender=sender, nonce=nonce)
            except NonceConflict:
                self.nonces.reset(sender)
                if attempt == NONCE_RETRIES:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def deploy(self, account: LocalAccount, artifact: Artifact, *args: Any) -> Receipt:
        """Deploy ``artifact`` with constructor ``args``; the receipt carries the address."""
        if not artifact.bytecode or artifact.bytecode == "0x":
            raise TransactionFailed(f"{artifact.name} has no bytecode (abstract or interface?)")
        self.register_abi(artifact.abi)
        factory = self.w3.eth.contract(abi=artifact.abi_list(), bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = self.send(account, artifact.name, "constructor", to=None, data=data)
        if receipt.contract_address is None:
            raise TransactionFailed(
                f"{artifact.name} deployment has no contract address", tx_hash=receipt.tx_hash
            )
        return receipt

    def _estimate(self, contract: str, function: str, tx: TxParams) -> int:
        # Against "pending": the transaction lands in the next block, and checks such as
        # "a block after the commit" must see that block's number, not the head's.
        try:
            return self.rpc(lambda: int(self.w3.eth.estimate_gas(tx, "pending")))
        except ContractLogicError as exc:
            raise self._revert(contract, function, exc) from None

    def _fees(self) -> dict[str, int]:
        base_fee = self.rpc(lambda: int(self.w3.eth.get_block("pending").get("baseFeePerGas", 0) or 0))
        tip = self.rpc(lambda: int(self.w3.eth.max_priority_fee))
        return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}

    def _known(self, tx_hash: bytes) -> bool:
        """Whether the node knows this transaction (pending in its pool or mined)."""

        def lookup() -> bool:
            try:  # TransactionNotFound is a Web3RPCError: caught here, before rpc() sees it
                self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return False
            return True

        return self.rpc(lookup)

    def _receipt(self, tx_hash: bytes) -> TxReceipt | None:
        def lookup() -> TxReceipt | None:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None

        return self.rpc(lookup)

    def _wait_receipt(
        self, contract: str, function: str, tx_hash: bytes, *, sender: ChecksumAddress, nonce: int
    ) -> TxReceipt:
        """Poll for the receipt. A transaction the node no longer knows, whose nonce another
        transaction has taken, can never be mined: NonceConflict (so it is signed again)."""
        hex_hash = "0x" + tx_hash.hex()
        deadline = time.monotonic() + self._receipt_timeout
        next_check = time.monotonic() + DROP_CHECK_INTERVAL
        while True:
            raw = self._receipt(tx_hash)
            if raw is not None:
                return raw
            now = time.monotonic()
            if now >= deadline:
                raise TransactionFailed(f"{contract}.{function}: no receipt for {hex_hash}", tx_hash=hex_hash)
            if now >= next_check:
                next_check = now + DROP_CHECK_INTERVAL
                mined = self.rpc(lambda: int(self.w3.eth.get_transaction_count(sender, "latest")))
                if mined > nonce and not self._known(tx_hash) and self._receipt(tx_hash) is None:
                    raise NonceConflict(
                        f"{contract}.{function}: {hex_hash} was replaced (nonce {nonce} taken)",
                        address=sender,
                        nonce=nonce,
                    )
            time.sleep(self._poll)

    def _wait(
        self,
        contract: str,
        function: str,
        tx_hash: bytes,
        base: TxParams,
        *,
        sender: ChecksumAddress,
        nonce: int,
    ) -> Receipt:
        hex_hash = "0x" + tx_hash.hex()
        raw = self._wait_receipt(contract, function, tx_hash, sender=sender, nonce=nonce)
        receipt = _to_receipt(hex_hash, raw)
        if raw["status"] == 1:
            return receipt
        # Mined but failed: replay at that block to get the revert data.
        try:
            self.call(contract, function, base, raw["blockNumber"])
        except ContractRevert as exc:
            exc.tx_hash = hex_hash
            raise
        except Web3Exception as exc:
            raise TransactionFailed(f"{contract}.{function} failed: {exc}", tx_hash=hex_hash) from None
        raise TransactionFailed(f"{contract}.{function} failed without revert data", tx_hash=hex_hash)

    def _revert(self, contract: str, function: str, exc: ContractLogicError) -> Exception:
        data = revert_data(exc.data)
        if data is None:
            message = exc.message or str(exc)
            return TransactionFailed(f"{contract}.{function} reverted: {message}")
        return self.errors.revert(contract, function, data)


def _to_receipt(tx_hash: str, raw: TxReceipt) -> Receipt:
    address = raw.get("contractAddress")
    return Receipt(
        tx_hash=tx_hash,
        block_number=int(raw["blockNumber"]),
        gas_used=int(raw["gasUsed"]),
        contract_address=to_checksum_address(address) if address else None,
        logs=tuple(raw["logs"]),
    )
