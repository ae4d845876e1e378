"""The provider's pricing policy for a claim series, on top of ``tokenomics``.

A series is priced with :func:`tokenomics.provider.quote_claim`: the model forward price of one
GPU-hour in the window, floored at the provider's reserve price (capex recovered at full
utilization plus running costs), so a forward hour is never sold below what it costs.

The one conversion from chain time to the model's time axis: the window ``[start, end)`` in unix
seconds becomes ``[(start - now) / YEAR, (end - now) / YEAR]`` years from now, with
``YEAR = 8760 h`` (:data:`tokenomics.market_data.HOURS_PER_YEAR`, the year the models use) and
``now`` the chain's latest block time; a window that has already begun starts at 0. The price in
USD becomes token base units at one token per dollar (the model's USD-pegged unit of account),
rounded to a micro-dollar first (``quote_claim``).

Default collateral per token: the price itself, so a holder whose redeemed job fails gets at least
what the hour cost back from the collateral.

GPU classes on chain are ``keccak256`` of the upper-case class name (``keccak256("H100")``);
:func:`class_name` maps an id back for the classes the market data knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eth_utils import keccak

from node.claims.errors import ClaimsInputError

SECONDS_PER_YEAR = 8760 * 3600


def gpu_class_id(name: str) -> bytes:
    """The on-chain ``bytes32`` id of a GPU class name."""
    key = name.strip().upper()
    if not key:
        raise ClaimsInputError("--gpu-class", "empty GPU class")
    return keccak(key.encode("utf-8"))


@cache
def _known_ids() -> dict[bytes, str]:
    from tokenomics.market_data import gpu_class_names

    return {gpu_class_id(n): n for n in gpu_class_names()}


def class_name(class_id: bytes) -> str:
    """The class name for an on-chain id, or its hex when the market data does not know it."""
    return _known_ids().get(bytes(class_id), "0x" + bytes(class_id).hex())


@dataclass(frozen=True)
class SeriesQuote:
    """The price per token of a series and where it comes from (``basis``: forward, reserve, given)."""

    gpu_class: str
    price_per_token: int
    basis: str
    forward_usd: float | None
    reserve_usd: float | None
    start_years: float
    end_years: float


def window_years(*, window_start: int, window_end: int, now: int) -> tuple[float, float]:
    """The window in years from ``now`` (see the module docstring)."""
    if window_end <= window_start:
        raise ClaimsInputError("--window-end", "the window must end after it starts")
    if window_end <= now:
        raise ClaimsInputError("--window-end", "the window is already over")
    start = max(window_start - now, 0) / SECONDS_PER_YEAR
    return start, (window_end - now) / SECONDS_PER_YEAR


def quote_series(gpu_class: str, *, window_start: int, window_end: int, now: int) -> SeriesQuote:
    """Price one token of the series with the tokenomics forward curve and reserve price."""
    from tokenomics.market_data import load_market_data
    from tokenomics.provider import quote_claim

    gpu = load_market_data().gpu_class(gpu_class)
    start, end = window_years(window_start=window_start, window_end=window_end, now=now)
    quote = quote_claim(gpu, start_years=start, end_years=end)
    return SeriesQuote(
        gpu_class=gpu.name,
        price_per_token=quote.price_units,
        basis=quote.basis,
        forward_usd=quote.forward_usd,
        reserve_usd=quote.reserve_usd,
        start_years=start,
        end_years=end,
    )


def given_price(gpu_class: str, price: int, *, window_start: int, window_end: int, now: int) -> SeriesQuote:
    """A quote for a price the provider set itself (``--price``): no model figures."""
    start, end = window_years(window_start=window_start, window_end=window_end, now=now)
    return SeriesQuote(
        gpu_class=gpu_class.strip().upper(),
        price_per_token=price,
        basis="given",
        forward_usd=None,
        reserve_usd=None,
        start_years=start,
        end_years=end,
    )
