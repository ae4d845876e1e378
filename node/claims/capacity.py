"""Verified capacity for the claims market: from a judged capacity challenge to an on-chain attestation.

A verifier that challenged a provider (``node.capacity.challenge``: a random matmul with a deadline,
checked by Freivalds) posts the result to ``CapacityRegistry`` with a bond:
:func:`attest_capacity` converts the measured GFLOP/s per GPU to the normalized figure with the one
conversion (:func:`tokenomics.normalized.ppm_per_gpu`) and binds the challenge transcript by its
hash (:func:`evidence_hash`). A failed challenge posts ``gpus = 0``, which applies at once: the
provider cannot mint new series until a later challenge passes. A raise applies after the dispute
window (``finalize``); :func:`devnet_verify` moves a devnet's clock over it (tests, the demo).

Imports: node.chain, tokenomics (no torch: a :class:`~node.capacity.verified.CapacityRecord` is plain data).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.capacity.verified import CapacityRecord
from node.chain.capacity import Status, VerifiedCapacity
from node.chain.chain import Chain
from node.chain.market import commitment, new_secret
from node.claims.errors import ClaimsInputError
from node.claims.pricing import gpu_class_id
from node.store import Store


@dataclass(frozen=True)
class Attested:
    """One posted attestation: its id, the figures sent, and whether it is in force already."""

    attestation_id: int
    provider: str
    gpu_class: str
    gpus: int
    gflops_per_gpu: int
    ppm_per_gpu: int
    dtype: str
    applied: bool
    dispute_end: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def evidence_hash(record: CapacityRecord) -> bytes:
    """keccak256 of the challenge record as canonical JSON (sorted keys): what the attestation binds."""
    body = json.dumps(asdict(record), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return keccak(body)


def attest_capacity(
    chain: Chain,
    verifier: LocalAccount,
    *,
    provider: str,
    gpu_class: str,
    gpus: int,
    gflops_per_gpu: int,
    evidence: bytes,
    dtype: str = "float32",
    store: Store | None = None,
) -> Attested:
    """Post a capacity result for ``provider`` (``gpus = 0``: failed) with the registry's bond."""
    from tokenomics.errors import TokenomicsError
    from tokenomics.normalized import ppm_per_gpu

    if not 0 <= gpus < 2**32:
        raise ClaimsInputError("--gpus", "must be 0 (failed challenge) or a positive count below 2^32")
    if not 0 <= gflops_per_gpu < 2**64:
        raise ClaimsInputError("--gflops", "must be a non-negative integer below 2^64")
    if len(evidence) != 32 or evidence == bytes(32):
        raise ClaimsInputError("--evidence", "must be a non-zero 32-byte hash")
    try:
        ppm = ppm_per_gpu(gflops_per_gpu, dtype) if gpus else 0
    except TokenomicsError as exc:
        raise ClaimsInputError("--dtype", str(exc)) from None
    if gpus and ppm == 0:
        raise ClaimsInputError("--gflops", f"{gflops_per_gpu} GFLOP/s is below a millionth of the reference")
    class_id = gpu_class_id(gpu_class)
    # The attester's secret matters only if the attestation is disputed; kept when a store is given
    # (without it, a dispute counts the attester's secret as 0, which the contract allows).
    secret = new_secret()
    if store is not None:
        store.put_secret(commitment(secret), secret, job_id="", purpose="capacity-attester")
    attestation_id = chain.capacity.attest(
        verifier,
        provider=provider,
        gpu_class=class_id,
        gpus=gpus,
        gflops_per_gpu=gflops_per_gpu,
        ppm_per_gpu=ppm,
        evidence=evidence,
        secret_hash=commitment(secret),
    )
    record = chain.capacity.attestation(attestation_id)
    return Attested(
        attestation_id=attestation_id,
        provider=record.provider,
        gpu_class=gpu_class.strip().upper(),
        gpus=gpus,
        gflops_per_gpu=gflops_per_gpu,
        ppm_per_gpu=ppm,
        dtype=dtype,
        applied=record.applied,
        dispute_end=record.dispute_end,
    )


def attest_record(
    chain: Chain, verifier: LocalAccount, record: CapacityRecord, *, provider: str, gpu_class: str, gpus: int
) -> Attested:
    """Attest a judged challenge: a passing one at its achieved fp32 figure, a failing one as ``gpus = 0``."""
    return attest_capacity(
        chain,
        verifier,
        provider=provider,
        gpu_class=gpu_class,
        gpus=gpus if record.passed else 0,
        gflops_per_gpu=record.achieved_gflops,
        evidence=evidence_hash(record),
        dtype="float32",
    )


def finalize(chain: Chain, account: LocalAccount, attestation_id: int) -> Status:
    """End an attestation once its dispute window (or vote) is over; anyone may."""
    return chain.capacity.finalize(account, attestation_id)


def devnet_verify(
    chain: Chain,
    verifier: LocalAccount,
    *,
    provider: str,
    gpu_class: str,
    gpus: int,
    gflops_per_gpu: int,
    dtype: str = "float32",
    evidence: bytes | None = None,
) -> VerifiedCapacity:
    """Devnet only: attest, move the clock over the dispute window, finalize; the capacity in force."""
    body = f"devnet capacity {provider} {gpu_class} {gpus} {gflops_per_gpu} {chain.client.timestamp()}"
    attested = attest_capacity(
        chain,
        verifier,
        provider=provider,
        gpu_class=gpu_class,
        gpus=gpus,
        gflops_per_gpu=gflops_per_gpu,
        evidence=evidence or keccak(body.encode()),
        dtype=dtype,
    )
    if not attested.applied:
        wait = attested.dispute_end - chain.client.timestamp()
        chain.increase_time(max(wait, 0) + 1)
        finalize(chain, verifier, attested.attestation_id)
    return chain.capacity.capacity_of(provider, gpu_class_id(gpu_class))
