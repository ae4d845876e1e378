"""Typed wrapper of ``CapacityClaims``: series of future GPU-hours (ERC-1155) and signed sell orders.

A sell order is EIP-712 typed data ``SellOrder(seller, seriesId, amount, pricePerToken, nonce,
expiry)`` under the contract's domain (``CapacityClaims``, version ``1``); orders are signed here, in
Python, gossiped off chain, and filled on chain by a buyer (partially if wanted). The order hash the
contract tracks fills and cancellations by is computed on chain (``orderHash``) and locally
(:meth:`Claims.order_digest`), and the two must agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

from node.chain.client import Receipt
from node.chain.contract import BoundContract
from node.chain.eip712 import Eip712Domain, Signature, read_domain, recover_typed, sign_typed, typed_message
from node.chain.market import Market
from node.chain.token import Token

ORDER_TYPES = {
    "SellOrder": [
        {"name": "seller", "type": "address"},
        {"name": "seriesId", "type": "uint256"},
        {"name": "amount", "type": "uint256"},
        {"name": "pricePerToken", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
    ]
}


@dataclass(frozen=True)
class Series:
    """A claim series: ``supply`` GPU-hours of ``gpu_class`` (throughput floor ``floor``) in a window.

    ``ppm_per_gpu``: H100e-hours per token in millionths (the provider's verified figure at creation);
    ``region``: the declared jurisdiction code, ``b""`` when none was declared.
    """

    series_id: int
    provider: ChecksumAddress
    floor: int
    released: bool
    window_start: int
    window_end: int
    region: bytes
    ppm_per_gpu: int
    gpu_class: bytes
    supply: int
    redeemed: int
    collateral_per_token: int

    @property
    def normalized_micro(self) -> int:
        """The series' size in micro-H100e-hours (``supply * ppm_per_gpu``), as the chain computes it."""
        return self.supply * self.ppm_per_gpu

    @property
    def region_code(self) -> str:
        """The region as text (``""`` when none was declared)."""
        return decode_region(self.region)


@dataclass(frozen=True)
class SellOrder:
    """An offer to sell up to ``amount`` claims of ``series_id`` at ``price_per_token`` until ``expiry``."""

    seller: ChecksumAddress
    series_id: int
    amount: int
    price_per_token: int
    nonce: int
    expiry: int

    def message(self) -> dict[str, Any]:
        """The EIP-712 message (field names as in Solidity)."""
        return {
            "seller": self.seller,
            "seriesId": self.series_id,
            "amount": self.amount,
            "pricePerToken": self.price_per_token,
            "nonce": self.nonce,
            "expiry": self.expiry,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple for ``fill`` / ``cancelOrder`` / ``orderHash``."""
        return (self.seller, self.series_id, self.amount, self.price_per_token, self.nonce, self.expiry)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SignedOrder:
    """A sell order with its seller's signature (what is gossiped)."""

    order: SellOrder
    signature: Signature


@dataclass(frozen=True)
class Redemption:
    """The outcome of a redemption: the prepaid job opened in ``JobMarket``."""

    series_id: int
    amount: int
    job_id: int
    collateral: int
    fee: int
    commit_by: int
    receipt: Receipt


class Claims:
    """``CapacityClaims`` at one address."""

    def __init__(self, contract: BoundContract, token: Token, market: Market) -> None:
        self.contract = contract
        self.address = contract.address
        self.token = token
        self.market = market
        self._domain: Eip712Domain | None = None

    # -- series ---------------------------------------------------------------------------------

    def create_series(
        self,
        provider: LocalAccount,
        *,
        gpu_class: bytes,
        floor: int,
        window_start: int,
        window_end: int,
        supply: int,
        collateral_per_token: int,
        region: bytes = b"",
    ) -> int:
        """Lock ``supply * collateral_per_token`` tokens and mint the series to the provider; its id.

        ``region`` is the declared jurisdiction code (:func:`encode_region`); the chain refuses the
        series unless the provider's verified capacity of the class covers it.
        """
        self.token.ensure_allowance(provider, self.address, supply * collateral_per_token)
        receipt = self.contract.transact(
            provider,
            "createSeries",
            gpu_class,
            floor,
            region.ljust(8, b"\0"),
            window_start,
            window_end,
            supply,
            collateral_per_token,
        )
        (event,) = self.contract.receipt_events(receipt, "SeriesCreated")
        return int(event.args["seriesId"])

    def release_collateral(self, account: LocalAccount, series_id: int) -> int:
        """After the window: send the unredeemed collateral back to the provider (anyone may call)."""
        receipt = self.contract.transact(account, "releaseCollateral", series_id)
        (event,) = self.contract.receipt_events(receipt, "CollateralReleased")
        return int(event.args["amount"])

    def redeem(
        self,
        holder: LocalAccount,
        series_id: int,
        amount: int,
        spec_hash: bytes,
        *,
        secret_hash: bytes,
        min_units: int = 0,
        max_units: int = 0,
    ) -> Redemption:
        """Burn ``amount`` claims during the window and open a prepaid job with the series' provider,
        scheduled after the series' earlier redemptions. The holder pays the market's minimum fee (its
        auditor's pay; approved here if needed) and commits to its audit secret (``secret_hash``)."""
        self.token.ensure_allowance(holder, self.address, self.market.params().min_fee)
        receipt = self.contract.transact(
            holder, "redeem", series_id, amount, spec_hash, min_units, max_units, secret_hash
        )
        (event,) = self.contract.receipt_events(receipt, "Redeemed")
        return Redemption(
            series_id=series_id,
            amount=amount,
            job_id=int(event.args["jobId"]),
            collateral=int(event.args["collateral"]),
            fee=int(event.args["fee"]),
            commit_by=int(event.args["commitBy"]),
            receipt=receipt,
        )

    # -- orders ---------------------------------------------------------------------------------

    def domain(self) -> Eip712Domain:
        if self._domain is None:
            self._domain = read_domain(self.contract)
        return self._domain

    def sign_order(
        self, seller: LocalAccount, order: SellOrder, *, domain: Eip712Domain | None = None
    ) -> SignedOrder:
        """Sign ``order`` as ``seller`` (``domain`` overrides the contract's, for tests of bad input)."""
        if to_checksum_address(seller.address) != order.seller:
            raise ValueError("the order's seller is not the signing account")
        signature = sign_typed(seller, domain or self.domain(), ORDER_TYPES, "SellOrder", order.message())
        return SignedOrder(order, signature)

    def order_signer(self, signed: SignedOrder) -> ChecksumAddress:
        """Who signed this order under this contract's domain (check before relaying)."""
        return recover_typed(
            self.domain(), ORDER_TYPES, "SellOrder", signed.order.message(), signed.signature
        )

    def order_digest(self, order: SellOrder) -> bytes:
        """The EIP-712 digest, computed locally; equals the contract's ``orderHash``."""
        signable = encode_typed_data(
            full_message=typed_message(self.domain(), ORDER_TYPES, "SellOrder", order.message())
        )
        return keccak(b"\x19" + signable.version + signable.header + signable.body)

    def order_hash(self, order: SellOrder) -> bytes:
        """The contract's ``orderHash`` (its key for fills and cancellations)."""
        return bytes(self.contract.call("orderHash", order.as_tuple()))

    def fill(self, buyer: LocalAccount, signed: SignedOrder, amount: int) -> int:
        """Buy ``amount`` claims from a signed order (approving the payment first); returns the payment."""
        self.token.ensure_allowance(buyer, self.address, amount * signed.order.price_per_token)
        receipt = self.contract.transact(
            buyer, "fill", signed.order.as_tuple(), signed.signature.packed, amount
        )
        (event,) = self.contract.receipt_events(receipt, "OrderFilled")
        return int(event.args["payment"])

    def cancel_order(self, seller: LocalAccount, order: SellOrder) -> Receipt:
        return self.contract.transact(seller, "cancelOrder", order.as_tuple())

    def cancel_all_before(self, seller: LocalAccount, min_nonce: int) -> Receipt:
        return self.contract.transact(seller, "cancelAllBefore", min_nonce)

    # -- views ----------------------------------------------------------------------------------

    def series(self, series_id: int) -> Series:
        (provider, floor, released, start, end, region, ppm, gpu_class, supply, redeemed, cpt) = (
            self.contract.call("series", series_id)
        )
        return Series(
            series_id=series_id,
            provider=to_checksum_address(provider),
            floor=int(floor),
            released=bool(released),
            window_start=int(start),
            window_end=int(end),
            region=bytes(region).rstrip(b"\0"),
            ppm_per_gpu=int(ppm),
            gpu_class=bytes(gpu_class),
            supply=int(supply),
            redeemed=int(redeemed),
            collateral_per_token=int(cpt),
        )

    def series_count(self) -> int:
        return int(self.contract.call("seriesCount"))

    def balance_of(self, account: str, series_id: int) -> int:
        return int(self.contract.call("balanceOf", to_checksum_address(account), series_id))

    def filled(self, order_hash: bytes) -> int:
        return int(self.contract.call("filled", order_hash))

    def cancelled(self, order_hash: bytes) -> bool:
        return bool(self.contract.call("cancelled", order_hash))

    def min_nonce(self, seller: str) -> int:
        return int(self.contract.call("minNonce", to_checksum_address(seller)))

    def locked_collateral(self, series_id: int) -> int:
        return int(self.contract.call("lockedCollateral", series_id))

    def total_owed(self) -> int:
        return int(self.contract.call("totalOwed"))

    def reserved_at(self, provider: str, gpu_class: bytes, at: int) -> int:
        """GPUs of ``gpu_class`` reserved by ``provider``'s live series at unix second ``at``."""
        return int(self.contract.call("reservedAt", to_checksum_address(provider), gpu_class, at))

    def reserved_gpus(self, series_id: int) -> int:
        return int(self.contract.call("reservedGpus", series_id))


REGION_BYTES = 8
_REGION_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def encode_region(text: str) -> bytes:
    """A region code as the chain keeps it: upper-case ASCII, at most 8 characters of A-Z, 0-9 and
    ``-`` (ISO 3166-1 alpha-2 like ``DE``, a subdivision like ``US-CA``, or ``EU``); ``""`` → ``b""``."""
    code = text.strip().upper()
    if len(code) > REGION_BYTES or not set(code) <= _REGION_CHARS:
        raise ValueError(f"region {text!r} must be up to {REGION_BYTES} characters of A-Z, 0-9 and '-'")
    return code.encode("ascii")


def decode_region(raw: bytes) -> str:
    """The text of an on-chain region (trailing zero bytes dropped)."""
    return bytes(raw).rstrip(b"\0").decode("ascii", errors="replace")
