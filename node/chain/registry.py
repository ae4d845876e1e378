"""Typed wrapper of ``StakingRegistry``: stake, bind peer id and advert hash, unbond, withdraw, views.

Staking pulls tokens with ``transferFrom``, so the write helpers approve the registry first when the
allowance is short (one extra transaction at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from node.chain.client import Receipt
from node.chain.contract import BoundContract
from node.chain.token import Token


class Role(IntFlag):
    """Role bitmask of the registry (``ROLE_PROVIDER``, ``ROLE_VERIFIER``)."""

    PROVIDER = 1
    VERIFIER = 2


@dataclass(frozen=True)
class Staker:
    """One account's stake and bindings, as ``stakerOf`` returns them."""

    active: int
    unbonding: int
    unbond_at: int
    roles: Role
    advert_hash: bytes
    peer_id: bytes


@dataclass(frozen=True)
class RegistryParams:
    """The registry's immutable parameters."""

    min_provider_stake: int
    min_verifier_stake: int
    unbond_delay: int
    market: ChecksumAddress


class Registry:
    """``StakingRegistry`` at one address."""

    def __init__(self, contract: BoundContract, token: Token) -> None:
        self.contract = contract
        self.address = contract.address
        self.token = token

    # -- writes ---------------------------------------------------------------------------------

    def stake(self, account: LocalAccount, amount: int) -> Receipt:
        self.token.ensure_allowance(account, self.address, amount)
        return self.contract.transact(account, "stake", amount)

    def register(self, account: LocalAccount, roles: Role, peer_id: bytes, advert_hash: bytes) -> Receipt:
        """Bind roles, libp2p peer id bytes and the capacity advert hash (32 bytes)."""
        return self.contract.transact(account, "register", int(roles), peer_id, advert_hash)

    def stake_and_register(
        self, account: LocalAccount, amount: int, roles: Role, peer_id: bytes, advert_hash: bytes
    ) -> Receipt:
        self.token.ensure_allowance(account, self.address, amount)
        return self.contract.transact(account, "stakeAndRegister", amount, int(roles), peer_id, advert_hash)

    def request_unbond(self, account: LocalAccount, amount: int) -> Receipt:
        return self.contract.transact(account, "requestUnbond", amount)

    def withdraw(self, account: LocalAccount) -> Receipt:
        return self.contract.transact(account, "withdraw")

    # -- views ----------------------------------------------------------------------------------

    def staker(self, account: str) -> Staker:
        active, unbonding, unbond_at, roles, advert, peer = self.contract.call(
            "stakerOf", to_checksum_address(account)
        )
        return Staker(
            int(active), int(unbonding), int(unbond_at), Role(int(roles)), bytes(advert), bytes(peer)
        )

    def peer_id_of(self, account: str) -> bytes:
        return bytes(self.contract.call("peerIdOf", to_checksum_address(account)))

    def is_provider(self, account: str) -> bool:
        return bool(self.contract.call("isProvider", to_checksum_address(account)))

    def is_verifier(self, account: str) -> bool:
        return bool(self.contract.call("isVerifier", to_checksum_address(account)))

    def verifiers(self) -> tuple[ChecksumAddress, ...]:
        return tuple(to_checksum_address(a) for a in self.contract.call("verifiers"))

    def duties_of(self, account: str) -> int:
        """Open audit / panel duties of ``account``: ``withdraw`` is refused while this is non-zero."""
        return int(self.contract.call("dutiesOf", to_checksum_address(account)))

    def total_staked(self) -> int:
        return int(self.contract.call("totalStaked"))

    def params(self) -> RegistryParams:
        return RegistryParams(
            min_provider_stake=int(self.contract.call("minProviderStake")),
            min_verifier_stake=int(self.contract.call("minVerifierStake")),
            unbond_delay=int(self.contract.call("unbondDelay")),
            market=to_checksum_address(self.contract.call("market")),
        )
