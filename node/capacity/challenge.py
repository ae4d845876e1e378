"""The capacity challenge, as pure logic (:mod:`node.roles.capacity` carries it over libp2p).

Any peer can check a provider's advertised fp32 figure:

1. The challenger makes a :class:`CapacityChallenge`: a fresh random 32-byte seed, a size ``n`` and a
   deadline. Only the seed travels; both sides derive the same n×n fp32 matrices A and B from it
   (:func:`make_inputs`, an integer hash evaluated with torch, bit-identical on CPU and CUDA and
   generated directly on the provider's device).
2. The provider computes C = A·B on its device and answers, before the deadline, with only the
   SHA-256 digest of C's bytes (:func:`compute_answer`). The digest binds C, so the bulk transfer of
   C (4n² bytes) happens afterwards, outside the timed window.
3. The challenger receives C, checks that it matches the digest and checks it with Freivalds'
   algorithm (``verifier.freivalds``, O(n²)), and computes the achieved throughput
   2n³ / counted seconds (:func:`judge`).

Timing (what is counted): the challenger's own clock from sending the challenge to receiving the
digest, minus the network round trip it measured on the same connection, but never more than
``max_network_s`` of it (so a slow or lying link cannot excuse a slow device). Input generation
and hashing stay counted against the provider: the figure is a lower bound of the device's speed,
never an overestimate.

Pass rule: correct (digest and Freivalds) **and** in time (elapsed ≤ deadline) **and**
achieved / advertised ≥ ``threshold`` (default :data:`DEFAULT_THRESHOLD` = 0.5: a single timed
matmul on a busy machine and the counted setup cost honest providers up to about half their peak,
while anyone advertising more than twice what they deliver fails). The deadline is the time the
advertised figure needs divided by the threshold, plus allowances for the network and the
setup, so a device that meets the threshold is never late because of the deadline alone.

Known limit on GPUs (analysis, not yet measured here: no GPU on the test machine): the digest is
SHA-256 of C on the host, so the timed window also holds C's copy to the host (4n² bytes over
PCIe) and its hashing (about 1–2 GB/s). On an H100-class card (~50 TFLOP/s fp32) the copy alone
equals the compute at n ≈ 4000, so an honest GPU shows only a fraction of its probe's peak and the
default threshold can fail it. Lowering the bar or excusing the copy would let a much slower device
pass; the sound fix is a binding digest computed on the device (future work).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import torch

from node.capacity.errors import ChallengeError
from node.capacity.verified import CapacityRecord

SCHEMA = "ccm-capacity-challenge/1"
DEFAULT_THRESHOLD = 0.5
MIN_N, MAX_N = 16, 16384
DEFAULT_NETWORK_ALLOWANCE_S = 1.0
# Setup the provider does inside the timed window, per matrix element: generating A and B and hashing
# C on the host (SHA-256 of 4 bytes at ~0.5 GB/s is 8 ns; generation is cheaper). Deliberately generous.
SETUP_NS_PER_ELEMENT = 30

_MASK31 = 0x7FFFFFFF


@dataclass(frozen=True)
class CapacityChallenge:
    """What the challenger sends: ``deadline_ms`` is counted from sending to receiving the digest."""

    seed: bytes
    n: int
    advertised_gflops: int
    deadline_ms: int
    threshold: float = DEFAULT_THRESHOLD
    max_network_s: float = DEFAULT_NETWORK_ALLOWANCE_S
    dtype: str = "float32"
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        _check_int("n", self.n, MIN_N, MAX_N)
        _check_int("advertised_gflops", self.advertised_gflops, 1, 10**9)
        _check_int("deadline_ms", self.deadline_ms, 1, 10**9)
        if not isinstance(self.seed, bytes) or len(self.seed) != 32:
            raise ChallengeError("must be 32 bytes", field="seed")
        _check_real("threshold", self.threshold, 0.0, 1.0)
        _check_real("max_network_s", self.max_network_s, 0.0, 60.0)
        if self.dtype != "float32":
            raise ChallengeError(f"only float32 is challenged, got {self.dtype!r}", field="dtype")
        if self.schema != SCHEMA:
            raise ChallengeError(f"unsupported schema (expected {SCHEMA})", field="schema")

    @property
    def challenge_id(self) -> str:
        """Hex id of this challenge (SHA-256 of its canonical JSON): one result per challenge."""
        return "0x" + hashlib.sha256(self.to_json().encode()).hexdigest()

    @property
    def flop(self) -> int:
        return 2 * self.n**3

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema, "seed": "0x" + self.seed.hex(), "n": self.n, "dtype": self.dtype,
            "advertised_gflops": self.advertised_gflops, "deadline_ms": self.deadline_ms,
            "threshold": self.threshold, "max_network_s": self.max_network_s,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> CapacityChallenge:
        """Parse a challenge from a peer; anything malformed raises :class:`ChallengeError`."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ChallengeError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ChallengeError("must be a JSON object")
        expected = {"schema", "seed", "n", "dtype", "advertised_gflops", "deadline_ms", "threshold",
                    "max_network_s"}
        for key in sorted(expected ^ set(data)):
            raise ChallengeError("missing" if key in expected else "unknown key", field=key)
        seed = data["seed"]
        if not isinstance(seed, str) or not seed.startswith("0x") or len(seed) != 66:
            raise ChallengeError("must be 0x and 64 hex digits", field="seed")
        try:
            seed_bytes = bytes.fromhex(seed[2:])
        except ValueError:
            raise ChallengeError("must be 0x and 64 hex digits", field="seed") from None
        return cls(
            seed=seed_bytes, n=data["n"], advertised_gflops=data["advertised_gflops"],
            deadline_ms=data["deadline_ms"], threshold=data["threshold"], max_network_s=data["max_network_s"],
            dtype=data["dtype"], schema=data["schema"],
        )


@dataclass(frozen=True)
class CapacityAnswer:
    """The provider's side: the result, its digest, and its own (untrusted, informational) timing."""

    digest: bytes
    c: torch.Tensor
    compute_s: float


@dataclass(frozen=True)
class ChallengeResult:
    """The challenger's verdict on one answer. ``ratio`` = achieved / advertised."""

    challenge_id: str
    n: int
    advertised_gflops: int
    achieved_gflops: int
    ratio: float
    correct: bool
    in_time: bool
    passed: bool
    reason: str
    elapsed_s: float
    counted_s: float

    def to_record(self, peer_id: str) -> CapacityRecord:
        """The row kept in the store for ``peer_id`` (see ``Store.add_capacity_result``)."""
        return CapacityRecord(
            peer_id=peer_id, challenge_id=self.challenge_id, n=self.n,
            advertised_gflops=self.advertised_gflops, achieved_gflops=self.achieved_gflops,
            correct=self.correct, in_time=self.in_time, passed=self.passed, reason=self.reason,
            created_at=time.time(),
        )


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChallengeError(f"must be an integer, got {value!r}", field=name)
    if not lo <= value <= hi:
        raise ChallengeError(f"must be between {lo} and {hi}, got {value}", field=name)


def _check_real(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ChallengeError(f"must be a finite number, got {value!r}", field=name)
    if not lo <= value <= hi:
        raise ChallengeError(f"must be between {lo} and {hi}, got {value}", field=name)


def deadline_ms(n: int, advertised_gflops: int, *, threshold: float = DEFAULT_THRESHOLD,
                network_allowance_s: float = DEFAULT_NETWORK_ALLOWANCE_S) -> int:
    """Deadline for ``n``: advertised time / threshold + setup allowance + network allowance, in ms."""
    _check_int("n", n, MIN_N, MAX_N)
    _check_int("advertised_gflops", advertised_gflops, 1, 10**9)
    _check_real("threshold", threshold, 1e-6, 1.0)
    compute_s = 2 * n**3 / (advertised_gflops * 1e9) / threshold
    setup_s = 3 * n * n * SETUP_NS_PER_ELEMENT * 1e-9
    return math.ceil((compute_s + setup_s + network_allowance_s) * 1000)


def challenge_size(advertised_gflops: int, *, target_s: float = 0.5) -> int:
    """A size whose matmul takes about ``target_s`` at the advertised speed (multiple of 16, clipped)."""
    _check_int("advertised_gflops", advertised_gflops, 1, 10**9)
    n = (target_s * advertised_gflops * 1e9 / 2) ** (1 / 3)
    return int(min(MAX_N, max(MIN_N, round(n / 16) * 16)))


def new_challenge(*, advertised_gflops: int, n: int | None = None, threshold: float = DEFAULT_THRESHOLD,
                  network_allowance_s: float = DEFAULT_NETWORK_ALLOWANCE_S,
                  seed: bytes | None = None) -> CapacityChallenge:
    """A fresh challenge of an advertised fp32 figure (random seed from ``os.urandom`` unless given)."""
    size = challenge_size(advertised_gflops) if n is None else n
    return CapacityChallenge(
        seed=os.urandom(32) if seed is None else seed, n=size, advertised_gflops=advertised_gflops,
        deadline_ms=deadline_ms(size, advertised_gflops, threshold=threshold,
                                network_allowance_s=network_allowance_s),
        threshold=threshold, max_network_s=network_allowance_s,
    )


def _hash_matrix(seed: bytes, salt: int, n: int, device: torch.device) -> torch.Tensor:
    # Integer hash of (seed, salt, element index) with int64 ops that never overflow (every product
    # stays below 2^62), so CPU and CUDA give the same bits; 24 bits of it become a float in [-1, 1).
    s0 = int.from_bytes(seed[0:4], "big") & _MASK31
    s1 = int.from_bytes(seed[4:8], "big") & _MASK31
    s2 = int.from_bytes(seed[8:12], "big") & _MASK31
    x = torch.arange(n * n, dtype=torch.int64, device=device)
    x = (x * 2654435761 + s0 + salt * 97531) & _MASK31
    x = x ^ (x >> 13)
    x = (x * 1103515245 + s1) & _MASK31
    x = x ^ (x >> 16)
    x = (x * 1664525 + s2) & _MASK31
    x = x ^ (x >> 11)
    x = (x * 22695477 + 1) & _MASK31
    v = (x >> 7).to(torch.float32) * (2.0**-23) - 1.0
    return v.reshape(n, n)


def make_inputs(challenge: CapacityChallenge, *, device: str | torch.device = "cpu"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """A and B of ``challenge``, built on ``device`` (bit-identical on every device)."""
    dev = torch.device(device)
    return (_hash_matrix(challenge.seed, 1, challenge.n, dev),
            _hash_matrix(challenge.seed, 2, challenge.n, dev))


def result_digest(c: torch.Tensor) -> bytes:
    """SHA-256 of C's bytes: contiguous, row-major, float32, little-endian."""
    if c.dtype != torch.float32 or c.dim() != 2:
        raise ChallengeError(f"result must be a 2-d float32 tensor, got {c.dtype} {tuple(c.shape)}",
                             field="c")
    host = c.detach().to("cpu").contiguous()
    return hashlib.sha256(host.numpy().astype("<f4", copy=False).tobytes()).digest()


def compute_answer(challenge: CapacityChallenge, *, device: str | torch.device = "cpu") -> CapacityAnswer:
    """The provider's work: C = A·B on ``device``, its digest, and C on the host for the transfer."""
    dev = torch.device(device)
    start = time.perf_counter()
    a, b = make_inputs(challenge, device=dev)
    c = a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    c_host = c.to("cpu")
    return CapacityAnswer(digest=result_digest(c_host), c=c_host, compute_s=time.perf_counter() - start)


def judge(challenge: CapacityChallenge, *, digest: bytes, c: Any, elapsed_s: float,
          network_s: float = 0.0, rounds: int = 2) -> ChallengeResult:
    """The challenger's verdict (see the module docstring for what is counted and the pass rule).

    ``elapsed_s``: challenger's clock from sending the challenge to receiving the digest.
    ``network_s``: round trip measured on the same connection (only up to ``max_network_s`` counts).
    ``c``: the result received afterwards; anything that is not an n×n float32 tensor is simply wrong.
    """
    _check_real("elapsed_s", elapsed_s, 0.0, 1e9)
    _check_real("network_s", network_s, 0.0, 1e9)
    counted = max(elapsed_s - min(network_s, challenge.max_network_s), 1e-9)
    correct, why = _check_result(challenge, digest, c, rounds)
    in_time = elapsed_s * 1000 <= challenge.deadline_ms
    exact_gflops = challenge.flop / counted / 1e9 if correct else 0.0
    achieved = round(exact_gflops)
    ratio = exact_gflops / challenge.advertised_gflops  # unrounded: small figures keep their ratio
    if not correct:
        reason = why
    elif not in_time:
        reason = f"late: {elapsed_s:.3f} s > deadline {challenge.deadline_ms / 1000:.3f} s"
    elif ratio < challenge.threshold:
        reason = (f"achieved {achieved} GFLOP/s is {ratio:.2f} of the advertised "
                  f"{challenge.advertised_gflops} (threshold {challenge.threshold})")
    else:
        reason = ""
    return ChallengeResult(
        challenge_id=challenge.challenge_id, n=challenge.n, advertised_gflops=challenge.advertised_gflops,
        achieved_gflops=achieved, ratio=ratio, correct=correct, in_time=in_time, passed=reason == "",
        reason=reason, elapsed_s=elapsed_s, counted_s=counted,
    )


def unanswered(challenge: CapacityChallenge, reason: str, *, elapsed_s: float) -> ChallengeResult:
    """The verdict when no answer came back (timeout, refusal, broken stream): a failed challenge.

    A provider that cannot or will not answer has shown nothing, so it fails like a wrong answer.
    """
    return ChallengeResult(
        challenge_id=challenge.challenge_id, n=challenge.n, advertised_gflops=challenge.advertised_gflops,
        achieved_gflops=0, ratio=0.0, correct=False, in_time=False, passed=False, reason=reason,
        elapsed_s=elapsed_s, counted_s=elapsed_s,
    )


def _check_result(challenge: CapacityChallenge, digest: bytes, c: Any, rounds: int) -> tuple[bool, str]:
    n = challenge.n
    if not isinstance(c, torch.Tensor) or c.dtype != torch.float32 or tuple(c.shape) != (n, n):
        shape = tuple(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__
        return False, f"wrong result: expected a {n}x{n} float32 matrix, got {shape}"
    if not isinstance(digest, bytes) or result_digest(c) != digest:
        return False, "wrong result: C does not match the digest sent before the deadline"
    if not bool(torch.isfinite(c).all()):
        return False, "wrong result: C has NaN or infinite entries"
    from verifier.freivalds import freivalds  # imported late: only a full check needs it

    a, b = make_inputs(challenge)
    gen = torch.Generator(device="cpu").manual_seed(int.from_bytes(os.urandom(8), "big"))
    check = freivalds(a, b, c.to("cpu"), rounds=rounds, generator=gen)
    if not bool(check.passed):
        return False, "wrong result: Freivalds' check failed"
    return True, ""
