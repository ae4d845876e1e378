"""Errors of the claims market (``node.claims``).

Hierarchy (bases from :mod:`node.errors`)::

    CcmError
    └── ClaimsError              base of everything the claims market raises on purpose
        ├── ClaimsInputError     a bad time, price, amount or order id from the user (names the field)
        ├── OrderRejected        an order is not live: bad signature, expired, filled, cancelled, ...
        └── NoLiveOrders         nothing to buy: no live order for the series within the price limit

``str(err)`` is one line for the CLI.
"""

from __future__ import annotations

from node.errors import CcmError


class ClaimsError(CcmError):
    """Base of the claims market's errors."""


class ClaimsInputError(ClaimsError):
    """A value given by the user cannot be used; ``field`` names the option (``"--window-start"``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class OrderRejected(ClaimsError):
    """An order is not live; ``reason`` is one of :data:`node.claims.book.REASONS`."""

    def __init__(self, order_hash: str, reason: str, detail: str = "") -> None:
        self.order_hash = order_hash
        self.reason = reason
        super().__init__(f"order {order_hash}: {reason}" + (f" ({detail})" if detail else ""))


class NoLiveOrders(ClaimsError):
    """No live order can fill a purchase."""

    def __init__(self, series_id: int, detail: str) -> None:
        self.series_id = series_id
        super().__init__(f"series {series_id}: {detail}")
