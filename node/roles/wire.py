"""The role-level wire messages and protocol table: offers, job proposals, job info, audits.

The P2P layer (:mod:`node.p2p`) owns the codec, the framing and the generic messages
(:class:`~node.p2p.messages.JobProposal`, audit units, blobs). This module adds what the roles
exchange on top of them:

* :class:`OfferBody` — the body of a signed offer envelope (gossiped on
  :data:`~node.p2p.messages.OFFERS_TOPIC`, or asked for directly on :data:`OFFER_PROTOCOL` when a
  consumer was given a provider's multiaddr and should not wait for the next gossip round);
* :class:`CapacityRequest` / :class:`CapacityReady` / :class:`CapacityNonce` /
  :class:`CapacityDigest` — a capacity challenge (its seed, size and deadline), the provider's
  "inputs built", the nonce that starts the timed phase, and the provider's timed answer, the
  digest of C; C itself follows as data frames (served by :mod:`node.roles.capacity`);
* :class:`JobInfo` — a provider's view of one job: the spec (checkable against the on-chain
  ``specHash``) and, once committed, one :class:`UnitRef` per unit. From the refs anyone recomputes
  the leaves and the root (checkable against the on-chain root); each unit's bytes are then a
  blob whose SHA-256 is its ``data_hash``, fetched with the blob protocol (hash-checked).

Every protocol here is a :class:`~node.p2p.reqresp.Protocol` with size caps and a timeout.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from node.p2p.codec import SchemaError, from_jsonable, to_jsonable
from node.p2p.gossip import MAX_ENVELOPE, SignedEnvelope
from node.p2p.messages import JOB_PROTOCOL, JobAccept, JobProposal
from node.p2p.reqresp import Protocol
from node.workloads.jobkinds import ITEMSIZE
from node.workloads.llm_files import ModelsServed
from node.workloads.spec import MAX_SPEC_BYTES

OFFER_PROTOCOL = "/ccm/offer/1.0.0"
JOBINFO_PROTOCOL = "/ccm/jobinfo/1.0.0"

MAX_ADDRS = 8
MAX_KINDS = 8


@dataclass(frozen=True)
class OfferBody:
    """What a provider sells: its address, where to reach it, the price and its measured capacity.

    ``price_per_unit`` in the token's smallest unit; ``gflops`` the probe's best fp32 figure (the
    claim that capacity challenges check); ``advert_hash`` the probe's hash bound on chain;
    ``probe`` the probe document itself (canonical JSON, ``node.capacity.probe.ProbeResult``): the
    NVML facts (GPU name, UUID, memory, clocks, power limit) and every measured figure, signed with
    the offer and checked here against ``advert_hash`` (keccak256), ``device`` and ``gflops``.
    ``llm``: the language models served (families by ``model_type``, largest parameter count and
    weight bytes); an ``llm`` job outside it is refused at admission and not offered to.
    """

    provider: str
    addrs: tuple[str, ...]
    price_per_unit: int
    device: str
    device_name: str
    gflops: int
    advert_hash: bytes
    max_units: int
    kinds: tuple[str, ...]
    probe: str
    llm: ModelsServed | None = None

    def __post_init__(self) -> None:
        _check_probe(self)
        if len(self.addrs) > MAX_ADDRS:
            raise SchemaError("addrs", f"at most {MAX_ADDRS} addresses")
        if len(self.kinds) > MAX_KINDS:
            raise SchemaError("kinds", f"at most {MAX_KINDS} kinds")
        for name in ("price_per_unit", "gflops", "max_units"):
            if getattr(self, name) < 0:
                raise SchemaError(name, "must not be negative")
        if len(self.advert_hash) != 32:
            raise SchemaError("advert_hash", "must be 32 bytes")

    def to_body(self) -> dict[str, Any]:
        """The JSON body carried in a signed envelope."""
        body: dict[str, Any] = to_jsonable(self)
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> OfferBody:
        """Schema-check an envelope body; raises :class:`SchemaError` naming the bad field."""
        return from_jsonable(cls, body)


MAX_PROBE = 16 * 1024


def _check_probe(offer: OfferBody) -> None:
    """The probe document must be what ``advert_hash`` binds and agree with the offer's figures."""
    if len(offer.probe) > MAX_PROBE:
        raise SchemaError("probe", f"at most {MAX_PROBE} characters")
    if bytes(keccak(offer.probe.encode())) != offer.advert_hash:
        raise SchemaError("probe", "keccak256 of the probe document is not advert_hash")
    try:
        doc = json.loads(offer.probe)
        best = max((m["mflops"] for m in doc["matmul"] if m["dtype"] == "float32"), default=0) // 1000
        device = doc["device"]
    except (ValueError, TypeError, KeyError) as err:
        raise SchemaError("probe", f"not a probe document: {err}") from None
    if device != offer.device or best != offer.gflops:
        claim = f"the offer {offer.device} at {offer.gflops}"
        raise SchemaError("probe", f"says {device} at {best} GFLOP/s, {claim}")


@dataclass(frozen=True)
class OfferRequest:
    """Ask a provider for its current signed offer (answered with a gossip envelope)."""

    want: str = "offer"


@dataclass(frozen=True)
class UnitRef:
    """One committed unit: dtype and shape (its ``metaHash``) and the SHA-256 of its bytes."""

    dtype: str
    shape: tuple[int, ...]
    data_hash: bytes

    def __post_init__(self) -> None:
        if len(self.data_hash) != 32:
            raise SchemaError("data_hash", "must be 32 bytes")
        if len(self.shape) > 8 or any(d < 0 for d in self.shape):
            raise SchemaError("shape", "rank above 8 or negative dimension")

    @property
    def nbytes(self) -> int:
        """The unit's size in bytes (0 for a dtype this node does not know: the audit refuses it)."""
        return math.prod(self.shape) * ITEMSIZE.get(self.dtype, 0)


@dataclass(frozen=True)
class JobInfoRequest:
    """Ask a provider what it holds for on-chain job ``job_id``."""

    job_id: int

    def __post_init__(self) -> None:
        if self.job_id < 0:
            raise SchemaError("job_id", "must not be negative")


@dataclass(frozen=True)
class JobInfo:
    """A provider's answer: the spec, its local status and, once committed, the root and unit refs."""

    job_id: int
    spec: dict[str, Any]
    status: str
    root: bytes
    units: tuple[UnitRef, ...]


@dataclass(frozen=True)
class CapacityRequest:
    """A capacity challenge on the wire: the fields of :class:`node.capacity.challenge.CapacityChallenge`.

    Only the 32-byte seed travels (both sides derive A and B from it); the receiver rebuilds the
    challenge, whose own checks (ranges, schema) decide whether it is refused.
    """

    seed: bytes
    n: int
    advertised_gflops: int
    deadline_ms: int
    threshold: float
    max_network_s: float
    dtype: str
    schema: str

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise SchemaError("seed", "must be 32 bytes")


@dataclass(frozen=True)
class CapacityReady:
    """The provider has built A and B0 (untimed phase 1); ``prepare_ms`` is informational."""

    challenge_id: str
    prepare_ms: int

    def __post_init__(self) -> None:
        if self.prepare_ms < 0:
            raise SchemaError("prepare_ms", "must not be negative")


@dataclass(frozen=True)
class CapacityNonce:
    """Starts the timed phase: the provider computes A·B0[π] for the π this nonce gives."""

    challenge_id: str
    nonce: bytes

    def __post_init__(self) -> None:
        if len(self.nonce) != 32:
            raise SchemaError("nonce", "must be 32 bytes")


@dataclass(frozen=True)
class CapacityDigest:
    """The provider's timed answer: the digest of C (:mod:`node.capacity.digest`, computed on its device);
    ``size`` bytes of C follow as data frames.

    ``compute_ms`` is the provider's own timing (informational: the challenger keeps its own clock).
    """

    challenge_id: str
    digest: bytes
    size: int
    compute_ms: int

    def __post_init__(self) -> None:
        if len(self.digest) != 32:
            raise SchemaError("digest", "must be 32 bytes")
        if self.size < 0 or self.compute_ms < 0:
            raise SchemaError("size", "must not be negative")


JOB = Protocol(
    JOB_PROTOCOL, JobProposal, JobAccept, max_request=MAX_SPEC_BYTES + 4096, max_response=4096, timeout=60.0
)
"""Job proposal / acceptance: the provider accepts on chain before answering (one transaction)."""

OFFER = Protocol(
    OFFER_PROTOCOL, OfferRequest, SignedEnvelope, max_request=1024, max_response=MAX_ENVELOPE, timeout=10.0
)
"""Direct offer request, answered with the same signed envelope the provider gossips."""

JOBINFO = Protocol(
    JOBINFO_PROTOCOL, JobInfoRequest, JobInfo, max_request=1024, max_response=4 << 20, timeout=20.0
)
"""Job info: spec plus unit refs (about 150 bytes per unit)."""

CAPACITY_CHUNK = 1 << 20
"""C travels in data frames of at most this many bytes."""

CAPACITY_MAX_FRAME = CAPACITY_CHUNK + 4096
"""Frame cap on :data:`~node.p2p.messages.CAPACITY_PROTOCOL` streams (one chunk plus headroom)."""
