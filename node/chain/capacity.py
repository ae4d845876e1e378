"""Typed wrapper of ``CapacityRegistry``: verified GPU capacity attested by staked verifiers.

A verifier that ran a capacity challenge against a provider (``node.capacity.challenge``) posts the
result with a bond (:meth:`CapacityRegistry.attest`): GPUs verified (0 = failed), measured GFLOP/s
per GPU, the normalized figure (H100e per GPU-hour in millionths, from
:func:`tokenomics.normalized.ppm_per_gpu`) and the hash of the challenge transcript. A figure in
which nothing rises applies at once; a raise after the dispute window (:meth:`finalize`). Anyone
but the attester may :meth:`dispute` (same bond and the hash of a secret); the attester then the
disputer reveal their secrets, which draws a stake-weighted panel whose members commit and then
reveal ballots. The capacity in force is the newest standing attestation's; it is *fresh* for the
registry's ``reattestPeriod`` after that attestation was posted and stale after (``CapacityClaims``
caps issuance by :meth:`capacity_of` and refuses series on a stale figure). An attestation carries
the dtype challenged, the hash of the provider's signed advert and :func:`gpu_id` of each NVML UUID
the advert declares; the registry refuses a GPU id another provider holds (declared, not proven).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

from node.chain.client import Receipt
from node.chain.contract import BoundContract
from node.chain.token import Token


class Status(IntEnum):
    """``CapacityRegistry.Status``."""

    NONE = 0
    PENDING = 1
    DISPUTED = 2
    FINAL = 3
    UPHELD = 4
    OVERTURNED = 5
    VOID = 6
    VOTING = 7
    FORFEITED = 8


def gpu_id(uuid: str) -> bytes:
    """The registry's id of a GPU: keccak256 of its NVML UUID as the probe reports it (``GPU-…``)."""
    return bytes(keccak(uuid.strip().encode("utf-8")))


def dtype_bytes(dtype: str) -> bytes:
    """A dtype name as the registry's ``bytes8`` (ASCII, left-aligned, zero-padded)."""
    raw = dtype.encode("ascii")
    if not 0 < len(raw) <= 8:
        raise ValueError(f"dtype {dtype!r} must be 1 to 8 ASCII characters")
    return raw.ljust(8, b"\0")


@dataclass(frozen=True)
class VerifiedCapacity:
    """The capacity in force for one (provider, GPU class); ``attestation_id`` 0 = never verified.

    ``attested_at``: when the attestation in force was posted (its measurement); ``expires_at``: the
    first second at which the figure is stale unless re-attested (both 0 when none is in force).
    """

    gpus: int
    ppm_per_gpu: int
    attestation_id: int
    attested_at: int = 0
    expires_at: int = 0

    def fresh(self, now: int) -> bool:
        """Whether the figure can back a new claims series at chain time ``now``."""
        return self.gpus > 0 and now < self.expires_at


@dataclass(frozen=True)
class Attestation:
    """One attested challenge result (see the contract for the fields)."""

    attestation_id: int
    verifier: ChecksumAddress
    provider: ChecksumAddress
    gpu_class: bytes
    gpus: int
    gflops_per_gpu: int
    ppm_per_gpu: int
    evidence: bytes
    dispute_end: int
    deadline: int
    disputer: ChecksumAddress
    status: Status
    immediate: bool
    applied: bool
    dtype: str


class CapacityRegistry:
    """``CapacityRegistry`` at one address."""

    def __init__(self, contract: BoundContract, token: Token) -> None:
        self.contract = contract
        self.address = contract.address
        self.token = token
        self._reattest_period: int | None = None

    # -- writes ---------------------------------------------------------------------------------

    def attest(
        self,
        verifier: LocalAccount,
        *,
        provider: str,
        gpu_class: bytes,
        gpus: int,
        gflops_per_gpu: int,
        ppm_per_gpu: int,
        dtype: str,
        advert_hash: bytes,
        gpu_ids: Sequence[bytes] = (),
        evidence: bytes,
        secret_hash: bytes,
    ) -> int:
        """Post a challenge result with the bond (approved first if needed) and the ``commitment()`` of
        the attester's secret (revealed only if disputed); the attestation id.

        ``dtype`` is the dtype challenged, ``advert_hash`` the hash of the provider's signed advert that
        was challenged, ``gpu_ids`` :func:`gpu_id` of each NVML UUID it declares (sent sorted)."""
        self.token.ensure_allowance(verifier, self.address, self.bond())
        receipt = self.contract.transact(
            verifier,
            "attest",
            to_checksum_address(provider),
            gpu_class,
            gpus,
            gflops_per_gpu,
            ppm_per_gpu,
            dtype_bytes(dtype),
            advert_hash,
            sorted(set(gpu_ids)),
            evidence,
            secret_hash,
        )
        (event,) = self.contract.receipt_events(receipt, "CapacityAttested")
        return int(event.args["id"])

    def dispute(self, account: LocalAccount, attestation_id: int, *, secret_hash: bytes) -> Receipt:
        """Dispute a pending attestation (bond approved first) with ``commitment()`` of a secret."""
        self.token.ensure_allowance(account, self.address, self.bond())
        return self.contract.transact(account, "dispute", attestation_id, secret_hash)

    def reveal_attester_secret(self, sender: LocalAccount, attestation_id: int, secret: bytes) -> Receipt:
        return self.contract.transact(sender, "revealAttesterSecret", attestation_id, secret)

    def reveal_disputer_secret(
        self, sender: LocalAccount, attestation_id: int, secret: bytes
    ) -> list[ChecksumAddress]:
        """The disputer's reveal fixes the seed and draws the panel; its seats."""
        receipt = self.contract.transact(sender, "revealDisputerSecret", attestation_id, secret)
        events = self.contract.receipt_events(receipt, "PanelDrawn")
        return [to_checksum_address(a) for e in events for a in e.args["panel"]]

    def commit_vote(self, member: LocalAccount, attestation_id: int, ballot_hash: bytes) -> Receipt:
        """Commit ``keccak256(abi.encode(id, member, uphold, salt))``."""
        return self.contract.transact(member, "commitVote", attestation_id, ballot_hash)

    def reveal_vote(self, member: LocalAccount, attestation_id: int, *, uphold: bool, salt: bytes) -> Receipt:
        return self.contract.transact(member, "revealVote", attestation_id, uphold, salt)

    def finalize(self, account: LocalAccount, attestation_id: int) -> Status:
        """End an attestation (anyone may); its final status."""
        receipt = self.contract.transact(account, "finalize", attestation_id)
        (event,) = self.contract.receipt_events(receipt, "AttestationFinalized")
        return Status(int(event.args["status"]))

    # -- views ----------------------------------------------------------------------------------

    def bond(self) -> int:
        return int(self.contract.call("bond"))

    def dispute_window(self) -> int:
        return int(self.contract.call("disputeWindow"))

    def reattest_period(self) -> int:
        """Seconds a figure stays fresh after its attestation (immutable: read once)."""
        if self._reattest_period is None:
            self._reattest_period = int(self.contract.call("reattestPeriod"))
        return self._reattest_period

    def capacity_of(self, provider: str, gpu_class: bytes) -> VerifiedCapacity:
        gpus, ppm, attestation_id, _latest, attested_at = self.contract.call(
            "capacity", to_checksum_address(provider), gpu_class
        )
        expires_at = int(attested_at) + self.reattest_period() if attestation_id else 0
        return VerifiedCapacity(
            gpus=int(gpus), ppm_per_gpu=int(ppm), attestation_id=int(attestation_id),
            attested_at=int(attested_at) if attestation_id else 0, expires_at=expires_at,
        )

    def gpu_holder(self, uuid: str) -> ChecksumAddress | None:
        """The provider holding the GPU with this NVML UUID now (``None``: free)."""
        holder = to_checksum_address(self.contract.call("gpuHolder", gpu_id(uuid)))
        return None if int(holder, 16) == 0 else holder

    def attestation(self, attestation_id: int) -> Attestation:
        raw = self.contract.call("attestation", attestation_id)
        (
            verifier,
            dispute_end,
            gpus,
            provider,
            deadline,
            ppm,
            disputer,
            status,
            immediate,
            _attester_revealed,
            _seats,
            _up,
            _down,
            gflops,
            _snapshot,
            _older,
            dtype,
            gpu_class,
            evidence,
            _attester_secret,
            _disputer_secret,
            _seed,
        ) = raw
        in_force = self.capacity_of(provider, bytes(gpu_class)).attestation_id
        return Attestation(
            attestation_id=attestation_id,
            verifier=to_checksum_address(verifier),
            provider=to_checksum_address(provider),
            gpu_class=bytes(gpu_class),
            gpus=int(gpus),
            gflops_per_gpu=int(gflops),
            ppm_per_gpu=int(ppm),
            evidence=bytes(evidence),
            dispute_end=int(dispute_end),
            deadline=int(deadline),
            disputer=to_checksum_address(disputer),
            status=Status(int(status)),
            immediate=bool(immediate),
            applied=in_force == attestation_id,
            dtype=bytes(dtype).rstrip(b"\0").decode("ascii", "replace"),
        )

    def attestation_count(self) -> int:
        return int(self.contract.call("attestationCount"))

    def total_owed(self) -> int:
        return int(self.contract.call("totalOwed"))
