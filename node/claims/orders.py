"""Signed sell orders as they travel and are stored: :class:`OrderMessage`.

One format for the gossip body (kind ``order`` on :data:`node.p2p.messages.ORDERS_TOPIC`), the
request/response protocols of :mod:`node.claims.service` and the local book. It is the EIP-712
``SellOrder`` plus the seller's 65-byte signature, bound to one deployment by ``chain_id`` and
``contract`` (the ``CapacityClaims`` address) so that an order for another chain or deployment is
recognised before any RPC is spent on it. uint256 fields travel as decimal strings, so no JSON
reader loses precision on prices in base units.

The order's id everywhere (book, CLI, ``cancel``) is its EIP-712 digest, the key under which the
contract tracks fills and cancellations (``orderHash``), as ``0x`` hex.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address

from node.chain.claims import Claims, SellOrder, SignedOrder
from node.chain.eip712 import Signature
from node.p2p.codec import SchemaError

_HEX = frozenset("0123456789abcdef")
MAX_UINT256 = 2**256 - 1


def _uint(field: str, value: str) -> int:
    if not value.isdigit() or len(value) > 78 or (len(value) > 1 and value[0] == "0"):
        raise SchemaError(field, "must be a decimal uint256 without leading zeros")
    number = int(value)
    if number > MAX_UINT256:
        raise SchemaError(field, "exceeds uint256")
    return number


def _address(field: str, value: str) -> None:
    if len(value) != 42 or not value.startswith("0x") or not set(value[2:].lower()) <= _HEX:
        raise SchemaError(field, "must be a 0x-prefixed 20-byte hex address")


@dataclass(frozen=True)
class OrderMessage:
    """A signed ``SellOrder`` for one deployment (see the module docstring)."""

    chain_id: int
    contract: str
    seller: str
    series_id: str
    amount: str
    price_per_token: str
    nonce: str
    expiry: str
    signature: bytes

    def __post_init__(self) -> None:
        if self.chain_id <= 0:
            raise SchemaError("chain_id", "must be positive")
        _address("contract", self.contract)
        _address("seller", self.seller)
        for name in ("series_id", "amount", "price_per_token", "nonce", "expiry"):
            _uint(name, getattr(self, name))
        if len(self.signature) != 65:
            raise SchemaError("signature", f"must be 65 bytes, got {len(self.signature)}")

    @classmethod
    def from_signed(cls, signed: SignedOrder, *, chain_id: int, contract: str) -> OrderMessage:
        o = signed.order
        return cls(
            chain_id=chain_id,
            contract=to_checksum_address(contract),
            seller=to_checksum_address(o.seller),
            series_id=str(o.series_id),
            amount=str(o.amount),
            price_per_token=str(o.price_per_token),
            nonce=str(o.nonce),
            expiry=str(o.expiry),
            signature=signed.signature.packed,
        )

    @property
    def order(self) -> SellOrder:
        return SellOrder(
            seller=to_checksum_address(self.seller),
            series_id=int(self.series_id),
            amount=int(self.amount),
            price_per_token=int(self.price_per_token),
            nonce=int(self.nonce),
            expiry=int(self.expiry),
        )

    @property
    def signed(self) -> SignedOrder:
        sig = self.signature
        return SignedOrder(self.order, Signature(v=sig[64], r=sig[:32], s=sig[32:64]))

    def digest(self, claims: Claims) -> str:
        """The order id: its EIP-712 digest under ``claims``' domain, as 0x hex."""
        return "0x" + claims.order_digest(self.order).hex()
