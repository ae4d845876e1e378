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

A transaction that *vanished* (a reorg dropped the block it was in, or the node evicted it) while
its nonce is still free is signed again with a fresh nonce from ``pending``. One that waits behind a
gap (a reorg dropped this sender's *earlier* transactions, so the node's count went back) is not
copied: the gap is filled with empty self-transfers, so the waiting transaction is mined once, as
signed. What the dropped transactions did is gone; the roles decide again from the chain's state.

Fees (EIP-1559): ``maxFeePerGas = 2 x base fee + tip``, never above ``max_fee_per_gas`` (0: no cap);
a transaction still pending ``replace_after_blocks`` blocks after it was sent is replaced (same
nonce) with fees raised by an eighth (what geth and Anvil require of a replacement), up to the cap.
A revert that the node answers at ``eth_sendRawTransaction`` (Hardhat: JSON-RPC code 3, where Anvil
would mine the failure) becomes the same :class:`ContractRevert` as a mined one.

Requests: web3's validation middleware (one ``eth_chainId`` before every call and estimate) is
removed: the chain id is read once and cached, and transactions are signed with it. ``requests``
counts every JSON-RPC request by method (``scripts/bench chain`` reads it).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import Nonce, RPCEndpoint, RPCResponse, TxParams, TxReceipt

from node.chain.artifacts import Artifact
from node.chain.errors import ChainIdMismatch, ContractRevert, RpcError, TransactionFailed
from node.chain.revert import ErrorDecoder, revert_data

if TYPE_CHECKING:
    from node.config import ChainSection

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

#: A replacement raises both fees by at least this fraction (geth and Anvil refuse less than 10 %).
FEE_BUMP_NUM, FEE_BUMP_DEN = 9, 8

#: Blocks of this client's own mined transactions remembered for the followers to check.
LANDED_KEPT = 256

#: Gas of an empty self-transfer (what fills a nonce gap).
FILLER_GAS = 21_000

#: Receipt polls per block while waiting for a transaction on a chain with a block time.
RECEIPT_POLLS_PER_BLOCK = 4

#: JSON-RPC error code of "execution reverted" (EIP-1474), answered by Hardhat at send.
REVERT_CODE = 3


class TxVanished(RpcError):
    """A sent transaction is no longer known and its nonce is free again (a reorg or an eviction).

    Raised inside :meth:`ChainClient.send` to make it sign again with a fresh nonce.
    """

    def __init__(self, message: str, *, address: str, nonce: int) -> None:
        self.address = address
        self.nonce = nonce
        super().__init__(message)


class _CountingProvider(HTTPProvider):
    """An HTTP provider that counts its requests by method (thread-safe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._count_lock:
            self.counts[str(method)] += 1
        return super().make_request(method, params)


@dataclass(frozen=True)
class BlockHeader:
    """What the node reads of a block: where it is, what it follows, when, and its base fee."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int


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
    block_hash: str = ""
    succeeded: bool = True


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
    """A connection to one Ethereum RPC endpoint (HTTP; a ``ws://`` or ``wss://`` URL is asked over
    HTTP at the same place, see :func:`http_url`), with signing and revert decoding.

    ``expected_chain_id`` (if given) is checked on first use; a mismatch raises ChainIdMismatch.
    ``max_fee_per_gas`` caps the fee (0: no cap); ``replace_after_blocks`` is how many blocks a
    transaction may stay pending before it is replaced with a higher fee (0: never);
    ``block_time_s`` paces the receipt polls (0: a chain that mines on demand, polled every
    ``poll_interval``).
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
        max_fee_per_gas: int = 0,
        replace_after_blocks: int = 0,
        block_time_s: float = 0.0,
    ) -> None:
        self.rpc_url = rpc_url
        # A WebSocket URL: new heads by subscription there (node.chain.heads), requests over HTTP.
        self.ws_url = rpc_url if rpc_url.startswith(("ws://", "wss://")) else ""
        self._provider = _CountingProvider(http_url(rpc_url), request_kwargs={"timeout": request_timeout})
        self.w3 = Web3(self._provider)
        self.w3.middleware_onion.remove("validation")  # an eth_chainId before every call: cached here
        self.errors = ErrorDecoder()
        self.nonces = NonceManager(self._pending_count)
        self._receipt_timeout = receipt_timeout
        # A receipt cannot come faster than a block: poll a few times a block, not every 50 ms.
        self._poll = max(poll_interval, block_time_s / RECEIPT_POLLS_PER_BLOCK)
        self._chain_id: int | None = None
        self._expected = expected_chain_id
        self.max_fee_per_gas = max_fee_per_gas
        self.replace_after_blocks = replace_after_blocks
        # This client's mined transactions, newest last: a follower checks their blocks (a reorg can
        # drop a node's own transaction before its follower ever stood on that block), and a CLI
        # command reports their confirmations (node.chain.confirm.wait_receipts).
        self.receipts: deque[Receipt] = deque(maxlen=LANDED_KEPT)

    @classmethod
    def from_config(
        cls,
        settings: ChainSection,
        *,
        rpc_url: str,
        expected_chain_id: int | None = None,
        block_time_s: float = 0.0,
    ) -> ChainClient:
        """A client with the node's ``[chain]`` settings (fee cap, replacement after N blocks)."""
        return cls(
            rpc_url,
            expected_chain_id=expected_chain_id,
            max_fee_per_gas=settings.max_fee_per_gas,
            replace_after_blocks=settings.replace_after_blocks,
            block_time_s=block_time_s,
        )

    @property
    def landed(self) -> list[tuple[int, str]]:
        """Where this client's transactions were mined: ``(block, block hash)``, oldest first."""
        return [(r.block_number, r.block_hash) for r in self.receipts]

    @property
    def requests(self) -> Counter[str]:
        """JSON-RPC requests sent so far, by method (a copy)."""
        with self._provider._count_lock:
            return Counter(self._provider.counts)

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

    def block(self, ref: int | str = "latest") -> BlockHeader | None:
        """The header of block ``ref`` (a number or ``"latest"``), or None if there is none yet."""

        def lookup() -> BlockHeader | None:
            try:
                raw = self.w3.eth.get_block(ref)  # type: ignore[arg-type]
            except BlockNotFound:
                return None
            return BlockHeader(
                number=int(raw["number"]),
                hash=_hex(raw["hash"]),
                parent_hash=_hex(raw["parentHash"]),
                timestamp=int(raw["timestamp"]),
                base_fee=int(raw.get("baseFeePerGas", 0) or 0),
            )

        return self.rpc(lookup)

    def code_at(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty for an account without code)."""
        return bytes(self.rpc(lambda: self.w3.eth.get_code(to_checksum_address(address))))

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

        def sign(tx: dict[str, Any]) -> tuple[bytes, bytes]:
            signed = account.sign_transaction(tx)
            return bytes(signed.raw_transaction), bytes(signed.hash)

        def submit(nonce: int) -> _Sent:
            estimate = gas or self._estimate(contract, function, {**base, "nonce": Nonce(nonce)})
            tx: dict[str, Any] = {
                **base,
                "nonce": nonce,
                "gas": estimate if gas else estimate * GAS_MARGIN_NUM // GAS_MARGIN_DEN,
                "chainId": chain_id,
                "type": 2,
                **self._fees(),
            }
            tx.pop("from")
            if to is None:
                tx.pop("to", None)
            raw, tx_hash = sign(tx)
            self._send_raw(contract, function, raw, tx_hash, sender=sender, nonce=nonce)
            return _Sent(tx=tx, hashes=(tx_hash,), block=self.block_number())

        def fill_gap(first: int, end: int) -> None:
            for nonce in range(first, end):
                filler = {"to": sender, "value": 0, "gas": FILLER_GAS, "nonce": nonce, "chainId": chain_id}
                raw, _ = sign({**filler, "type": 2, **self._fees()})
                try:
                    self.rpc(lambda r=raw: self.w3.eth.send_raw_transaction(r))  # type: ignore[misc]
                except RpcError:
                    pass  # another thread filled it, or the nonce got used meanwhile: either way filled

        def replace(sent: _Sent) -> _Sent | None:
            tx = self._bumped(sent.tx)
            if tx is None:
                return None
            raw, tx_hash = sign(tx)
            try:
                self._send_raw(contract, function, raw, tx_hash, sender=sender, nonce=int(tx["nonce"]))
            except NonceConflict:
                return None  # the original (or another) got in meanwhile: keep waiting for it
            return _Sent(tx=tx, hashes=(*sent.hashes, tx_hash), block=self.block_number())

        for attempt in range(NONCE_RETRIES + 1):
            sent = self.nonces.send(sender, submit)
            try:
                return self._wait(
                    contract, function, sent, base, sender=sender, replace=replace, fill_gap=fill_gap
                )
            except (NonceConflict, TxVanished):
                self.nonces.reset(sender)
                if attempt == NONCE_RETRIES:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send_raw(
        self, contract: str, function: str, raw: bytes, tx_hash: bytes, *, sender: ChecksumAddress, nonce: int
    ) -> None:
        """``eth_sendRawTransaction``; a revert answered at send is decoded, a taken nonce is a
        NonceConflict, and "already known" (this very transaction) is success."""
        try:
            self.rpc(lambda: self.w3.eth.send_raw_transaction(raw))
        except ContractLogicError as exc:
            raise self._revert(contract, function, exc) from None
        except RpcError as exc:
            reverted = _send_revert(exc)
            if reverted is not None:
                raise self.errors.revert(contract, function, reverted) from None
            if _answer_is(exc, ALREADY_KNOWN) or (_answer_is(exc, NONCE_TAKEN) and self._known(tx_hash)):
                return  # this very transaction is in: never send it twice
            if _answer_is(exc, NONCE_TAKEN):
                raise NonceConflict(
                    f"{contract}.{function}: nonce {nonce} of {sender} taken by another sender",
                    address=sender,
                    nonce=nonce,
                ) from exc
            raise

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
        """EIP-1559 fees for the next block: twice the base fee plus the tip, within the cap."""
        base_fee = self.rpc(lambda: int(self.w3.eth.get_block("pending").get("baseFeePerGas", 0) or 0))
        tip = self.rpc(lambda: int(self.w3.eth.max_priority_fee))
        max_fee = 2 * base_fee + tip
        if self.max_fee_per_gas:
            max_fee = min(max_fee, self.max_fee_per_gas)
            tip = min(tip, max_fee)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}

    def _bumped(self, tx: dict[str, Any]) -> dict[str, Any] | None:
        """``tx`` with both fees raised by an eighth (and at least to today's), or None at the cap."""
        fees = self._fees()
        old_max, old_tip = int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"])
        tip = max(fees["maxPriorityFeePerGas"], old_tip * FEE_BUMP_NUM // FEE_BUMP_DEN + 1)
        max_fee = max(fees["maxFeePerGas"], old_max * FEE_BUMP_NUM // FEE_BUMP_DEN + 1, tip)
        if self.max_fee_per_gas and max_fee > self.max_fee_per_gas:
            return None
        return {**tx, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of a mined transaction on the chain as it is now (``None``: not mined)."""
        raw = self._receipt(bytes.fromhex(tx_hash.removeprefix("0x")))
        return None if raw is None else _to_receipt(tx_hash, raw)

    def known(self, tx_hash: str) -> bool:
        """Whether the endpoint knows this transaction (pending in its pool or mined)."""
        return self._known(bytes.fromhex(tx_hash.removeprefix("0x")))

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
        self,
        contract: str,
        function: str,
        sent: _Sent,
        *,
        sender: ChecksumAddress,
        replace: Callable[[_Sent], _Sent | None],
        fill_gap: Callable[[int, int], None],
    ) -> tuple[bytes, TxReceipt]:
        """Poll for a receipt of any of the sent versions (an original and its replacements).

        Every :data:`DROP_CHECK_INTERVAL`: a transaction the node no longer knows whose nonce another
        took can never be mined (NonceConflict); one whose nonce is free again vanished
        (TxVanished); either way it is signed again. One waiting behind a gap (the node's pending
        count has not reached it) gets the gap filled. One pending for ``replace_after_blocks``
        blocks is replaced.
        """
        nonce = int(sent.tx["nonce"])
        hex_hash = "0x" + sent.hashes[-1].hex()
        deadline = time.monotonic() + self._receipt_timeout
        next_check = time.monotonic() + DROP_CHECK_INTERVAL
        while True:
            for tx_hash in reversed(sent.hashes):
                raw = self._receipt(tx_hash)
                if raw is not None:
                    return tx_hash, raw
            now = time.monotonic()
            if now >= deadline:
                raise TransactionFailed(f"{contract}.{function}: no receipt for {hex_hash}", tx_hash=hex_hash)
            if now >= next_check:
                next_check = now + DROP_CHECK_INTERVAL
                mined = self.rpc(lambda: int(self.w3.eth.get_transaction_count(sender, "latest")))
                known = any(self._known(h) for h in sent.hashes)
                if not known and any(self._receipt(h) is not None for h in sent.hashes):
                    continue  # mined between the two looks: the next pass returns it
                if mined > nonce and not known:
                    raise NonceConflict(
                        f"{contract}.{function}: {hex_hash} was replaced (nonce {nonce} taken)",
                        address=sender,
                        nonce=nonce,
                    )
                pending = self._pending_count(sender)
                if known and pending < nonce:
                    fill_gap(pending, nonce)
                elif not known:
                    raise TxVanished(
                        f"{contract}.{function}: {hex_hash} vanished (nonce {nonce} free again)",
                        address=sender,
                        nonce=nonce,
                    )
                due = sent.block + self.replace_after_blocks
                if self.replace_after_blocks and self.block_number() >= due:
                    replaced = replace(sent)
                    if replaced is not None:
                        sent = replaced
                        hex_hash = "0x" + sent.hashes[-1].hex()
            time.sleep(self._poll)

    def _wait(
        self,
        contract: str,
        function: str,
        sent: _Sent,
        base: TxParams,
        *,
        sender: ChecksumAddress,
        replace: Callable[[_Sent], _Sent | None],
        fill_gap: Callable[[int, int], None],
    ) -> Receipt:
        tx_hash, raw = self._wait_receipt(
            contract, function, sent, sender=sender, replace=replace, fill_gap=fill_gap
        )
        hex_hash = "0x" + tx_hash.hex()
        receipt = _to_receipt(hex_hash, raw)
        self.receipts.append(receipt)
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
        block_hash=_hex(raw["blockHash"]),
        succeeded=int(raw["status"]) == 1,
    )


@dataclass(frozen=True)
class _Sent:
    """A transaction in flight: its fields (nonce, fees) and every hash it was sent under."""

    tx: dict[str, Any]
    hashes: tuple[bytes, ...]
    block: int


def http_url(url: str) -> str:
    """The HTTP endpoint of ``url``: a ``ws://``/``wss://`` URL's host, port and path over
    ``http``/``https`` (Anvil and Hardhat serve both on one port); any other URL as it is."""
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if url.startswith(ws):
            return http + url.removeprefix(ws)
    return url


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, (bytes, bytearray)) else str(value)


def _send_revert(exc: RpcError) -> bytes | None:
    """The revert data of an "execution reverted" answer to a send (JSON-RPC code 3), or None."""
    cause = exc.__cause__
    if not isinstance(cause, Web3RPCError) or not isinstance(cause.rpc_response, dict):
        return None
    error = cause.rpc_response.get("error")
    if not isinstance(error, dict) or error.get("code") != REVERT_CODE:
        return None
    return revert_data(error.get("data")) or b""
