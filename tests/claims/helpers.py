"""Shared set-up for the claims tests: roles on the session deployment, a book in a temp store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.claims.book import OrderBook
from node.claims.capacity import devnet_verify
from node.store import Store
from tests.chain.helpers import Roles, register_roles


@contextmanager
def open_book(home: Path) -> Iterator[tuple[Store, OrderBook]]:
    store = Store.open(home)
    try:
        yield store, OrderBook(store)
    finally:
        store.close()


def verified_roles(
    chain: Chain, dev_accounts: tuple[LocalAccount, ...], *, gpus: int, gflops_per_gpu: int
) -> Roles:
    """Staked roles; the provider's H100 capacity attested by the verifier and in force (the cap)."""
    roles = register_roles(chain, dev_accounts, verifiers=1)
    devnet_verify(
        chain,
        roles.verifiers[0],
        provider=roles.provider.address,
        gpu_class="H100",
        gpus=gpus,
        gflops_per_gpu=gflops_per_gpu,
    )
    return roles
