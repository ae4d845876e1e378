"""The order book against a real Anvil: pricing from tokenomics, live orders only, buy/sell/cancel.

Orders that are invalid (bad signature, another deployment), expired, filled, cancelled (one by
one or in bulk), whose seller no longer holds the claims, or whose window ended are never live.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.chain.token import TOKEN
from node.claims import market
from node.claims.book import OrderBook, judge, live_orders
from node.claims.errors import ClaimsInputError, NoLiveOrders
from node.claims.pricing import SECONDS_PER_YEAR, class_name, gpu_class_id
from node.store import Store
from tests.chain.helpers import Roles
from tests.claims.helpers import open_book, verified_roles
from tokenomics.market_data import load_market_data
from tokenomics.provider import quote_claim

HOUR = 3600


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    """Staked roles; the provider's H100 capacity (64 GPUs) attested by the verifier and in force."""
    return verified_roles(chain, dev_accounts, gpus=64, gflops_per_gpu=60000)



def _create(
    chain: Chain,
    book: OrderBook,
    roles: Roles,
    *,
    supply: int = 10,
    price: int | None = 2 * TOKEN,
    start_in: int = 100,
    length: int = HOUR,
) -> market.Created:
    now = chain.client.timestamp()
    return market.create_series(
        chain,
        book,
        roles.provider,
        gpu_class="H100",
        window_start=now + start_in,
        window_end=now + start_in + length,
        supply=supply,
        price=price,
    )


def test_create_prices_with_tokenomics_and_lists_the_supply(
    chain: Chain, book: OrderBook, roles: Roles
) -> None:
    now = chain.client.timestamp()
    start, end = now + 30 * 86_400, now + 60 * 86_400
    created = market.create_series(
        chain, book, roles.provider, gpu_class="h100", window_start=start, window_end=end, supply=5
    )
    expected = quote_claim(
        load_market_data().gpu_class("H100"),
        start_years=(start - chain.client.timestamp()) / SECONDS_PER_YEAR,
        end_years=(end - chain.client.timestamp()) / SECONDS_PER_YEAR,
    )
    # The chain clock moves by a second or so between the two reads; the quote barely moves.
    assert abs(created.quote.price_per_token - expected.price_units) <= expected.price_units // 10_000
    assert created.quote.basis in ("forward", "reserve") and created.quote.price_per_token > 0
    series = chain.claims.series(created.series_id)
    assert series.gpu_class == gpu_class_id("H100") and class_name(series.gpu_class) == "H100"
    assert series.collateral_per_token == created.quote.price_per_token  # default collateral = price
    assert chain.claims.locked_collateral(created.series_id) == 5 * created.quote.price_per_token
    (live,) = live_orders(book, chain)
    assert (live.remaining, live.price, live.order_hash) == (
        5,
        created.quote.price_per_token,
        created.order.order_hash,
    )
    assert live.order_hash == "0x" + chain.claims.order_hash(live.message.order).hex()


def test_buy_fills_cheapest_first_and_respects_max_price(chain: Chain, book: OrderBook, roles: Roles) -> None:
    created = _create(chain, book, roles, price=3 * TOKEN)
    market.buy(chain, book, roles.consumer, series_id=created.series_id, amount=4)
    cheaper = market.sell(chain, book, roles.consumer, series_id=created.series_id, amount=2, price=1 * TOKEN)
    third = roles.outsider
    before = chain.token.balance_of(third.address)
    with pytest.raises(NoLiveOrders, match="at or below"):
        market.buy(chain, book, third, series_id=created.series_id, amount=1, max_price=TOKEN // 2)
    purchase = market.buy(chain, book, third, series_id=created.series_id, amount=3)
    assert [(f.order_hash, f.amount) for f in purchase.fills] == [
        (cheaper.order_hash, 2),
        (created.order.order_hash, 1),
    ]
    assert purchase.paid == 2 * TOKEN + 3 * TOKEN
    assert chain.token.balance_of(third.address) == before - purchase.paid
    assert chain.claims.balance_of(third.address, created.series_id) == 3
    # the reseller's order is used up; the provider's has 10 - 4 - 1 left
    assert [(s.order_hash, s.remaining) for s in live_orders(book, chain)] == [(created.order.order_hash, 5)]


def test_dead_orders_are_never_live(chain: Chain, book: OrderBook, roles: Roles, tmp_path: Path) -> None:
    created = _create(chain, book, roles, supply=10)
    sid = created.series_id
    p = roles.provider
    cancelled = market.sell(chain, book, p, series_id=sid, amount=1, price=TOKEN)
    bulk = market.sell(chain, book, p, series_id=sid, amount=1, price=TOKEN)
    short = market.sell(
        chain, book, p, series_id=sid, amount=1, price=TOKEN, expiry=chain.client.timestamp() + 20
    )
    market.cancel(chain, book, p, cancelled.order_hash)
    forged = replace(created.order.message, price_per_token=str(TOKEN // 10))  # signature no longer matches
    other = replace(created.order.message, chain_id=created.order.message.chain_id + 1)
    states = {s.order_hash or "other": s.reason for s in judge(chain, [forged, other])}
    assert sorted(states.values()) == ["bad-signature", "wrong-deployment"]
    reasons = {
        s.order_hash: s.reason
        for s in judge(
            chain,
            [
                s.message
                for s in book.orders(chain_id=chain.deployment.chain_id, contract=chain.claims.address)
            ],
        )
    }
    assert reasons[cancelled.order_hash] == "cancelled"
    assert reasons[bulk.order_hash] == "" and reasons[short.order_hash] == ""
    market.buy(chain, book, roles.consumer, series_id=sid, amount=10)
    assert live_orders(book, chain) == []
    assert [s.reason for s in judge(chain, [created.order.message, bulk.message])] == ["filled", "no-balance"]
    chain.claims.cancel_all_before(p, int(short.message.nonce))  # bulk's nonce is below short's
    chain.increase_time(30)
    reasons = {s.order_hash: s.reason for s in judge(chain, [bulk.message, short.message])}
    assert reasons == {bulk.order_hash: "nonce-cancelled", short.order_hash: "expired"}
    # a resale order whose seller then sells the claims elsewhere has nothing behind it
    resale = market.sell(
        chain,
        book,
        roles.consumer,
        series_id=sid,
        amount=10,
        price=TOKEN,
        expiry=chain.client.timestamp() + 10 * HOUR,  # outlives the window
    )
    chain.claims.contract.transact(
        roles.consumer, "safeTransferFrom", roles.consumer.address, roles.outsider.address, sid, 10, b""
    )
    assert [s.reason for s in judge(chain, [resale.message])] == ["no-balance"]
    chain.increase_time(2 * HOUR)
    assert [s.reason for s in judge(chain, [resale.message])] == ["window-ended"]
    assert market.list_series(chain, book) == []
    assert [i.series.series_id for i in market.list_series(chain, book, include_ended=True)] == [sid]
    live_orders(book, chain, prune=True)
    assert book.get(resale.order_hash) is None


def test_bad_input_is_refused_before_any_transaction(chain: Chain, book: OrderBook, roles: Roles) -> None:
    created = _create(chain, book, roles, supply=2)
    count = chain.claims.series_count()
    now = chain.client.timestamp()
    with pytest.raises(ClaimsInputError, match="window-end"):
        market.create_series(
            chain, book, roles.provider, gpu_class="H100", window_start=now - 10, window_end=now - 5, supply=1
        )
    with pytest.raises(Exception, match="unknown GPU class"):
        market.create_series(
            chain,
            book,
            roles.provider,
            gpu_class="Z9000",
            window_start=now + 10,
            window_end=now + 100,
            supply=1,
        )
    assert chain.claims.series_count() == count
    with pytest.raises(ClaimsInputError, match="holds 0"):
        market.sell(chain, book, roles.consumer, series_id=created.series_id, amount=1, price=1)
    with pytest.raises(ClaimsInputError, match="no series 99"):
        market.sell(chain, book, roles.consumer, series_id=99, amount=1, price=1)
    with pytest.raises(ClaimsInputError, match="not in this node's book"):
        market.cancel(chain, book, roles.provider, "0x" + "ab" * 32)
    with pytest.raises(ClaimsInputError, match="belongs to"):
        market.cancel(chain, book, roles.consumer, created.order.order_hash)
    with pytest.raises(NoLiveOrders):  # the provider does not buy from itself
        market.buy(chain, book, roles.provider, series_id=created.series_id, amount=1)


def test_book_survives_reopening(tmp_path: Path, chain: Chain, roles: Roles) -> None:
    with open_book(tmp_path) as (_s, book):
        created = _create(chain, book, roles)
    store = Store.open(tmp_path)
    try:
        again = OrderBook(store)
        stored = again.get(created.order.order_hash)
        assert stored is not None and stored.message == created.order.message and stored.source == "local"
        assert stored.published_at is None  # in the outbox until a running node gossips it
    finally:
        store.close()
