"""Shared set-up for the chain tests: roles staked and registered on the session deployment."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.market import AuditDraw, JobTerms, ballot_commitment, commitment
from node.chain.registry import Role
from node.chain.token import TOKEN

PRICE = 100 * TOKEN
COLLATERAL = 50 * TOKEN
STAKE = 200 * TOKEN
#: The audit secrets the tests' consumer and provider use (fresh ones per job in the node).
CONSUMER_SECRET = keccak(b"consumer secret")
PROVIDER_SECRET = keccak(b"provider secret")
SALT = keccak(b"ballot salt")


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
        spec_hash=keccak(spec),
        price=price,
        collateral=collateral,
        accept_by=now + 600,
        commit_by=now + 1200,
        secret_hash=commitment(CONSUMER_SECRET),
    )


def commit(chain: Chain, roles: Roles, job_id: int, root: bytes, n_units: int) -> None:
    chain.market.commit_result(roles.provider, job_id, root, n_units, secret_hash=commitment(PROVIDER_SECRET))


def draw(chain: Chain, roles: Roles, job_id: int) -> AuditDraw:
    """Both reveals, the consumer's then the provider's (which draws the audit)."""
    chain.market.reveal_consumer_secret(roles.consumer, job_id, CONSUMER_SECRET)
    return chain.market.reveal_provider_secret(roles.provider, job_id, PROVIDER_SECRET)


def vote(chain: Chain, roles: Roles, job_id: int, ballots: dict[str, bool]) -> None:
    """Each member in ``ballots`` commits its ballot, then (after the vote window) reveals it."""
    for member, honest in ballots.items():
        chain.market.commit_vote(
            roles.by_address(member), job_id, ballot_commitment(job_id, member, honest, SALT)
        )
    chain.increase_time(chain.market.params().vote_window + 1)
    for member, honest in ballots.items():
        chain.market.reveal_vote(roles.by_address(member), job_id, provider_honest=honest, salt=SALT)
