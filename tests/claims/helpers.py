"""Shared set-up for the claims tests: roles on the session deployment, a book in a temp store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from node.claims.book import OrderBook
from node.store import Store


@contextmanager
def open_book(home: Path) -> Iterator[tuple[Store, OrderBook]]:
    store = Store.open(home)
    try:
        yield store, OrderBook(store)
    finally:
        store.close()
