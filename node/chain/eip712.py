"""EIP-712 typed-data signing for our contracts (ERC-2612 permits, capacity-claim orders).

The domain is read from the contract itself through EIP-5267 ``eip712Domain()`` (OpenZeppelin's
``EIP712`` implements it), so the name, version, chain id and verifying contract can never drift
from what the contract checks. Signing uses eth-account's ``encode_typed_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from node.chain.contract import BoundContract


@dataclass(frozen=True)
class Eip712Domain:
    """The fields of an EIP-712 domain that our contracts use."""

    name: str
    version: str
    chain_id: int
    verifying_contract: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True)
class Signature:
    """A 65-byte secp256k1 signature, also split as ``(v, r, s)`` for contracts that take them apart."""

    v: int
    r: bytes
    s: bytes

    @property
    def packed(self) -> bytes:
        """``r ‖ s ‖ v``, the form OpenZeppelin's ``ECDSA.recover(hash, bytes)`` takes."""
        return self.r + self.s + bytes([self.v])


def read_domain(contract: BoundContract) -> Eip712Domain:
    """The contract's domain via EIP-5267 ``eip712Domain()``."""
    _fields, name, version, chain_id, verifying, _salt, _ext = contract.call("eip712Domain")
    return Eip712Domain(
        name=str(name),
        version=str(version),
        chain_id=int(chain_id),
        verifying_contract=to_checksum_address(verifying),
    )


_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def typed_message(
    domain: Eip712Domain,
    types: Mapping[str, list[dict[str, str]]],
    primary_type: str,
    message: Mapping[str, Any],
) -> dict[str, Any]:
    """The full EIP-712 structure eth-account's ``encode_typed_data`` takes."""
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, **types},
        "primaryType": primary_type,
        "domain": domain.as_dict(),
        "message": dict(message),
    }


def sign_typed(
    account: LocalAccount,
    domain: Eip712Domain,
    types: Mapping[str, list[dict[str, str]]],
    primary_type: str,
    message: Mapping[str, Any],
) -> Signature:
    """Sign ``message`` of ``primary_type`` under ``domain``."""
    signable = encode_typed_data(full_message=typed_message(domain, types, primary_type, message))
    signed = account.sign_message(signable)
    return Signature(
        v=int(signed.v), r=int(signed.r).to_bytes(32, "big"), s=int(signed.s).to_bytes(32, "big")
    )


def recover_typed(
    domain: Eip712Domain,
    types: Mapping[str, list[dict[str, str]]],
    primary_type: str,
    message: Mapping[str, Any],
    signature: Signature,
) -> ChecksumAddress:
    """The signer of a typed message (to check a gossiped order before relaying it)."""
    signable = encode_typed_data(full_message=typed_message(domain, types, primary_type, message))
    return to_checksum_address(Account.recover_message(signable, signature=signature.packed))
