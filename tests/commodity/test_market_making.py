"""Commodity flows on a devnet: a reseller buys a whole series and resells it in smaller lots at its own
prices; regions filter and are required; the chain refuses an oversold series and a provider whose
capacity fell after a failed challenge."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from node.capacity.verified import CapacityRecord
from node.chain.chain import Chain
from node.chain.errors import ContractRevert
from node.chain.token import TOKEN
from node.claims import market
from node.claims.book import OrderBook, live_orders
from node.claims.capacity import attest_record
from node.claims.errors import ClaimsInputError
from node.query.index import collect_trades
from tests.chain.helpers import Roles
from tests.claims.helpers import verified_roles

H = 3600


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return verified_roles(chain, dev_accounts, gpus=8, gflops_per_gpu=67000)



def _create(
    chain: Chain, book: OrderBook, roles: Roles, *, supply: int, hours: int = 10, region: str = "DE"
) -> int:
    now = chain.client.timestamp()
    return market.create_series(
        chain,
        book,
        roles.provider,
        gpu_class="H100",
        window_start=now + H,
        window_end=now + H + hours * H,
        supply=supply,
        price=2 * TOKEN,
        region=region,
    ).series_id


def test_reseller_buys_a_whole_series_and_resells_smaller_lots(
    chain: Chain, book: OrderBook, roles: Roles, dev_accounts: tuple[LocalAccount, ...]
) -> None:
    reseller, small_a, small_b = roles.outsider, roles.consumer, dev_accounts[9]
    sid = _create(chain, book, roles, supply=40)
    provider_before = chain.token.balance_of(roles.provider.address)
    whole = market.buy(chain, book, reseller, series_id=sid, amount=40)
    assert (whole.bought, whole.paid) == (40, 80 * TOKEN)
    assert chain.claims.balance_of(reseller.address, sid) == 40
    assert chain.token.balance_of(roles.provider.address) == provider_before + 80 * TOKEN
    # the market maker quotes a ladder of lots at its own prices
    for amount, price in ((5, 2 * TOKEN + TOKEN // 10), (10, 2 * TOKEN + TOKEN // 5), (25, 3 * TOKEN)):
        market.sell(chain, book, reseller, series_id=sid, amount=amount, price=price)
    assert [o.price for o in live_orders(book, chain, series_id=sid)] == [
        21 * TOKEN // 10,
        22 * TOKEN // 10,
        3 * TOKEN,
    ]
    bought_a = market.buy(chain, book, small_a, series_id=sid, amount=8)
    assert [(f.amount, f.price_per_token) for f in bought_a.fills] == [
        (5, 21 * TOKEN // 10),
        (3, 22 * TOKEN // 10),
    ]
    bought_b = market.buy(chain, book, small_b, series_id=sid, amount=2, max_price=22 * TOKEN // 10)
    assert bought_b.paid == 2 * 22 * TOKEN // 10
    assert chain.claims.balance_of(reseller.address, sid) == 30
    assert chain.claims.balance_of(small_a.address, sid) + chain.claims.balance_of(small_b.address, sid) == 10
    margin = bought_a.paid + bought_b.paid - 10 * 2 * TOKEN
    assert margin == (5 * 21 + 5 * 22 - 10 * 20) * TOKEN // 10  # the spread the reseller earned on 10 hours
    resales = [t for t in collect_trades(chain) if t.seller == reseller.address]
    assert [t.amount for t in resales] == [5, 3, 2]  # the index sees the resale fills as trades


def test_regions_filter_and_are_required(chain: Chain, book: OrderBook, roles: Roles) -> None:
    de = _create(chain, book, roles, supply=10, region="de")
    us = _create(chain, book, roles, supply=10, region="US-CA")
    assert chain.claims.series(de).region_code == "DE" and chain.claims.series(us).region_code == "US-CA"
    assert [i.series.series_id for i in market.list_series(chain, book, region="DE")] == [de]
    assert {i.series.series_id for i in market.list_series(chain, book)} == {de, us}
    listed = market.list_series(chain, book, region="US-CA")[0].to_json()
    assert (listed["region"], listed["unit"], listed["gpu_hours"], listed["normalized_units"]) == (
        "US-CA",
        "H100e-hour",
        10,
        10.0,
    )
    with pytest.raises(ClaimsInputError, match=r"series \d+ declares region DE, not US"):
        market.buy(chain, book, roles.consumer, series_id=de, amount=1, region="US")
    assert market.buy(chain, book, roles.consumer, series_id=de, amount=1, region="DE").bought == 1
    with pytest.raises(ClaimsInputError, match="--region"):
        _create(chain, book, roles, supply=1, region="not a region")


def test_oversold_series_is_refused_by_the_chain(chain: Chain, book: OrderBook, roles: Roles) -> None:
    _create(chain, book, roles, supply=60, hours=10)  # 6 of 8 GPUs over the window
    with pytest.raises(ContractRevert) as info:
        _create(chain, book, roles, supply=30, hours=10)  # 3 more: 9 > 8
    assert info.value.error_name == "CapacityClaims_CapacityExceeded"
    assert (
        info.value.error_args["reserved"],
        info.value.error_args["requested"],
        info.value.error_args["verified"],
    ) == (6, 3, 8)
    _create(chain, book, roles, supply=20, hours=10)  # 2 more: exactly 8


def test_failed_challenge_stops_new_series(chain: Chain, book: OrderBook, roles: Roles) -> None:
    first = _create(chain, book, roles, supply=10)
    failed = CapacityRecord(
        peer_id="12D3KooWprovider",
        challenge_id="c1",
        n=1024,
        advertised_gflops=67_000,
        achieved_gflops=900,
        correct=True,
        in_time=False,
        passed=False,
        reason="late answer",
    )
    attested = attest_record(
        chain, roles.verifiers[0], failed, provider=roles.provider.address, gpu_class="H100", gpus=8
    )
    assert attested.applied and attested.gpus == 0  # a failure applies at once
    with pytest.raises(ClaimsInputError, match="no verified H100 capacity"):
        _create(chain, book, roles, supply=1)
    assert chain.claims.balance_of(roles.provider.address, first) == 10  # what was sold stays backed
