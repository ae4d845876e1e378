"""The claims order book: signed sell orders kept in the node's SQLite store, judged against the chain.

Where orders come from: ``ccm claims create`` / ``sell`` on this node (``source = local``), gossip
received by a running node (``gossip``), a peer's book fetched or pushed over request/response
(``peer``). Whatever the source, the book never calls an order *live* from what it stores alone:
:func:`check_order` asks the chain, and only orders that pass every check below are shown or bought.

An order is live when (reasons for not being live, in the order they are checked):

* ``wrong-deployment`` its chain id and contract are this deployment's;
* ``bad-signature``    its EIP-712 signature recovers to its seller under the contract's domain;
* ``expired``          the chain's latest block time is before its expiry;
* ``unknown-series``   its series exists;
* ``window-ended``     the series' window has not ended (claims are worthless afterwards);
* ``cancelled``        it was not cancelled (``cancelOrder``);
* ``nonce-cancelled``  its nonce is at or above the seller's ``minNonce`` (``cancelAllBefore``);
* ``filled``           something of it is left (``amount - filled``);
* ``no-balance``       the seller still holds claims of the series.

``remaining`` is what a buyer can get from it now: ``min(amount - filled, seller's balance)``.

Storage: table ``claim_orders`` in ``<home>/node.db``, created idempotently by this module through
the store's own transaction API (the store's numbered migrations belong to ``node.store``; moving
this DDL there later changes nothing else). ``published_at`` is NULL for an order that a running
node has not gossiped yet: the outbox of :class:`node.claims.service.ClaimsService`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from eth_keys.exceptions import BadSignature
from eth_keys.exceptions import ValidationError as KeysValidationError
from eth_utils.exceptions import ValidationError as UtilsValidationError

from node.chain.chain import Chain
from node.chain.claims import Series
from node.claims.orders import OrderMessage
from node.store import Store

REASONS = (
    "wrong-deployment",
    "bad-signature",
    "expired",
    "unknown-series",
    "window-ended",
    "cancelled",
    "nonce-cancelled",
    "filled",
    "no-balance",
)
SOURCES = ("local", "gossip", "peer")

_DDL = (
    """CREATE TABLE IF NOT EXISTS claim_orders (
        order_hash      TEXT PRIMARY KEY,
        chain_id        INTEGER NOT NULL,
        contract        TEXT NOT NULL,
        seller          TEXT NOT NULL,
        series_id       TEXT NOT NULL,
        amount          TEXT NOT NULL,
        price_per_token TEXT NOT NULL,
        nonce           TEXT NOT NULL,
        expiry          TEXT NOT NULL,
        signature       BLOB NOT NULL CHECK (length(signature) = 65),
        source          TEXT NOT NULL CHECK (source IN ('local', 'gossip', 'peer')),
        received_at     REAL NOT NULL,
        published_at    REAL
    )""",
    "CREATE INDEX IF NOT EXISTS claim_orders_series ON claim_orders (chain_id, contract, series_id)",
)


@dataclass(frozen=True)
class StoredOrder:
    """An order as the book keeps it: the message, its id and where it came from."""

    order_hash: str
    message: OrderMessage
    source: str
    received_at: float
    published_at: float | None


@dataclass(frozen=True)
class OrderState:
    """An order judged against the chain at ``checked_at`` (block time)."""

    order_hash: str
    message: OrderMessage
    live: bool
    reason: str
    remaining: int
    checked_at: int

    @property
    def price(self) -> int:
        return int(self.message.price_per_token)

    @property
    def series_id(self) -> int:
        return int(self.message.series_id)

    def to_json(self) -> dict[str, object]:
        m = self.message
        return {
            "order": self.order_hash,
            "seller": m.seller,
            "series": int(m.series_id),
            "amount": int(m.amount),
            "remaining": self.remaining,
            "price_per_token": int(m.price_per_token),
            "nonce": int(m.nonce),
            "expiry": int(m.expiry),
            "live": self.live,
            "reason": self.reason,
        }


class OrderBook:
    """The ``claim_orders`` table of one node's store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as conn:
            for statement in _DDL:
                conn.execute(statement)

    def add(self, order_hash: str, message: OrderMessage, *, source: str, published: bool = False) -> bool:
        """Keep ``message`` under ``order_hash``; False if it was already there (first copy wins)."""
        if source not in SOURCES:
            raise ValueError(f"unknown order source {source!r}")
        now = time.time()
        with self.store.transaction() as conn:
            cursor = conn.execute(
                """INSERT OR IGNORE INTO claim_orders (order_hash, chain_id, contract, seller, series_id,
                       amount, price_per_token, nonce, expiry, signature, source, received_at, published_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (order_hash, message.chain_id, message.contract.lower(), message.seller, message.series_id,
                 message.amount, message.price_per_token, message.nonce, message.expiry, message.signature,
                 source, now, now if published else None),
            )
            return cursor.rowcount > 0

    def get(self, order_hash: str) -> StoredOrder | None:
        rows = self.store._read("SELECT * FROM claim_orders WHERE order_hash = ?", (order_hash.lower(),))
        return _stored(rows[0]) if rows else None

    def orders(
        self, *, chain_id: int, contract: str, series_id: int | None = None, seller: str | None = None
    ) -> list[StoredOrder]:
        """Every stored order of one deployment (optionally one series or one seller), oldest first."""
        sql = "SELECT * FROM claim_orders WHERE chain_id = ? AND contract = ?"
        params: list[object] = [chain_id, contract.lower()]
        if series_id is not None:
            sql += " AND series_id = ?"
            params.append(str(series_id))
        if seller is not None:
            sql += " AND lower(seller) = ?"
            params.append(seller.lower())
        return [_stored(r) for r in self.store._read(sql + " ORDER BY received_at, order_hash", params)]

    def unpublished(self, *, chain_id: int, contract: str) -> list[StoredOrder]:
        """The outbox: orders no running node has gossiped yet."""
        rows = self.store._read(
            """SELECT * FROM claim_orders WHERE chain_id = ? AND contract = ? AND published_at IS NULL
               ORDER BY received_at, order_hash""",
            (chain_id, contract.lower()),
        )
        return [_stored(r) for r in rows]

    def mark_published(self, order_hashes: Iterable[str]) -> None:
        now = time.time()
        with self.store.transaction() as conn:
            for order_hash in order_hashes:
                conn.execute(
                    "UPDATE claim_orders SET published_at = ? WHERE order_hash = ?", (now, order_hash)
                )

    def remove(self, order_hashes: Iterable[str]) -> int:
        """Forget orders (dead ones, typically); how many were removed."""
        n = 0
        with self.store.transaction() as conn:
            for order_hash in order_hashes:
                n += conn.execute("DELETE FROM claim_orders WHERE order_hash = ?", (order_hash,)).rowcount
        return n


def _stored(row: sqlite3.Row) -> StoredOrder:
    message = OrderMessage(
        chain_id=row["chain_id"],
        contract=_checksum(row["contract"]),
        seller=row["seller"],
        series_id=row["series_id"],
        amount=row["amount"],
        price_per_token=row["price_per_token"],
        nonce=row["nonce"],
        expiry=row["expiry"],
        signature=bytes(row["signature"]),
    )
    return StoredOrder(
        order_hash=row["order_hash"],
        message=message,
        source=row["source"],
        received_at=row["received_at"],
        published_at=row["published_at"],
    )


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


# -- judging orders against the chain ------------------------------------------------------------


class ChainView:
    """Chain reads for judging many orders at one block, each fact fetched once."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.block = chain.client.block_number()
        self.now = chain.client.timestamp(self.block)
        self._series: dict[int, Series] = {}
        self._min_nonce: dict[str, int] = {}
        self._balance: dict[tuple[str, int], int] = {}

    def series(self, series_id: int) -> Series:
        if series_id not in self._series:
            self._series[series_id] = self.chain.claims.series(series_id)
        return self._series[series_id]

    def min_nonce(self, seller: str) -> int:
        if seller not in self._min_nonce:
            self._min_nonce[seller] = self.chain.claims.min_nonce(seller)
        return self._min_nonce[seller]

    def balance(self, seller: str, series_id: int) -> int:
        key = (seller, series_id)
        if key not in self._balance:
            self._balance[key] = self.chain.claims.balance_of(seller, series_id)
        return self._balance[key]


def check_order(view: ChainView, message: OrderMessage) -> OrderState:
    """Judge one order against the chain (see the module docstring for the checks)."""
    claims = view.chain.claims

    def state(reason: str, remaining: int = 0, order_hash: str = "") -> OrderState:
        return OrderState(order_hash, message, not reason, reason, remaining, view.now)

    deployment = view.chain.deployment
    if message.chain_id != deployment.chain_id or message.contract.lower() != claims.address.lower():
        return state("wrong-deployment")
    order = message.order
    order_hash = message.digest(claims)
    try:
        signer = claims.order_signer(message.signed)
    except (ValueError, BadSignature, KeysValidationError, UtilsValidationError):
        return state("bad-signature", order_hash=order_hash)
    if signer != order.seller:
        return state("bad-signature", order_hash=order_hash)
    if view.now >= order.expiry:
        return state("expired", order_hash=order_hash)
    series = view.series(order.series_id)
    if series.provider == "0x" + "00" * 20 or int(series.provider, 16) == 0:
        return state("unknown-series", order_hash=order_hash)
    if view.now >= series.window_end:
        return state("window-ended", order_hash=order_hash)
    digest = bytes.fromhex(order_hash[2:])
    if claims.cancelled(digest):
        return state("cancelled", order_hash=order_hash)
    if order.nonce < view.min_nonce(order.seller):
        return state("nonce-cancelled", order_hash=order_hash)
    left = order.amount - claims.filled(digest)
    if left <= 0:
        return state("filled", order_hash=order_hash)
    balance = view.balance(order.seller, order.series_id)
    if balance == 0:
        return state("no-balance", order_hash=order_hash)
    return state("", min(left, balance), order_hash)


def judge(chain: Chain, messages: Iterable[OrderMessage]) -> list[OrderState]:
    """Every order judged at one block; live ones first, cheapest first, then by expiry and id."""
    view = ChainView(chain)
    states = [check_order(view, m) for m in messages]
    return sorted(states, key=lambda s: (not s.live, s.price, int(s.message.expiry), s.order_hash))


def live_orders(
    book: OrderBook, chain: Chain, *, series_id: int | None = None, prune: bool = False
) -> list[OrderState]:
    """The live orders of the book for this deployment, best price first.

    ``prune`` deletes orders that can never become live again (all reasons but ``no-balance``: a
    seller may receive claims later).
    """
    stored = book.orders(
        chain_id=chain.deployment.chain_id, contract=chain.claims.address, series_id=series_id
    )
    states = judge(chain, (s.message for s in stored))
    if prune:
        book.remove(s.order_hash for s in states if not s.live and s.reason not in ("no-balance",))
    return [s for s in states if s.live]
