"""The capacity challenge, as pure logic (:mod:`node.roles.capacity` carries it over libp2p).

Any peer can check a provider's advertised fp32 figure. The challenge has two phases so that the
timed window holds the matmul and not the building of its inputs:

1. **Untimed: prepare.** The challenger makes a :class:`CapacityChallenge`: a fresh random 32-byte
   seed, a size ``n`` and a deadline. Only the seed travels; both sides derive the same n×n fp32
   matrices A and B0 from it (:func:`make_inputs`: an integer hash evaluated with torch,
   bit-identical on CPU and CUDA, generated directly on the provider's device). The provider builds
   them (:func:`prepare`) and says it is ready. On a CPU building A and B0 costs about as much as
   the matmul at n = 1024 on a quiet machine and several times more at larger sizes or under load
   (2.5-5× at n = 2048 on the 2-core test machine), which is why it must stay out of the window.
2. **Timed: multiply.** The challenger sends a fresh random 32-byte nonce. The provider derives a
   row permutation π from it (:func:`permutation`, on the CPU with hashlib, so every device agrees),
   computes C = A · B0[π] on its device and answers, before the deadline, with only a SHA-256
   digest of C's bytes (:func:`result_digest`, :meth:`PreparedInputs.answer`). The digest binds C,
   so the bulk transfer of C (4n² bytes) happens afterwards, outside the window.
3. The challenger regenerates A, B0 and π, receives C, checks it against the digest and with
   Freivalds' algorithm (``verifier.freivalds``, O(n²)), and computes the achieved throughput
   2n³ / counted seconds (:func:`judge`).

Why knowing A and B0 early does not help: A · B0[π] = (A·P)·B0 for the permutation matrix P, a
fresh product for every π. Precomputing A·B0 gives nothing (a cheater answering it fails
Freivalds), and what can be moved out of the window for every π (layout, packing, warm-up) is O(n²)
work that the honest provider gets to move too.

The permutation rule (part of the protocol; pinned by a test vector)::

    key_i = SHA-256(b"ccm-capacity-perm/2" || nonce || i as 4 bytes big-endian),  i = 0 … n-1
    π     = the indices i in ascending order of key_i   (ties, never seen in practice, by i)
    B     = B0[π], i.e. row j of B is row π[j] of B0

Timing (what is counted): the challenger's own clock from sending the nonce to receiving the
digest, minus the network round trip it measured on the same connection, but never more than
``max_network_s`` nor more than :data:`MAX_EXCUSED_FRACTION` (1/4) of the elapsed time. The
provider answers the pings itself, so it can make the round trip look as long as it likes; the
fraction bounds what slow pongs can buy to a figure 4/3 of the truth. Without it a loopback ping of
a few ms swallowed a whole 2 ms answer at n = 256 ("achieved" 3·10^7 GFLOP/s), and the 1 s cap
excused a slow device a whole second. An honest remote provider keeps its whole round trip excused
while the trip is under a third of its compute time. Deriving π, the row gather, copying C to the
host and hashing it stay counted against the provider (O(n²) against the matmul's O(n³)), so for
an honest provider the figure is a lower bound of the device's speed.

Pass rule: correct (digest and Freivalds) **and** in time (elapsed ≤ deadline) **and**
achieved / advertised ≥ ``threshold`` (default :data:`DEFAULT_THRESHOLD` = 0.5: one timed matmul
on a busy machine costs an honest provider some of its peak, while anyone advertising more than
twice what they deliver fails). The deadline is the time the advertised figure needs divided by
the threshold, plus allowances for the in-window O(n²) steps and the network, so a device that meets
the threshold is never late because of the deadline alone. Measured with ``scripts/bench capacity``
on the shared 2-core CPU test machine (probe 118-128 GFLOP/s, median of 5, achieved / probe):
protocol 1 (inputs built in the window) 0.43 at n = 1024 and 0.17 at n = 2048; this protocol over
libp2p on 127.0.0.1 0.77 at n = 1024 and 0.86 at n = 2048 (4/5 and 5/5 passed at 0.5).

Remaining limit on GPUs (estimates; no GPU on the test machine): the digest is computed on the host,
so the window still holds C's copy to the host (4n² bytes over PCIe, ~25 GB/s) and its hashing
(:func:`result_digest` spreads SHA-256 over all host cores, ~2 GB/s each: ~30 GB/s on 16 cores).
On an H100-class card (~50 TFLOP/s fp32) the copy alone equals the compute at n ≈ 4000, so with
copy and hash an honest GPU shows about 1/3 of its probe figure at n = 4096 (the challenger's
default cap, ``max_n``), about 1/2 at 8192 and about 0.7 at 16384: GPUs must be challenged at the
largest sizes (above the provider's default ``max_n`` of 8192), and a host with few cores or a
TF32/fp16 figure still fails the default threshold. A provider can hide part of it by computing C in
row blocks on the device and copying and hashing each block while the next one computes (the
digest's leaves are blocks of whole rows for this); not implemented or measured here.
Excusing the copy and hash, or lowering the bar, would let a much slower device pass. A cheap
checksum computed on the device (column sums, uᵀCv for random u, v, any ⟨W, C⟩ with W known early
or of low rank) does not fix it: it is linear, so it passes through the product
(1ᵀ(A·B) = (1ᵀA)·B, uᵀ(A·B)v = (uᵀA)·(Bv), ⟨W, A·B⟩ = ⟨AᵀW, B⟩) and a provider computes it in
O(n²) without forming C, answers inside the window and computes C at leisure afterwards (Freivalds
on the late C cannot tell). The sound fixes: a cryptographic digest computed on the device (a
SHA-256 or BLAKE3 kernel reading C in device memory), or amortising one copy and hash over many
timed matmuls (e.g. a chain of k products with fresh permutations, only the last result sent;
Freivalds checks a chain with k matrix-vector products).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from node.capacity.errors import ChallengeError
from node.capacity.verified import CapacityRecord

SCHEMA = "ccm-capacity-challenge/2"
DEFAULT_THRESHOLD = 0.5
MIN_N, MAX_N = 16, 16384
DEFAULT_NETWORK_ALLOWANCE_S = 1.0
# At most this share of the elapsed time is excused as network round trip (see "Timing" above).
MAX_EXCUSED_FRACTION = 0.25
# In-window work besides the matmul, per matrix element: the row gather of B0 and hashing C on the
# host (SHA-256 of 4 bytes at ~2 GB/s on one core is 2 ns; a gather is cheaper). Deliberately generous.
WINDOW_NS_PER_ELEMENT = 30
# Deriving π in the window: one SHA-256 of 40 bytes per row in Python (~1 µs), generously.
PERMUTATION_NS_PER_ROW = 5000
# Phase 1 (untimed but bounded): building A and B0, per element (~100 ns on the 2-core test CPU).
PREPARE_BASE_S = 10.0
PREPARE_NS_PER_ELEMENT = 1000
NONCE_BYTES = 32
PERMUTATION_DOMAIN = b"ccm-capacity-perm/2"
DIGEST_DOMAIN = b"ccm-capacity-c/2"
DIGEST_CHUNK = 1 << 20

_MASK31 = 0x7FFFFFFF


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
    """The provider's side: the result, its digest, and its own (untrusted, informational) timing.

    ``nonce``: the nonce C was computed for (``None``: no permutation, see :func:`compute_answer`);
    ``compute_s``: the provider's clock over the timed phase only.
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
    """Deadline for ``n``, in ms from the nonce: advertised time / threshold + in-window allowance
    (π, the gather, hashing C) + network allowance."""
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
    """A and B0 of ``challenge``, built on ``device`` (bit-identical on every device)."""
    dev = torch.device(device)
    return (_hash_matrix(challenge.seed, 1, challenge.n, dev),
            _hash_matrix(challenge.seed, 2, challenge.n, dev))


def new_nonce() -> bytes:
    """A fresh nonce for the timed phase (``os.urandom``)."""
    return os.urandom(NONCE_BYTES)


def permutation(nonce: bytes, n: int) -> torch.Tensor:
    """π of ``nonce`` for size ``n`` (int64, on the CPU): the rule in the module docstring."""
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise ChallengeError(f"must be {NONCE_BYTES} bytes", field="nonce")
    _check_int("n", n, 1, MAX_N)
    prefix = hashlib.sha256(PERMUTATION_DOMAIN + nonce)
    keys = []
    for i in range(n):
        h = prefix.copy()
        h.update(i.to_bytes(4, "big"))
        keys.append((h.digest(), i))
    keys.sort()
    return torch.tensor([i for _, i in keys], dtype=torch.int64)


def result_digest(c: torch.Tensor) -> bytes:
    """Digest of C: SHA-256 over its shape and the SHA-256 of each block of about 1 MiB of its rows.

    C's bytes are contiguous, row-major, float32, little-endian; its rows are cut into blocks of
    ``R = max(1, DIGEST_CHUNK // (4 * cols))`` rows (the last may be shorter), and the digest is
    ``SHA-256(b"ccm-capacity-c/2" || rows || cols (4 bytes big-endian each) || SHA-256(block_0) || …)``.
    Two levels so that the blocks are hashed in parallel on all host cores (hashlib drops the GIL):
    the hash is inside the timed window, and one core's ~2 GB/s would otherwise dominate on a GPU.
    Blocks of whole rows so that a provider may also hash the first rows of C while its device still
    computes the last ones (not done here: on a CPU the two compete for the same cores).
    """
    if c.dtype != torch.float32 or c.dim() != 2:
        raise ChallengeError(f"result must be a 2-d float32 tensor, got {c.dtype} {tuple(c.shape)}",
                             field="c")
    host = c.detach().to("cpu").contiguous().numpy()
    if sys.byteorder != "little":
        host = host.astype("<f4")
    rows, cols = host.shape
    data = host.data.cast("B")
    step = max(1, DIGEST_CHUNK // (4 * cols)) * 4 * cols if cols else 1
    chunks = [data[i : i + step] for i in range(0, len(data), step)]
    if len(chunks) > 1:
        leaves = list(_hash_pool().map(_sha256, chunks))
    else:
        leaves = [_sha256(chunk) for chunk in chunks]
    outer = hashlib.sha256(DIGEST_DOMAIN + rows.to_bytes(4, "big") + cols.to_bytes(4, "big"))
    for leaf in leaves:
        outer.update(leaf)
    return outer.digest()


def _sha256(chunk: memoryview) -> bytes:
    return hashlib.sha256(chunk).digest()


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _hash_pool() -> ThreadPoolExecutor:
    """One process-wide pool of hashing threads (one per core), made on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="ccm-digest")
        return _POOL


class PreparedInputs:
    """Phase 1 done on the provider's device: A, B0, and the buffers the timed phase writes into.

    Built by :func:`prepare`; :meth:`answer` is the timed phase and may run once (it writes C into
    a buffer allocated here, which the returned answer holds).

    Resource handling: the buffers (B0[π], C and, on CUDA, a pinned host copy of C) are allocated
    and touched here, and BLAS is warmed up on a few rows, so that page faults and thread-pool
    start-up do not land in the window; that is O(n²) setup any provider may do before the nonce.
    """

    def __init__(self, challenge: CapacityChallenge, *, device: str | torch.device = "cpu") -> None:
        start = time.perf_counter()
        dev = torch.device(device)
        self.challenge = challenge
        self.device = dev
        self.a, self.b0 = make_inputs(challenge, device=dev)
        self.b = torch.zeros_like(self.b0)
        self.c = torch.zeros_like(self.a)
        rows = min(challenge.n, 64)
        torch.mm(self.a[:rows], self.b0, out=self.c[:rows])
        if dev.type == "cuda":
            self.c_host = torch.zeros(self.c.shape, dtype=torch.float32, pin_memory=True)
            torch.cuda.synchronize(dev)
        else:
            self.c_host = self.c
        self._used = False
        self.prepare_s = time.perf_counter() - start

    def answer(self, nonce: bytes | None) -> CapacityAnswer:
        """The timed phase: π from ``nonce``, C = A·B0[π] on the device, C to the host, its digest.

        ``nonce=None`` means no permutation (C = A·B0): only for a local self-test timed around
        everything by its caller (see :func:`compute_answer`); over the wire a nonce always comes.
        """
        if self._used:
            raise ChallengeError("already answered (one answer per preparation)", field="nonce")
        self._used = True
        start = time.perf_counter()
        if nonce is None:
            b = self.b0
        else:
            pi = permutation(nonce, self.challenge.n).to(self.device)
            torch.index_select(self.b0, 0, pi, out=self.b)
            b = self.b
        torch.mm(self.a, b, out=self.c)
        if self.device.type == "cuda":
            self.c_host.copy_(self.c)  # waits for the matmul: the copy is ordered after it
        digest = result_digest(self.c_host)
        elapsed = time.perf_counter() - start
        return CapacityAnswer(digest=digest, c=self.c_host, compute_s=elapsed, nonce=nonce)


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
    ``c``: the result received afterwards; anything that is not an n×n float32 tensor is simply wrong.
    """
    _check_real("elapsed_s", elapsed_s, 0.0, 1e9)
    _check_real("network_s", network_s, 0.0, 1e9)
    excused = min(network_s, challenge.max_network_s, MAX_EXCUSED_FRACTION * elapsed_s)
    counted = max(elapsed_s - excused, 1e-9)
    if nonce is not None and (not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES):
        raise ChallengeError(f"must be {NONCE_BYTES} bytes", field="nonce")
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


def _check_result(challenge: CapacityChallenge, digest: bytes, c: Any, nonce: bytes | None,
                  rounds: int) -> tuple[bool, str]:
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
    if nonce is not None:
        b = b.index_select(0, permutation(nonce, n))
    gen = torch.Generator(device="cpu").manual_seed(int.from_bytes(os.urandom(8), "big"))
    check = freivalds(a, b, c.to("cpu"), rounds=rounds, generator=gen)
    if not bool(check.passed):
        return False, "wrong result: Freivalds' check failed"
    return True, ""
