"""The capacity challenge, as pure logic (:mod:`node.roles.capacity` carries it over libp2p).

Any peer can check a figure a provider advertises in one of :data:`DTYPES` (fp32, TF32, bf16,
fp16). The challenge has two phases so that the timed window holds the matmul and not the building
of its inputs:

1. **Untimed: prepare.** The challenger makes a :class:`CapacityChallenge`: a fresh random 32-byte
   seed, a size ``n``, a dtype and a deadline. Only the seed travels; both sides derive the same n×n
   matrices A and B0 from it (:func:`make_inputs`: an integer hash evaluated with torch,
   bit-identical on CPU and CUDA, generated directly on the provider's device as float32 and
   rounded to the dtype), and the digest's lane matrices (:func:`node.capacity.digest.lane_matrices`).
   The provider builds them (:func:`prepare`) and says it is ready. On a CPU building A and B0 costs
   about as much as the matmul at n = 1024 on a quiet machine and several times more at larger sizes
   or under load, which is why it must stay out of the window.
2. **Timed: multiply and digest, on the device.** The challenger sends a fresh random 32-byte nonce.
   The provider derives a row permutation π from it (:func:`permutation`, on the CPU with hashlib,
   so every device agrees), computes C = A · B0[π] on its device and, still on the device, the
   keyed non-linear digest of C whose keys come from the same nonce
   (:func:`node.capacity.digest.result_digest`), and answers with those 32 bytes before the
   deadline. Nothing of size n² leaves the device inside the window: C's bulk transfer (4n² or 2n²
   bytes) happens afterwards.
3. The challenger regenerates A, B0 and π, receives C, recomputes its digest (on the CPU: the same
   bytes as the provider's device gave), checks C with Freivalds' algorithm (``verifier.freivalds``,
   O(n²)) against the dtype's tolerance (:func:`freivalds_threshold`), and computes the achieved
   throughput 2n³ / counted seconds (:func:`judge`).

Why knowing A and B0 early does not help: A · B0[π] = (A·P)·B0 for the permutation matrix P, a
fresh product for every π. Precomputing A·B0 gives nothing (a cheater answering it fails
Freivalds), and what can be moved out of the window for every π (layout, packing, warm-up) is O(n²)
work that the honest provider gets to move too. Why the digest cannot be computed without C, and
why a linear checksum could be: :mod:`node.capacity.digest`.

The permutation rule (part of the protocol; pinned by a test vector)::

    key_i = SHA-256(b"ccm-capacity-perm/2" || nonce || i as 4 bytes big-endian),  i = 0 … n-1
    π     = the indices i in ascending order of key_i   (ties, never seen in practice, by i)
    B     = B0[π], i.e. row j of B is row π[j] of B0

Tolerance per dtype (Freivalds' worst row ratio |A(Br) − Cr|_i / (u‖C_i‖), with u the unit
roundoff of C's dtype; measured on the 2-core test CPU, torch 2.13, inputs of three seeds, two
rounds each, n = 256 / 1024 / 2048; TF32 emulated by rounding or truncating the inputs' mantissas
to 10 bits, as tensor cores do; fp8 is e4m3)::

    dtype     tolerance               honest (worst)       cheaper product answered instead
    float32   32 + 3·√n (80/128/168)  20 / 27 / 34         TF32 1.6·10⁴-4.9·10⁴, bf16 1.6·10⁵
    tfloat32  90,112 (11·2¹³)         4.4·10⁴ / 5.3·10⁴ / 5.3·10⁴ (truncating)   bf16 1.5·10⁵-1.7·10⁵
    bfloat16  ≈ 5                     1.5 / 1.9 / 1.7      fp8 31-35
    float16   ≈ 5                     1.8 / 1.7 / 1.9      bf16 20-22, fp8 239-261

TF32 is the tight one (a bf16 product, twice as fast on tensor cores, is 3× above the honest
worst, which is 1.7× under the tolerance). A TF32 challenge is computed with TF32 only on CUDA
(``torch.backends.cuda.matmul.allow_tf32`` around the one matmul); a CPU computes it in fp32,
which is more exact and passes.

Timing (what is counted): the challenger's own clock from sending the nonce to receiving the
digest, minus the network round trip it measured on the same connection, but never more than
``max_network_s`` nor more than :data:`MAX_EXCUSED_FRACTION` (1/4) of the elapsed time. The
provider answers the pings itself, so it can make the round trip look as long as it likes; the
fraction bounds what slow pongs can buy to a figure 4/3 of the truth. Deriving π, the row gather
and the digest stay counted against the provider (O(n²) against the matmul's O(n³)), so for an
honest provider the figure is a lower bound of the device's speed.

Pass rule: correct (digest and Freivalds) **and** in time (elapsed ≤ deadline) **and**
achieved / advertised ≥ ``threshold`` (default :data:`DEFAULT_THRESHOLD` = 0.5: one timed matmul
on a busy machine costs an honest provider some of its peak, while anyone advertising more than
twice what they deliver fails). The deadline is the time the advertised figure needs divided by
the threshold, plus allowances for the in-window O(n²) steps and the network, so a device that meets
the threshold is never late because of the deadline alone. Figures: ``scripts/bench capacity``
and the README. On a GPU the window used to hold C's copy to the host and a host SHA-256 (an
H100-class card would have shown about 1/3 of its fp32 figure at n = 4096); with the digest on the
device it holds the matmul and about ten memory-bound passes over C (estimated, no GPU measured
here: ~7 % of an fp32 matmul at n = 8192 on an H100, but as much as the bf16 matmul itself at
8192, so bf16/fp16 figures need n = 16384 or a fused digest kernel).
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

from node.capacity.digest import (
    TORCH_DTYPES,
    ElementKeys,
    LaneMatrices,
    element_keys,
    hash_ints,
    lane_matrices,
    result_digest,
)
from node.capacity.errors import ChallengeError
from node.capacity.probe import matmul_precision
from node.capacity.verified import CapacityRecord

SCHEMA = "ccm-capacity-challenge/3"
DTYPES = ("float32", "tfloat32", "bfloat16", "float16")
"""Dtypes a challenge may name (a provider is challenged in the dtypes it advertises)."""
DEFAULT_THRESHOLD = 0.5
MIN_N, MAX_N = 16, 16384
DEFAULT_NETWORK_ALLOWANCE_S = 1.0
# At most this share of the elapsed time is excused as network round trip (see "Timing" above).
MAX_EXCUSED_FRACTION = 0.25
# In-window work besides the matmul, per matrix element: the row gather of B0 and the digest (about
# ten memory-bound passes over C on the device; ~4 ns an element on the 2-core test CPU). Generous.
WINDOW_NS_PER_ELEMENT = 30
# Deriving π in the window: one SHA-256 of 40 bytes per row in Python (~1 µs), generously.
PERMUTATION_NS_PER_ROW = 5000
# Phase 1 (untimed but bounded): building A and B0, per element (~100 ns on the 2-core test CPU).
PREPARE_BASE_S = 10.0
PREPARE_NS_PER_ELEMENT = 1000
NONCE_BYTES = 32
PERMUTATION_DOMAIN = b"ccm-capacity-perm/2"
SELF_TEST_NONCE = bytes(NONCE_BYTES)
"""The digest key of a local self-test without a nonce (:func:`compute_answer` with ``nonce=None``)."""
TF32_THRESHOLD = 11 * 2**13
"""Freivalds tolerance of a TF32 product, in fp32 units (see "Tolerance per dtype" above)."""

_MASK31 = 0x7FFFFFFF


def freivalds_threshold(dtype: str) -> float | None:
    """The Freivalds tolerance for a challenge in ``dtype`` (``None``: the library's default for C's
    dtype, which is what fp32, bf16 and fp16 use; TF32 needs its own, see the module docstring)."""
    if dtype not in DTYPES:
        raise ChallengeError(f"unknown dtype {dtype!r} ({', '.join(DTYPES)})", field="dtype")
    return float(TF32_THRESHOLD) if dtype == "tfloat32" else None


@dataclass(frozen=True)
class CapacityChallenge:
    """What the challenger sends in phase 1: ``deadline_ms`` counts from sending the nonce to
    receiving the digest (the nonce is not part of the challenge: it comes only in phase 2)."""

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
        if self.dtype not in DTYPES:
            raise ChallengeError(f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}", field="dtype")
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
    """The provider's side: the result, its digest, and its own (untrusted, informational) timing.

    ``nonce``: the nonce C was computed for (``None``: no permutation, see :func:`compute_answer`);
    ``compute_s``: the provider's clock over the timed phase only; ``c`` stays on the provider's
    device (it is copied to the host only after the answer, see :func:`host_bytes`).
    """

    digest: bytes
    c: torch.Tensor
    compute_s: float
    nonce: bytes | None = None


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
    dtype: str = "float32"

    def to_record(self, peer_id: str) -> CapacityRecord:
        """The row kept in the store for ``peer_id`` (see ``Store.add_capacity_result``).

        The store keeps the fp32 figure that offers are ranked by; other dtypes are not recorded there.
        """
        if self.dtype != "float32":
            raise ChallengeError(f"only float32 results are kept per peer, got {self.dtype}", field="dtype")
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
    """Deadline for ``n``, in ms from the nonce: advertised time / threshold + in-window allowance
    (π, the gather, the digest) + network allowance."""
    _check_int("n", n, MIN_N, MAX_N)
    _check_int("advertised_gflops", advertised_gflops, 1, 10**9)
    _check_real("threshold", threshold, 1e-6, 1.0)
    compute_s = 2 * n**3 / (advertised_gflops * 1e9) / threshold
    window_s = (2 * n * n * WINDOW_NS_PER_ELEMENT + n * PERMUTATION_NS_PER_ROW) * 1e-9
    return math.ceil((compute_s + window_s + network_allowance_s) * 1000)


def prepare_timeout_s(n: int) -> float:
    """How long a challenger waits for phase 1 (building A and B0) at size ``n``: generous, bounded."""
    _check_int("n", n, MIN_N, MAX_N)
    return PREPARE_BASE_S + 2 * n * n * PREPARE_NS_PER_ELEMENT * 1e-9


def challenge_size(advertised_gflops: int, *, target_s: float = 0.5) -> int:
    """A size whose matmul takes about ``target_s`` at the advertised speed (multiple of 16, clipped)."""
    _check_int("advertised_gflops", advertised_gflops, 1, 10**9)
    n = (target_s * advertised_gflops * 1e9 / 2) ** (1 / 3)
    return int(min(MAX_N, max(MIN_N, round(n / 16) * 16)))


def new_challenge(*, advertised_gflops: int, n: int | None = None, threshold: float = DEFAULT_THRESHOLD,
                  network_allowance_s: float = DEFAULT_NETWORK_ALLOWANCE_S, dtype: str = "float32",
                  seed: bytes | None = None) -> CapacityChallenge:
    """A fresh challenge of a figure advertised in ``dtype`` (seed from ``os.urandom`` unless given)."""
    size = challenge_size(advertised_gflops) if n is None else n
    return CapacityChallenge(
        seed=os.urandom(32) if seed is None else seed, n=size, advertised_gflops=advertised_gflops,
        deadline_ms=deadline_ms(size, advertised_gflops, threshold=threshold,
                                network_allowance_s=network_allowance_s),
        threshold=threshold, max_network_s=network_allowance_s, dtype=dtype,
    )


def _hash_matrix(seed: bytes, salt: int, n: int, device: torch.device) -> torch.Tensor:
    # 24 bits of an integer hash that CPU and CUDA compute alike become a float in [-1, 1).
    x = hash_ints(seed, salt, n * n, device)
    v = (x >> 7).to(torch.float32) * (2.0**-23) - 1.0
    return v.reshape(n, n)


def make_inputs(challenge: CapacityChallenge, *, device: str | torch.device = "cpu"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """A and B0 of ``challenge``, built on ``device`` in C's dtype (bit-identical on every device:
    float32 from the seed, rounded to bf16 or fp16 where the challenge names one)."""
    dev = torch.device(device)
    dtype = TORCH_DTYPES[challenge.dtype]
    return (_hash_matrix(challenge.seed, 1, challenge.n, dev).to(dtype),
            _hash_matrix(challenge.seed, 2, challenge.n, dev).to(dtype))


def new_nonce() -> bytes:
    """A fresh nonce for the timed phase (``os.urandom``)."""
    return os.urandom(NONCE_BYTES)


def permutation(nonce: bytes, n: int) -> torch.Tensor:
    """π of ``nonce`` for size ``n`` (int64, on the CPU): the rule in the module docstring."""
    _check_nonce(nonce)
    _check_int("n", n, 1, MAX_N)
    prefix = hashlib.sha256(PERMUTATION_DOMAIN + nonce)
    keys = []
    for i in range(n):
        h = prefix.copy()
        h.update(i.to_bytes(4, "big"))
        keys.append((h.digest(), i))
    keys.sort()
    return torch.tensor([i for _, i in keys], dtype=torch.int64)


def _check_nonce(nonce: Any) -> None:
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise ChallengeError(f"must be {NONCE_BYTES} bytes", field="nonce")


def answer_digest(challenge: CapacityChallenge, c: torch.Tensor, nonce: bytes | None) -> bytes:
    """The digest of ``c`` for ``challenge`` and ``nonce`` (computed on ``c``'s device): the rule of
    :mod:`node.capacity.digest`, keyed by the nonce (:data:`SELF_TEST_NONCE` when ``None``)."""
    if nonce is not None:
        _check_nonce(nonce)
    n = challenge.n
    lanes = lane_matrices(challenge.seed, n, n, device=c.device)
    keys = element_keys(SELF_TEST_NONCE if nonce is None else nonce, n, device=c.device)
    return result_digest(c, dtype=challenge.dtype, lanes=lanes, keys=keys)


def host_bytes(c: torch.Tensor) -> bytes:
    """C's bytes as they travel after the answer: row-major, little-endian, in C's own dtype."""
    host = c.detach().to("cpu").contiguous()
    if host.dtype in (torch.bfloat16, torch.float16):
        host = host.view(torch.int16)
    return bytes(host.numpy().astype(host.numpy().dtype.newbyteorder("<"), copy=False).tobytes())


def from_host_bytes(challenge: CapacityChallenge, data: bytes) -> torch.Tensor:
    """C from the bytes of :func:`host_bytes` (raises :class:`ChallengeError` on a wrong size)."""
    dtype = TORCH_DTYPES[challenge.dtype]
    n = challenge.n
    if len(data) != result_size(challenge):
        raise ChallengeError(f"expected {result_size(challenge)} bytes of C, got {len(data)}", field="c")
    return torch.frombuffer(bytearray(data), dtype=dtype).reshape(n, n)


def result_size(challenge: CapacityChallenge) -> int:
    """Bytes of C on the wire: n² elements of C's dtype."""
    return challenge.n * challenge.n * TORCH_DTYPES[challenge.dtype].itemsize


class PreparedInputs:
    """Phase 1 done on the provider's device: A, B0, the digest's lane matrices, and the buffers the
    timed phase writes into.

    Built by :func:`prepare`; :meth:`answer` is the timed phase and may run once (it writes C into
    a buffer allocated here, which the returned answer holds).

    Resource handling: the buffers (B0[π] and C) are allocated and touched here, BLAS is warmed up
    on a few rows and the digest once on a zero C, so that page faults, kernel loading and
    thread-pool start-up do not land in the window; that is O(n²) setup any provider may do before
    the nonce.
    """

    def __init__(self, challenge: CapacityChallenge, *, device: str | torch.device = "cpu") -> None:
        start = time.perf_counter()
        dev = torch.device(device)
        self.challenge = challenge
        self.device = dev
        self.a, self.b0 = make_inputs(challenge, device=dev)
        self.b = torch.zeros_like(self.b0)
        self.c = torch.zeros_like(self.a)
        n = challenge.n
        self.lanes: LaneMatrices = lane_matrices(challenge.seed, n, n, device=dev)
        rows = min(n, 64)
        with matmul_precision(challenge.dtype, dev):
            torch.mm(self.a[:rows], self.b0, out=self.c[:rows])
        self._digest(self.c, element_keys(SELF_TEST_NONCE, n, device=dev))
        self.c.zero_()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        self._used = False
        self.prepare_s = time.perf_counter() - start

    def _digest(self, c: torch.Tensor, keys: ElementKeys) -> bytes:
        return result_digest(c, dtype=self.challenge.dtype, lanes=self.lanes, keys=keys)

    def answer(self, nonce: bytes | None) -> CapacityAnswer:
        """The timed phase: π and the digest keys from ``nonce``, C = A·B0[π] and its digest, both on
        the device; only the 32-byte digest reaches the host.

        ``nonce=None`` means no permutation (C = A·B0) and the :data:`SELF_TEST_NONCE` key: only for
        a local self-test timed around everything by its caller (see :func:`compute_answer`); over
        the wire a nonce always comes.
        """
        if self._used:
            raise ChallengeError("already answered (one answer per preparation)", field="nonce")
        if nonce is not None:
            _check_nonce(nonce)
        self._used = True
        start = time.perf_counter()
        n = self.challenge.n
        if nonce is None:
            b = self.b0
        else:
            pi = permutation(nonce, n).to(self.device)
            torch.index_select(self.b0, 0, pi, out=self.b)
            b = self.b
        keys = element_keys(SELF_TEST_NONCE if nonce is None else nonce, n, device=self.device)
        with matmul_precision(self.challenge.dtype, self.device):
            torch.mm(self.a, b, out=self.c)
        digest = self._digest(self.c, keys)  # ends with a 16 KiB copy to the host: waits for the device
        elapsed = time.perf_counter() - start
        return CapacityAnswer(digest=digest, c=self.c, compute_s=elapsed, nonce=nonce)


def prepare(challenge: CapacityChallenge, *, device: str | torch.device = "cpu") -> PreparedInputs:
    """Phase 1 (untimed): A and B0 of ``challenge`` built on ``device``, ready for the nonce."""
    return PreparedInputs(challenge, device=device)


def compute_answer(challenge: CapacityChallenge, *, device: str | torch.device = "cpu",
                   nonce: bytes | None = None) -> CapacityAnswer:
    """Both phases in one call (a caller timing around it also times building the inputs).

    With ``nonce=None``, C = A·B0 (no permutation): a local self-test where one machine plays both
    sides and knows nothing was precomputed. The wire protocol always uses :func:`prepare`, then
    :meth:`PreparedInputs.answer` with the challenger's nonce.
    """
    return prepare(challenge, device=device).answer(nonce)


def judge(challenge: CapacityChallenge, *, digest: bytes, c: Any, elapsed_s: float,
          network_s: float = 0.0, nonce: bytes | None = None, rounds: int = 2) -> ChallengeResult:
    """The challenger's verdict (see the module docstring for what is counted and the pass rule).

    ``nonce``: the one sent for the timed phase (C must be A·B0[π]); ``None`` only for a local
    self-test (C = A·B0, see :func:`compute_answer`).
    ``elapsed_s``: challenger's clock from sending the nonce to receiving the digest.
    ``network_s``: round trip measured on the same connection (only up to ``max_network_s`` and
    :data:`MAX_EXCUSED_FRACTION` of ``elapsed_s`` is excused).
    ``c``: the result received afterwards; anything that is not an n×n tensor of the challenge's
    dtype is simply wrong.
    """
    _check_real("elapsed_s", elapsed_s, 0.0, 1e9)
    _check_real("network_s", network_s, 0.0, 1e9)
    excused = min(network_s, challenge.max_network_s, MAX_EXCUSED_FRACTION * elapsed_s)
    counted = max(elapsed_s - excused, 1e-9)
    if nonce is not None:
        _check_nonce(nonce)
    correct, why = _check_result(challenge, digest, c, nonce, rounds)
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
        reason=reason, elapsed_s=elapsed_s, counted_s=counted, dtype=challenge.dtype,
    )


def unanswered(challenge: CapacityChallenge, reason: str, *, elapsed_s: float) -> ChallengeResult:
    """The verdict when no answer came back (timeout, refusal, broken stream): a failed challenge.

    A provider that cannot or will not answer has shown nothing, so it fails like a wrong answer.
    """
    return ChallengeResult(
        challenge_id=challenge.challenge_id, n=challenge.n, advertised_gflops=challenge.advertised_gflops,
        achieved_gflops=0, ratio=0.0, correct=False, in_time=False, passed=False, reason=reason,
        elapsed_s=elapsed_s, counted_s=elapsed_s, dtype=challenge.dtype,
    )


def _check_result(challenge: CapacityChallenge, digest: bytes, c: Any, nonce: bytes | None,
                  rounds: int) -> tuple[bool, str]:
    n = challenge.n
    dtype = TORCH_DTYPES[challenge.dtype]
    if not isinstance(c, torch.Tensor) or c.dtype != dtype or tuple(c.shape) != (n, n):
        got = f"{c.dtype} {tuple(c.shape)}" if isinstance(c, torch.Tensor) else type(c).__name__
        return False, f"wrong result: expected a {n}x{n} {challenge.dtype} matrix, got {got}"
    c = c.to("cpu")
    if not bool(torch.isfinite(c).all()):
        return False, "wrong result: C has NaN or infinite entries"
    if not isinstance(digest, bytes) or answer_digest(challenge, c, nonce) != digest:
        return False, "wrong result: C does not match the digest sent before the deadline"
    from verifier.freivalds import freivalds  # imported late: only a full check needs it

    a, b = make_inputs(challenge)
    if nonce is not None:
        b = b.index_select(0, permutation(nonce, n))
    gen = torch.Generator(device="cpu").manual_seed(int.from_bytes(os.urandom(8), "big"))
    check = freivalds(a, b, c, rounds=rounds, generator=gen,
                      threshold=freivalds_threshold(challenge.dtype))
    if not bool(check.passed):
        ratio = f"ratio {check.worst_ratio:.3g} > {check.threshold:.3g}"
        return False, f"wrong result: Freivalds' check failed ({ratio})"
    return True, ""
