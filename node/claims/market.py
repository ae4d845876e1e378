"""The claims market's actions, as the CLI and the roles call them (synchronous; chain via ``Chain``).

* :func:`create_series` — provider: price the series (``node.claims.pricing``), lock collateral and
  mint (``createSeries``), sign one sell order for the whole supply and put it in the book.
* :func:`sell` — any holder: sign a resale order and put it in the book.
* :func:`buy` — anyone: fill the best live orders of a series, cheapest first, up to an amount.
* :func:`cancel` — a seller: cancel one of its orders on chain (``cancelOrder``).
* :func:`redeem` — a holder, during the window: burn claims for a prepaid job with the provider,
  recorded in the store as this node's consumer job.
* :func:`list_series` — every series with its live orders, cheapest first (``region`` filters).

Commodity terms: every series states GPU-hours (``supply``) and H100e-hours (``supply`` times the
provider's verified ``ppm_per_gpu`` at creation, :mod:`tokenomics.normalized`), and a declared region.
:func:`create_series` refuses early, with a clear message, a provider without verified capacity of
the class (the chain would refuse it anyway: ``CapacityClaims_NoVerifiedCapacity``).

Nothing here talks to peers: orders put in the book are gossiped by a running node
(:class:`node.claims.service.ClaimsService`) or pushed to a peer by the CLI (``--peer``).

Error handling: bad input raises :class:`ClaimsInputError` before any transaction; a revert arrives
as :class:`node.chain.errors.ContractRevert` (one line, the custom error named). :func:`buy` moves
on to the next order when a fill reverts because someone else got there first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.chain.claims import Redemption, SellOrder, Series, encode_region
from node.chain.errors import ContractRevert
from node.claims.book import ChainView, OrderBook, OrderState, check_order, live_orders
from node.claims.errors import ClaimsInputError, NoLiveOrders, OrderRejected
from node.claims.orders import OrderMessage
from node.claims.pricing import SeriesQuote, class_name, given_price, gpu_class_id, quote_series
from node.store import Job, Store

logger = logging.getLogger(__name__)

#: Fill failures that mean "this order is gone", not "the buyer cannot pay": try the next order.
_RACE_ERRORS = frozenset(
    {
        "CapacityClaims_Overfill",
        "CapacityClaims_OrderCancelled",
        "CapacityClaims_NonceCancelled",
        "CapacityClaims_OrderExpired",
        "ERC1155InsufficientBalance",
    }
)


@dataclass(frozen=True)
class Created:
    """A new series and the order that lists it."""

    series_id: int
    quote: SeriesQuote
    collateral_per_token: int
    order: OrderState


@dataclass(frozen=True)
class Fill:
    """One fill of a purchase."""

    order_hash: str
    seller: str
    amount: int
    price_per_token: int
    payment: int


@dataclass(frozen=True)
class Purchase:
    """What :func:`buy` did: the fills, cheapest first, and their totals."""

    series_id: int
    requested: int
    fills: tuple[Fill, ...]

    @property
    def bought(self) -> int:
        return sum(f.amount for f in self.fills)

    @property
    def paid(self) -> int:
        return sum(f.payment for f in self.fills)


@dataclass(frozen=True)
class SeriesInfo:
    """A series as ``ccm claims list`` shows it: chain facts, live orders, best price."""

    series: Series
    gpu_class: str
    orders: tuple[OrderState, ...] = field(default=())

    @property
    def best_price(self) -> int | None:
        return min((o.price for o in self.orders), default=None)

    @property
    def best_price_per_unit(self) -> int | None:
        """The best price per H100e-hour (base units; floor), or None without orders."""
        from tokenomics.normalized import price_per_unit

        best = self.best_price
        if best is None or self.series.ppm_per_gpu == 0:
            return None
        return price_per_unit(best, self.series.ppm_per_gpu)

    def to_json(self) -> dict[str, Any]:
        from tokenomics.normalized import UNIT_NAME, micro_to_units

        s = self.series
        return {
            "series": s.series_id,
            "provider": s.provider,
            "gpu_class": self.gpu_class,
            "region": s.region_code,
            "unit": UNIT_NAME,
            "ppm_per_gpu": s.ppm_per_gpu,
            "gpu_hours": s.supply,
            "normalized_units": micro_to_units(s.normalized_micro),
            "best_price_per_unit": self.best_price_per_unit,
            "floor": s.floor,
            "window_start": s.window_start,
            "window_end": s.window_end,
            "supply": s.supply,
            "redeemed": s.redeemed,
            "collateral_per_token": s.collateral_per_token,
            "released": s.released,
            "best_price": self.best_price,
            "orders": [o.to_json() for o in self.orders],
        }


def _message(chain: Chain, seller: LocalAccount, order: SellOrder) -> OrderMessage:
    signed = chain.claims.sign_order(seller, order)
    return OrderMessage.from_signed(signed, chain_id=chain.deployment.chain_id, contract=chain.claims.address)


def _next_nonce(chain: Chain, book: OrderBook, seller: str) -> int:
    """A nonce the seller has not used in this book, at or above its on-chain minimum."""
    used = {
        int(s.message.nonce)
        for s in book.orders(chain_id=chain.deployment.chain_id, contract=chain.claims.address, seller=seller)
    }
    nonce = chain.claims.min_nonce(seller)
    while nonce in used:
        nonce += 1
    return nonce


def _list(chain: Chain, book: OrderBook, message: OrderMessage) -> OrderState:
    """Judge a freshly signed order and keep it in the book as a local order (outbox)."""
    state = check_order(ChainView(chain), message)
    if not state.live:
        raise OrderRejected(state.order_hash, state.reason)
    book.add(state.order_hash, message, source="local")
    return state


def create_series(
    chain: Chain,
    book: OrderBook,
    provider: LocalAccount,
    *,
    gpu_class: str,
    window_start: int,
    window_end: int,
    supply: int,
    price: int | None = None,
    collateral_per_token: int | None = None,
    floor: int = 0,
    expiry: int | None = None,
    region: str = "",
) -> Created:
    """Price (unless ``price``), create the series, and list the whole supply in one signed order.

    ``expiry`` of the order defaults to the last second of the window; ``region`` is the declared
    jurisdiction code (``DE``, ``US-CA``, ``EU``; empty: none declared).
    """
    try:
        region_raw = encode_region(region)
    except ValueError as exc:
        raise ClaimsInputError("--region", str(exc)) from None
    now = chain.client.timestamp()
    if window_end <= now:
        raise ClaimsInputError("--window-end", f"{window_end} is not after the chain's time {now}")
    if price is None:
        quote = quote_series(gpu_class, window_start=window_start, window_end=window_end, now=now)
    else:
        gpu_class_id(gpu_class)
        quote = given_price(gpu_class, price, window_start=window_start, window_end=window_end, now=now)
    cpt = quote.price_per_token if collateral_per_token is None else collateral_per_token
    if cpt <= 0:
        raise ClaimsInputError("--collateral-per-token", "must be positive (it defaults to the price)")
    if not 0 <= floor < 2**64:
        raise ClaimsInputError("--floor", "must fit in uint64")
    order_expiry = window_end - 1 if expiry is None else expiry
    if not now < order_expiry < window_end:
        raise ClaimsInputError("--expiry", "must be in the future and before the window ends")
    verified = chain.capacity.capacity_of(provider.address, gpu_class_id(gpu_class))
    if verified.gpus == 0:
        raise ClaimsInputError(
            "--gpu-class",
            f"{provider.address} has no verified {gpu_class.strip().upper()} capacity on chain "
            "(never attested, or its last capacity challenge failed): a staked verifier must attest it first",
        )
    series_id = chain.claims.create_series(
        provider,
        gpu_class=gpu_class_id(gpu_class),
        floor=floor,
        window_start=window_start,
        window_end=window_end,
        supply=supply,
        collateral_per_token=cpt,
        region=region_raw,
    )
    order = SellOrder(
        seller=provider.address,
        series_id=series_id,
        amount=supply,
        price_per_token=quote.price_per_token,
        nonce=_next_nonce(chain, book, provider.address),
        expiry=order_expiry,
    )
    state = _list(chain, book, _message(chain, provider, order))
    return Created(series_id=series_id, quote=quote, collateral_per_token=cpt, order=state)


def sell(
    chain: Chain,
    book: OrderBook,
    seller: LocalAccount,
    *,
    series_id: int,
    amount: int,
    price: int,
    expiry: int | None = None,
) -> OrderState:
    """Sign an order selling ``amount`` claims at ``price`` each (resale) and keep it in the book.

    ``expiry`` defaults to the last second of the series' window.
    """
    series = chain.claims.series(series_id)
    if int(series.provider, 16) == 0:
        raise ClaimsInputError("SERIES", f"no series {series_id}")
    now = chain.client.timestamp()
    if now >= series.window_end:
        raise ClaimsInputError("SERIES", f"series {series_id}'s window has ended: its claims are worthless")
    held = chain.claims.balance_of(seller.address, series_id)
    if held < amount:
        raise ClaimsInputError("--amount", f"{seller.address} holds {held} claims of series {series_id}")
    order_expiry = series.window_end - 1 if expiry is None else expiry
    if not now < order_expiry:
        raise ClaimsInputError("--expiry", "must be in the future")
    order = SellOrder(
        seller=seller.address,
        series_id=series_id,
        amount=amount,
        price_per_token=price,
        nonce=_next_nonce(chain, book, seller.address),
        expiry=order_expiry,
    )
    return _list(chain, book, _message(chain, seller, order))


def buy(
    chain: Chain,
    book: OrderBook,
    buyer: LocalAccount,
    *,
    series_id: int,
    amount: int,
    max_price: int | None = None,
    region: str | None = None,
) -> Purchase:
    """Fill the cheapest live orders of ``series_id`` (not the buyer's own) until ``amount`` is bought.

    Stops early when no live order within ``max_price`` is left; raises :class:`NoLiveOrders` when
    nothing at all could be bought. ``region``: refuse (before any transaction) a series whose
    declared region is another.
    """
    if region is not None:
        try:
            wanted = encode_region(region)
        except ValueError as exc:
            raise ClaimsInputError("--region", str(exc)) from None
        declared = chain.claims.series(series_id).region
        if declared != wanted:
            shown = declared.decode("ascii", errors="replace") or "none"
            raise ClaimsInputError(
                "--region", f"series {series_id} declares region {shown}, not {wanted.decode()}"
            )
    candidates = [
        s
        for s in live_orders(book, chain, series_id=series_id)
        if s.message.seller.lower() != buyer.address.lower() and (max_price is None or s.price <= max_price)
    ]
    if not candidates:
        limit = "" if max_price is None else f" at or below {max_price}"
        raise NoLiveOrders(series_id, f"no live order{limit} in the book")
    fills: list[Fill] = []
    left = amount
    for state in candidates:
        if left == 0:
            break
        take = min(left, state.remaining)
        try:
            payment = chain.claims.fill(buyer, state.message.signed, take)
        except ContractRevert as err:
            if err.error_name not in _RACE_ERRORS:
                raise
            logger.info("order %s gone before the fill (%s)", state.order_hash, err.error_name)
            continue
        fills.append(Fill(state.order_hash, state.message.seller, take, state.price, payment))
        left -= take
    if not fills:
        raise NoLiveOrders(series_id, "every live order was taken before our fill")
    return Purchase(series_id=series_id, requested=amount, fills=tuple(fills))


def cancel(chain: Chain, book: OrderBook, seller: LocalAccount, order_hash: str) -> OrderMessage:
    """Cancel one of ``seller``'s orders on chain; the order must be in the book (its fields are needed)."""
    key = order_hash.strip().lower()
    if len(key) != 66 or not key.startswith("0x"):
        raise ClaimsInputError("ORDER", f"{order_hash!r} is not an order id (0x + 64 hex digits)")
    stored = book.get(key)
    if stored is None:
        raise ClaimsInputError("ORDER", f"order {key} is not in this node's book")
    if stored.message.seller.lower() != seller.address.lower():
        owner = stored.message.seller
        raise ClaimsInputError("ORDER", f"order {key} belongs to {owner}, not {seller.address}")
    chain.claims.cancel_order(seller, stored.message.order)
    return stored.message


def redeem(
    chain: Chain,
    store: Store,
    holder: LocalAccount,
    *,
    series_id: int,
    amount: int,
    spec_json: str,
    spec_hash: bytes,
    kind: str,
    n_units: int,
) -> Redemption:
    """Burn ``amount`` claims for a prepaid job with the series' provider; record it as our consumer job.

    The job then runs like any job: the provider's daemon sees ``PrepaidJobOpened`` for it, and the
    spec (whose hash is on chain) reaches it from the consumer like any other job's. The holder pays
    the market's minimum fee (its auditor's pay) and its job carries ``n_units`` (the spec's unit
    count) as its unit bounds, so a provider cannot commit fewer or more leaves.
    """
    series = chain.claims.series(series_id)
    if int(series.provider, 16) == 0:
        raise ClaimsInputError("SERIES", f"no series {series_id}")
    now = chain.client.timestamp()
    if now < series.window_start:
        opens = series.window_start
        raise ClaimsInputError("SERIES", f"series {series_id}'s window opens at {opens} (now {now})")
    if now >= series.window_end:
        raise ClaimsInputError("SERIES", f"series {series_id}'s window has ended")
    held = chain.claims.balance_of(holder.address, series_id)
    if held < amount:
        raise ClaimsInputError("--amount", f"{holder.address} holds {held} claims of series {series_id}")
    from node.chain.market import commitment, new_secret

    # The holder's audit secret is kept before it goes on chain; its node reveals it after the commit.
    secret = new_secret()
    store.put_secret(commitment(secret), secret, job_id="", purpose="consumer")
    redemption = chain.claims.redeem(
        holder,
        series_id,
        amount,
        spec_hash,
        secret_hash=commitment(secret),
        min_units=n_units,
        max_units=n_units,
    )
    store.put_job(
        Job(
            job_id=str(redemption.job_id),
            role="consumer",
            kind=kind,
            spec_hash="0x" + spec_hash.hex(),
            spec_json=spec_json,
            status="accepted",
            price=0,
        )
    )
    return redemption


def list_series(
    chain: Chain, book: OrderBook, *, include_ended: bool = False, region: str | None = None
) -> list[SeriesInfo]:
    """Every series of the deployment (from the contract's views, ids 1..seriesCount) with its live
    orders, cheapest first; series whose window has ended are left out unless ``include_ended``, and
    series of another declared region when ``region`` is given."""
    wanted = None
    if region is not None:
        try:
            wanted = encode_region(region)
        except ValueError as exc:
            raise ClaimsInputError("--region", str(exc)) from None
    now = chain.client.timestamp()
    by_series: dict[int, list[OrderState]] = {}
    for state in live_orders(book, chain):
        by_series.setdefault(state.series_id, []).append(state)
    out: list[SeriesInfo] = []
    for series_id in range(1, chain.claims.series_count() + 1):
        series = chain.claims.series(series_id)
        if series.window_end <= now and not include_ended:
            continue
        if wanted is not None and series.region != wanted:
            continue
        out.append(SeriesInfo(series, class_name(series.gpu_class), tuple(by_series.get(series_id, ()))))
    return sorted(out, key=lambda i: (i.best_price is None, i.best_price or 0, i.series.series_id))
