"""Typed wrapper of ``ComputeToken``: an ERC-20 with EIP-2612 permit.

Amounts are integers in the smallest unit (18 decimals). :meth:`Token.sign_permit` builds the
permit signature in Python so a consumer can escrow a job's price in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from node.chain.client import Receipt
from node.chain.contract import BoundContract
from node.chain.eip712 import Eip712Domain, Signature, read_domain, sign_typed

#: One whole token in the smallest unit.
TOKEN = 10**18

PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


@dataclass(frozen=True)
class Permit:
    """A signed EIP-2612 permit: ``owner`` lets ``spender`` move ``value`` until ``deadline``."""

    owner: ChecksumAddress
    spender: ChecksumAddress
    value: int
    deadline: int
    signature: Signature


class Token:
    """``ComputeToken`` at one address."""

    def __init__(self, contract: BoundContract) -> None:
        self.contract = contract
        self.address = contract.address
        self._domain: Eip712Domain | None = None

    def balance_of(self, account: str) -> int:
        return int(self.contract.call("balanceOf", to_checksum_address(account)))

    def allowance(self, owner: str, spender: str) -> int:
        return int(self.contract.call("allowance", to_checksum_address(owner), to_checksum_address(spender)))

    def total_supply(self) -> int:
        return int(self.contract.call("totalSupply"))

    def nonce_of(self, owner: str) -> int:
        """The owner's next permit nonce."""
        return int(self.contract.call("nonces", to_checksum_address(owner)))

    def approve(self, account: LocalAccount, spender: str, amount: int) -> Receipt:
        return self.contract.transact(account, "approve", to_checksum_address(spender), amount)

    def transfer(self, account: LocalAccount, to: str, amount: int) -> Receipt:
        return self.contract.transact(account, "transfer", to_checksum_address(to), amount)

    def ensure_allowance(self, account: LocalAccount, spender: str, amount: int) -> Receipt | None:
        """Approve ``amount`` for ``spender`` unless at least that much is already allowed."""
        if self.allowance(account.address, spender) >= amount:
            return None
        return self.approve(account, spender, amount)

    def domain(self) -> Eip712Domain:
        if self._domain is None:
            self._domain = read_domain(self.contract)
        return self._domain

    def sign_permit(
        self, owner: LocalAccount, spender: str, value: int, *, deadline: int, nonce: int | None = None
    ) -> Permit:
        """Sign an EIP-2612 permit off chain (``nonce`` defaults to the owner's current one)."""
        spender_cs = to_checksum_address(spender)
        owner_cs = to_checksum_address(owner.address)
        message = {
            "owner": owner_cs,
            "spender": spender_cs,
            "value": value,
            "nonce": self.nonce_of(owner_cs) if nonce is None else nonce,
            "deadline": deadline,
        }
        signature = sign_typed(owner, self.domain(), PERMIT_TYPES, "Permit", message)
        return Permit(owner_cs, spender_cs, value, deadline, signature)

    def permit(self, sender: LocalAccount, permit: Permit) -> Receipt:
        """Submit a permit (anyone may send it)."""
        sig = permit.signature
        return self.contract.transact(
            sender, "permit", permit.owner, permit.spender, permit.value, permit.deadline, sig.v, sig.r, sig.s
        )
