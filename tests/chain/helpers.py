"""Shared set-up for the chain tests: roles staked and registered on the session deployment."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.market import JobTerms
from node.chain.registry import Role
from node.chain.token import TOKEN

PRICE = 100 * TOKEN
COLLATERAL = 50 * TOKEN
STAKE = 200 * TOKEN


@dataclass(frozen=True)
class Roles:
    """Who plays what: consumer (dev 1), provider (dev 2), verifiers (dev 3..7), outsider (dev 8)."""

    consumer: LocalAccount
    provider: LocalAccount
    verifiers: tuple[LocalAccount, ...]
    outsider: LocalAccount

    def by_address(self, address: str) -> LocalAccount:
        for account in (self.consumer, self.provider, *self.verifiers, self.outsider):
            if account.address == address:
                return account
        raise KeyError(address)


def register_roles(chain: Chain, accounts: tuple[LocalAccount, ...], *, verifiers: int = 5) -> Roles:
    roles = Roles(accounts[1], accounts[2], tuple(accounts[3 : 3 + verifiers]), accounts[8])
    chain.registry.stake_and_register(
        roles.provider, STAKE, Role.PROVIDER, b"peer-provider", keccak(b"advert")
    )
    for n, verifier in enumerate(roles.verifiers):
        chain.registry.stake_and_register(verifier, STAKE, Role.VERIFIER, f"peer-v{n}".encode(), b"\0" * 32)
    return roles


def terms(
    chain: Chain, *, price: int = PRICE, collateral: int = COLLATERAL, spec: bytes = b"spec"
) -> JobTerms:
    now = chain.client.timestamp()
    return JobTerms(
        spec_hash=keccak(spec), price=price, collateral=collateral, accept_by=now + 600, commit_by=now + 1200
    )
