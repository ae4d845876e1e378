"""Typed wrapper of ``CapacityRegistry``: verified GPU capacity attested by staked verifiers.

A verifier that ran a capacity challenge against a provider (``node.capacity.challenge``) posts the
result with a bond (:meth:`CapacityRegistry.attest`): GPUs verified (0 = failed), measured GFLOP/s
per GPU, the normalized figure (H100e per GPU-hour in millionths, from
:func:`tokenomics.normalized.ppm_per_gpu`) and the hash of the challenge transcript. A figure in
which nothing rises applies at once; a raise after the dispute window (:meth:`finalize`). Anyone
but the attester may :meth:`dispute` (same bond); a drawn panel :meth:`vote`s. ``CapacityClaims``
caps issuance by :meth:`capacity_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

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


@dataclass(frozen=True)
class VerifiedCapacity:
    """The capacity in force for one (provider, GPU class); ``attestation_id`` 0 = never verified."""

    gpus: int
    ppm_per_gpu: int
    attestation_id: int


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
    vote_end: int
    disputer: ChecksumAddress
    status: Status
    applied: bool


class CapacityRegistry:
    """``CapacityRegistry`` at one address."""

    def __init__(self, contract: BoundContract, token: Token) -> None:
        self.contract = contract
        self.address = contract.address
        self.token = token

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
        evidence: bytes,
    ) -> int:
        """Post a challenge result with the bond (approved first if needed); the attestation id."""
        self.token.ensure_allowance(verifier, self.address, self.bond())
        receipt = self.contract.transact(
            verifier,
            "attest",
            to_checksum_address(provider),
            gpu_class,
            gpus,
            gflops_per_gpu,
            ppm_per_gpu,
            evidence,
        )
        (event,) = self.contract.receipt_events(receipt, "CapacityAttested")
        return int(event.args["id"])

    def dispute(self, account: LocalAccount, attestation_id: int) -> list[ChecksumAddress]:
        """Dispute a pending attestation (bond approved first); the panel drawn."""
        self.token.ensure_allowance(account, self.address, self.bond())
        receipt = self.contract.transact(account, "dispute", attestation_id)
        (event,) = self.contract.receipt_events(receipt, "CapacityDisputed")
        return [to_checksum_address(a) for a in event.args["panel"]]

    def vote(self, member: LocalAccount, attestation_id: int, *, uphold: bool) -> Receipt:
        return self.contract.transact(member, "vote", attestation_id, uphold)

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

    def capacity_of(self, provider: str, gpu_class: bytes) -> VerifiedCapacity:
        gpus, ppm, attestation_id = self.contract.call("capacity", to_checksum_address(provider), gpu_class)
        return VerifiedCapacity(gpus=int(gpus), ppm_per_gpu=int(ppm), attestation_id=int(attestation_id))

    def attestation(self, attestation_id: int) -> Attestation:
        raw = self.contract.call("attestation", attestation_id)
        (
            verifier,
            dispute_end,
            gpus,
            provider,
            vote_end,
            ppm,
            disputer,
            status,
            _panel,
            _up,
            _down,
            applied,
            _pg,
            _pp,
            _pid,
            gflops,
            gpu_class,
            evidence,
        ) = raw
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
            vote_end=int(vote_end),
            disputer=to_checksum_address(disputer),
            status=Status(int(status)),
            applied=bool(applied),
        )

    def attestation_count(self) -> int:
        return int(self.contract.call("attestationCount"))

    def total_owed(self) -> int:
        return int(self.contract.call("totalOwed"))
