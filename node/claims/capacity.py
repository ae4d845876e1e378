"""Verified capacity for the claims market: from a judged capacity challenge to an on-chain attestation.

A verifier that challenged a provider (``node.capacity.challenge``: a random matmul with a deadline,
checked by Freivalds) posts the result to ``CapacityRegistry`` with a bond:
:func:`attest_capacity` converts the measured GFLOP/s per GPU to the normalized figure with the one
conversion (:func:`tokenomics.normalized.ppm_per_gpu`) and binds the challenge transcript by its
hash (:func:`evidence_hash`), with the dtype challenged, the hash of the provider's signed advert
(default: the one it registered on chain) and the ids of the NVML UUIDs that advert declares. A
failed challenge posts ``gpus = 0``, which applies at once: the provider cannot mint new series until
a later challenge passes. A raise applies after the dispute window (``finalize``); :func:`devnet_verify`
moves a devnet's clock over it (tests, the demo). A figure is fresh for the registry's re-attest period
after it was posted; a provider is re-challenged before it goes stale, or sells no new series.

Imports: node.chain, tokenomics (no torch: a :class:`~node.capacity.verified.CapacityRecord` is plain data).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.capacity.verified import CapacityRecord
from node.chain.capacity import Status, VerifiedCapacity, gpu_id
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
    advert_hash: str
    gpu_uuids: tuple[str, ...]

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
    advert_hash: bytes | None = None,
    gpu_uuids: Sequence[str] = (),
    store: Store | None = None,
) -> Attested:
    """Post a capacity result for ``provider`` (``gpus = 0``: failed) with the registry's bond.

    ``advert_hash``: the signed advert that was challenged (default: the one ``provider`` registered
    on chain); ``gpu_uuids``: the NVML UUIDs that advert declares (none for a CPU or a failure)."""
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
    if advert_hash is None:
        advert_hash = chain.registry.staker(provider).advert_hash
    if len(advert_hash) != 32 or advert_hash == bytes(32):
        raise ClaimsInputError("--advert-hash", "must be a non-zero 32-byte hash (none registered on chain)")
    uuids = tuple(sorted({u.strip() for u in gpu_uuids if u.strip()}))
    if len(uuids) > gpus:
        raise ClaimsInputError("--gpu-uuid", f"{len(uuids)} GPU UUIDs for {gpus} GPUs verified")
    if not 0 < len(dtype.encode()) <= 8 or not dtype.isascii():
        raise ClaimsInputError("--dtype", f"{dtype!r} is not a dtype name")
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
        dtype=dtype,
        advert_hash=advert_hash,
        gpu_ids=[gpu_id(u) for u in uuids],
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
        advert_hash="0x" + advert_hash.hex(),
        gpu_uuids=uuids,
    )


def attest_record(
    chain: Chain,
    verifier: LocalAccount,
    record: CapacityRecord,
    *,
    provider: str,
    gpu_class: str,
    gpus: int,
    advert_hash: bytes | None = None,
    gpu_uuids: Sequence[str] = (),
) -> Attested:
    """Attest a judged fp32 challenge: a passing one at its achieved figure, a failing one as ``gpus = 0``."""
    return attest_capacity(
        chain,
        verifier,
        provider=provider,
        gpu_class=gpu_class,
        gpus=gpus if record.passed else 0,
        gflops_per_gpu=record.achieved_gflops,
        evidence=evidence_hash(record),
        dtype="float32",
        advert_hash=advert_hash,
        gpu_uuids=gpu_uuids if record.passed else (),
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
    gpu_uuids: Sequence[str] = (),
) -> VerifiedCapacity:
    """Devnet only: attest, move the clock over the dispute window, finalize; the capacity in force.

    The advert is the one ``provider`` registered, or a stand-in hash when it registered none."""
    body = f"devnet capacity {provider} {gpu_class} {gpus} {gflops_per_gpu} {chain.client.timestamp()}"
    advert = chain.registry.staker(provider).advert_hash
    if advert == bytes(32):
        advert = keccak(("advert " + body).encode())
    attested = attest_capacity(
        chain,
        verifier,
        provider=provider,
        gpu_class=gpu_class,
        gpus=gpus,
        gflops_per_gpu=gflops_per_gpu,
        evidence=evidence or keccak(body.encode()),
        dtype=dtype,
        advert_hash=advert,
        gpu_uuids=gpu_uuids,
    )
    if not attested.applied:
        wait = attested.dispute_end - chain.client.timestamp()
        chain.increase_time(max(wait, 0) + 1)
        finalize(chain, verifier, attested.attestation_id)
    return chain.capacity.capacity_of(provider, gpu_class_id(gpu_class))
