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

Storage: table ``claim_orders`` in ``<home>/node.db`` (migration 3 of ``node.store``), read and written
through the store's typed ``*claim_order*`` methods. ``published_at`` is None for an order that a
running node has not gossiped yet: the outbox of :class:`node.claims.service.ClaimsService`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from eth_keys.exceptions import BadSignature
from eth_keys.exceptions import ValidationError as KeysValidationError
from eth_utils.exceptions import ValidationError as UtilsValidationError

from node.chain.chain import Chain
from node.chain.claims import Series
from node.claims.orders import OrderMessage
from node.store import ClaimOrder, Store

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
    """The claim orders of one node's store, as :class:`OrderMessage` values (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, order_hash: str, message: OrderMessage, *, source: str, published: bool = False) -> bool:
        """Keep ``message`` under ``order_hash``; False if it was already there (first copy wins)."""
        if source not in SOURCES:
            raise ValueError(f"unknown order source {source!r}")
        now = time.time()
        return self.store.add_claim_order(
            ClaimOrder(
                order_hash=order_hash,
                chain_id=message.chain_id,
                contract=message.contract,
                seller=message.seller,
                series_id=message.series_id,
                amount=message.amount,
                price_per_token=message.price_per_token,
                nonce=message.nonce,
                expiry=message.expiry,
                signature=message.signature,
                source=source,
                received_at=now,
                published_at=now if published else None,
            )
        )

    def get(self, order_hash: str) -> StoredOrder | None:
        row = self.store.get_claim_order(order_hash.lower())
        return _stored(row) if row is not None else None

    def orders(
        self, *, chain_id: int, contract: str, series_id: int | None = None, seller: str | None = None
    ) -> list[StoredOrder]:
        """Every stored order of one deployment (optionally one series or one seller), oldest first."""
        rows = self.store.claim_orders(
            chain_id=chain_id, contract=contract, series_id=series_id, seller=seller
        )
        return [_stored(r) for r in rows]

    def unpublished(self, *, chain_id: int, contract: str) -> list[StoredOrder]:
        """The outbox: orders no running node has gossiped yet."""
        rows = self.store.claim_orders(chain_id=chain_id, contract=contract, unpublished=True)
        return [_stored(r) for r in rows]

    def mark_published(self, order_hashes: Iterable[str]) -> None:
        self.store.mark_claim_orders_published(order_hashes)

    def remove(self, order_hashes: Iterable[str]) -> int:
        """Forget orders (dead ones, typically); how many were removed."""
        return self.store.delete_claim_orders(order_hashes)


def _stored(row: ClaimOrder) -> StoredOrder:
    message = OrderMessage(
        chain_id=row.chain_id,
        contract=_checksum(row.contract),
        seller=row.seller,
        series_id=row.series_id,
        amount=row.amount,
        price_per_token=row.price_per_token,
        nonce=row.nonce,
        expiry=row.expiry,
        signature=row.signature,
    )
    return StoredOrder(
        order_hash=row.order_hash,
        message=message,
        source=row.source,
        received_at=row.received_at,
        published_at=row.published_at,
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
