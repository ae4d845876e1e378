"""Protocol ids and the wire messages of the /ccm/ request/response protocols.

Every message is a frozen dataclass that :mod:`node.p2p.codec` encodes as canonical JSON and checks
field by field on the way in; ``__post_init__`` adds the range checks that types alone cannot say
(digest length, non-negative offsets, bounded lists), raising :class:`SchemaError` with the field.

Bulk bytes never go inside JSON: a blob's chunks and an audit unit's tensor bytes follow their JSON
header as data frames (see :mod:`node.p2p.blob` and :func:`write_audit_response`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.p2p.codec import FrameStream, SchemaError

JOB_PROTOCOL = "/ccm/job/1.0.0"
BLOB_PROTOCOL = "/ccm/blob/1.0.0"
AUDIT_PROTOCOL = "/ccm/audit/1.0.0"
CAPACITY_PROTOCOL = "/ccm/capacity/2.0.0"

OFFERS_TOPIC = "/ccm/offers/1"
ORDERS_TOPIC = "/ccm/orders/1"

MAX_AUDIT_INDICES = 1024
MAX_TENSOR_RANK = 8
_HEX = frozenset("0123456789abcdef")


def _check_bytes32(field: str, value: bytes) -> None:
    if len(value) != 32:
        raise SchemaError(field, f"must be 32 bytes, got {len(value)}")


def _check_nonneg(field: str, value: int) -> None:
    if value < 0:
        raise SchemaError(field, "must not be negative")


def _check_address(field: str, value: str) -> None:
    if len(value) != 42 or not value.startswith("0x") or not set(value[2:].lower()) <= _HEX:
        raise SchemaError(field, "must be a 0x-prefixed 20-byte hex address")


# --- job ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobProposal:
    """A consumer asks a provider to run a job (sent on :data:`JOB_PROTOCOL`).

    ``spec`` is the canonical job spec (validated by the workloads layer), ``spec_hash`` its
    keccak256; ``price`` in the token's smallest unit; ``deadline`` in unix seconds; ``job_id`` the
    on-chain id of the job the consumer already posted (escrowed) for this spec.
    """

    spec: dict[str, Any]
    spec_hash: bytes
    price: int
    consumer: str
    deadline: int
    job_id: int | None = None

    def __post_init__(self) -> None:
        _check_bytes32("spec_hash", self.spec_hash)
        _check_nonneg("price", self.price)
        _check_nonneg("deadline", self.deadline)
        _check_address("consumer", self.consumer)
        if self.job_id is not None:
            _check_nonneg("job_id", self.job_id)


@dataclass(frozen=True)
class JobAccept:
    """A provider's answer to a :class:`JobProposal`; ``reason`` says why when not ``accepted``."""

    spec_hash: bytes
    accepted: bool
    provider: str
    reason: str = ""
    job_id: int | None = None

    def __post_init__(self) -> None:
        _check_bytes32("spec_hash", self.spec_hash)
        _check_address("provider", self.provider)
        if self.job_id is not None:
            _check_nonneg("job_id", self.job_id)


# --- blob --------------------------------------------------------------------------------------


def _check_digest(field: str, value: str) -> None:
    if len(value) != 64 or not set(value) <= _HEX:
        raise SchemaError(field, "must be 64 lowercase hex characters")


@dataclass(frozen=True)
class BlobRequest:
    """Ask for blob ``digest`` from byte ``offset`` on (a resumed download asks for its offset)."""

    digest: str
    offset: int = 0

    def __post_init__(self) -> None:
        _check_digest("digest", self.digest)
        _check_nonneg("offset", self.offset)


@dataclass(frozen=True)
class BlobHeader:
    """The server's reply before the chunks: the blob's total ``size`` and the ``offset`` it starts at.

    Data frames of at most ``chunk_size`` bytes follow until ``size - offset`` bytes have been sent.
    """

    digest: str
    size: int
    offset: int
    chunk_size: int

    def __post_init__(self) -> None:
        _check_digest("digest", self.digest)
        _check_nonneg("size", self.size)
        _check_nonneg("offset", self.offset)
        if self.offset > self.size:
            raise SchemaError("offset", "must not exceed size")
        if self.chunk_size <= 0:
            raise SchemaError("chunk_size", "must be positive")


# --- audit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRequest:
    """A verifier asks a provider for the sampled units of ``job_id`` with their Merkle proofs."""

    job_id: int
    indices: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_nonneg("job_id", self.job_id)
        if not self.indices:
            raise SchemaError("indices", "must not be empty")
        if len(self.indices) > MAX_AUDIT_INDICES:
            raise SchemaError("indices", f"at most {MAX_AUDIT_INDICES} indices")
        for i, index in enumerate(self.indices):
            _check_nonneg(f"indices[{i}]", index)
        if len(set(self.indices)) != len(self.indices):
            raise SchemaError("indices", "must not repeat")


@dataclass(frozen=True)
class AuditUnitHeader:
    """One unit's description on the wire; its ``size`` bytes follow as data frames."""

    index: int
    dtype: str
    shape: tuple[int, ...]
    size: int
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_nonneg("index", self.index)
        _check_nonneg("size", self.size)
        if not self.dtype or len(self.dtype) > 32:
            raise SchemaError("dtype", "must be a short non-empty name")
        if len(self.shape) > MAX_TENSOR_RANK:
            raise SchemaError("shape", f"rank above {MAX_TENSOR_RANK}")
        for i, dim in enumerate(self.shape):
            _check_nonneg(f"shape[{i}]", dim)
        if len(self.proof) > 256:
            raise SchemaError("proof", "longer than 256 nodes")
        for i, node in enumerate(self.proof):
            _check_bytes32(f"proof[{i}]", node)


@dataclass(frozen=True)
class AuditResponseHeader:
    """The JSON head of an audit answer: one :class:`AuditUnitHeader` per requested index, in order."""

    job_id: int
    units: tuple[AuditUnitHeader, ...]

    def __post_init__(self) -> None:
        _check_nonneg("job_id", self.job_id)
        if len(self.units) > MAX_AUDIT_INDICES:
            raise SchemaError("units", f"at most {MAX_AUDIT_INDICES} units")


@dataclass(frozen=True)
class AuditUnit:
    """One sampled unit as the verifier uses it: exact output bytes plus the proof of its leaf."""

    index: int
    dtype: str
    shape: tuple[int, ...]
    data: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class AuditResponse:
    """A provider's answer to an :class:`AuditRequest` (in memory; see :func:`write_audit_response`)."""

    job_id: int
    units: tuple[AuditUnit, ...]


AUDIT_DATA_CHUNK = 1 << 20
"""Unit bytes are sent in data frames of at most this size."""


async def write_audit_response(fs: FrameStream, response: AuditResponse) -> None:
    """Send ``response``: its JSON header, then each unit's bytes as data frames in unit order."""
    header = AuditResponseHeader(
        job_id=response.job_id,
        units=tuple(
            AuditUnitHeader(index=u.index, dtype=u.dtype, shape=u.shape, size=len(u.data), proof=u.proof)
            for u in response.units
        ),
    )
    await fs.write_message(header)
    for unit in response.units:
        view = memoryview(unit.data)
        for start in range(0, len(view), AUDIT_DATA_CHUNK):
            await fs.write_data(bytes(view[start : start + AUDIT_DATA_CHUNK]))


async def read_audit_response(
    fs: FrameStream, *, max_unit_bytes: int, max_total_bytes: int, timeout: float | None = None
) -> AuditResponse:
    """Receive an audit answer, refusing any unit over ``max_unit_bytes`` or a total over ``max_total_bytes``.

    The caps are checked against the header before any unit bytes are read.
    """
    header = await fs.read_message(AuditResponseHeader, timeout=timeout)
    total = 0
    for i, u in enumerate(header.units):
        if u.size > max_unit_bytes:
            raise SchemaError(f"units[{i}].size", f"{u.size} bytes exceeds the cap of {max_unit_bytes}")
        total += u.size
    if total > max_total_bytes:
        raise SchemaError("units", f"{total} bytes in all exceeds the cap of {max_total_bytes}")
    units: list[AuditUnit] = []
    for i, u in enumerate(header.units):
        buf = bytearray()
        while len(buf) < u.size:
            want = min(AUDIT_DATA_CHUNK, u.size - len(buf))
            chunk = await fs.read_data(max_size=want, timeout=timeout)
            if not chunk:
                raise SchemaError(f"units[{i}]", "empty data frame")
            buf += chunk
        units.append(AuditUnit(index=u.index, dtype=u.dtype, shape=u.shape, data=bytes(buf), proof=u.proof))
    return AuditResponse(job_id=header.job_id, units=tuple(units))
