"""The capacity challenge's digest of C, computed where C lives (GPU or CPU) inside the timed window.

The provider answers the timed phase with 32 bytes computed on its device, so nothing of size n²
leaves the device before the answer (C itself travels afterwards and is checked against these bytes
and by Freivalds). Torch tensor operations only, the same on CUDA and the CPU, and every step is
exact integer arithmetic, so both give the same bytes (pinned by ``tests/vectors/capacity-digest-v3.json``).

The rule (``rows`` × ``cols`` result C of dtype ``d``; S, Y, T are tensors; all ``x`` are int32 and
every int32 ``*`` wraps modulo 2^32, ``>>`` is the arithmetic shift)::

    Q        = 2^(floor(log2(sqrt(cols) / 3)) - QUANTUM_BITS[d])   a power of two (see "Quantum")
    q_ij     = int32(trunc(float32(C_ij) / Q))                      C quantised, towards zero
    mix(x)   = ((x ^ key) * k) >> 27                                 in [-16, 15]
    S        = mix_col(q) @ M1          M1: cols × 64, entries 0..31   (rows × 64, exact)
    T        = mix_lane(S)ᵀ @ M2        M2: rows × 64, entries 0..31   (64 × 64, exact)
    digest   = SHA-256("ccm-capacity-digest/3" || d || rows || cols (4 bytes BE) || T as int32 LE)

``mix_col`` xors column j's key into every element of column j, ``mix_lane`` lane l's key into
every element of lane l, each with its own odd multiplier k. The keys and multipliers come from the
nonce (:func:`element_keys`: they exist only once the timed phase has started); M1 and M2 from the
challenge's seed (:func:`lane_matrices`: built in the untimed phase). The products are float32
matmuls of small integers (|Y| ≤ 16, M ≤ 31, at most 16384 terms: every partial sum is an integer
below 2^23, exactly representable), so any summation order, blocking, split-K or TF32 rounding of
the operands gives the same exact result on every device; the host only hashes 16 KiB.

Why it cannot be computed without C. A linear checksum can: uᵀ(A·B)v = (uᵀA)·(Bv), and any
⟨W, C⟩ passes through the product in O(n²). Here every element goes through ``mix``: its int32 bits
are xored with a key and multiplied by an odd key modulo 2^32 (a bijection whose top bits depend on
every input bit through the carries), and only the top 5 bits are kept, so Y_ij depends
non-linearly on all bits of q_ij and on keys that are unknown until the nonce. No identity carries
``mix`` through a sum, so S (and T) require every q_ij, that is every element of C to within Q. A
provider that answers from a shortcut (uᵀA·Bv), from a previous nonce's C or from a product
computed in a cheaper precision has the wrong q for almost every element: its digest differs, and
the C it sends later either fails the digest or Freivalds (``tests/capacity/test_digest.py`` tries
each).

Quantum. C is hashed to within Q, not bit for bit, because Freivalds accepts any C within its
tolerance: with raw bits, a provider could answer the digest of a cheap approximation C' in the
window, compute the true C at leisure, and adjust the low bits of its elements (inside the
tolerance) until they hash to what it sent — Y is 5 bits per element and the reduction is linear,
so that is a small integer linear system. Quantised, an element can only move to a neighbouring q
when it lies within the tolerance of a bucket edge. Q is set between two bounds, per dtype, with
σ = √cols/3 the spread of C's elements (A and B uniform in [-1, 1)):

* small enough that repairing a cheap approximation fails Freivalds: an approximation with error e
  per element lands in the wrong bucket for a fraction ~2e/Q of the elements, and moving those
  back costs a row residual ~√(cols·2e/Q)·e/2, which must exceed the row tolerance τ; for fp32
  against TF32 (e ≈ 4·10⁻⁴σ, τ ≈ 3.2·10⁻³σ at 16384) that needs Q < 0.05σ; for bf16 against fp8
  Q < 0.16σ; for TF32 against bf16 Q < 2.5·10⁻³σ. QUANTUM_BITS puts Q ten times below each.
* large enough that the repair freedom is small: an honest C's elements within τ/√k of an edge
  (k of them per row at most) can be moved, about (2·cols·τ/Q)^(2/3) per row — ~900 at fp32 and
  16384, ~120 at 4096 — against 64 lanes of ~15 bits per row, and every row of every challenge
  within the transfer timeout. Second preimages under this bound are a large knapsack per row, not
  a proof: the residual risk is stated, and a cryptographic hash kernel on the device (or spot
  checks of single elements) would close it.

Cost: one pass over C in blocks of rows (six elementwise operations and a 64-wide matmul per
element; in cache-sized blocks on a CPU), against the n³ of the product. On a CPU the 64-wide
product S = Y·M1 runs as an int8 × int8 → int32 matmul (``torch._int_mm``: Y and M1 fit int8, the
sums are exact either way, so the bytes are the same): as a float32 matmul, that skinny product
cost as much as the five elementwise steps together at n = 2048 on this project's 2-core Xeon (its
int8 form runs on the CPU's VNNI/AMX units). CUDA keeps the float32 form (tensor cores, every
device; not measured here without a GPU).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from node.capacity.errors import ChallengeError

DOMAIN = b"ccm-capacity-digest/3"
KEY_DOMAIN = b"ccm-capacity-digest-key/3"
LANES = 64
MAX_COLS = 16384
"""Exactness bound: 16 · 31 · 16384 < 2^23 (every partial sum of both matmuls is an exact float32)."""

QUANTUM_BITS = {"float32": 8, "tfloat32": 12, "bfloat16": 6, "float16": 6}
"""Q = 2^(floor(log2 σ) − bits): see "Quantum" in the module docstring."""

TORCH_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "tfloat32": torch.float32, "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
"""The dtype of C for each challenged dtype (TF32 products are stored in float32)."""

_MASK31 = 0x7FFFFFFF
# Elements per block of rows: in cache on a CPU, large enough to keep a GPU busy.
_BLOCK_ELEMENTS = {"cpu": 1 << 19, "cuda": 1 << 24}


def hash_ints(seed: bytes, salt: int, count: int, device: torch.device) -> torch.Tensor:
    """``count`` int64 values in [0, 2^31) from ``seed`` and ``salt``, the same bits on every device.

    An integer hash of (seed, salt, index) with int64 operations whose products stay below 2^62
    (never overflow), so CPU and CUDA agree. Only the first 12 bytes of ``seed`` are used.
    """
    s0 = int.from_bytes(seed[0:4], "big") & _MASK31
    s1 = int.from_bytes(seed[4:8], "big") & _MASK31
    s2 = int.from_bytes(seed[8:12], "big") & _MASK31
    x = torch.arange(count, dtype=torch.int64, device=device)
    x = (x * 2654435761 + s0 + salt * 97531) & _MASK31
    x = x ^ (x >> 13)
    x = (x * 1103515245 + s1) & _MASK31
    x = x ^ (x >> 16)
    x = (x * 1664525 + s2) & _MASK31
    x = x ^ (x >> 11)
    return (x * 22695477 + 1) & _MASK31


def quantum(cols: int, dtype: str) -> float:
    """Q for a C with ``cols`` columns in ``dtype`` (a power of two; the rule in the module docstring)."""
    if dtype not in QUANTUM_BITS:
        raise ChallengeError(f"unknown dtype {dtype!r} ({', '.join(QUANTUM_BITS)})", field="dtype")
    return 2.0 ** (math.floor(math.log2(math.sqrt(cols) / 3)) - QUANTUM_BITS[dtype])


@dataclass(frozen=True)
class LaneMatrices:
    """M1 (cols × 64) and M2 (rows × 64), entries 0..31 as float32: from the seed, before the nonce."""

    m1: torch.Tensor
    m2: torch.Tensor


@dataclass(frozen=True)
class ElementKeys:
    """What the nonce brings: per-column and per-lane keys and two odd multipliers (int32)."""

    col: torch.Tensor
    lane: torch.Tensor
    k: tuple[int, int]


def lane_matrices(seed: bytes, rows: int, cols: int, *, device: str | torch.device = "cpu") -> LaneMatrices:
    """M1 and M2 of the digest for challenge ``seed`` (untimed phase)."""
    if not 1 <= cols <= MAX_COLS or not 1 <= rows <= MAX_COLS:
        raise ChallengeError(f"C must be at most {MAX_COLS} × {MAX_COLS}, got {rows} × {cols}", field="c")
    dev = torch.device(device)
    m1 = ((hash_ints(seed, 21, cols * LANES, dev) >> 7) & 31).to(torch.float32).reshape(cols, LANES)
    m2 = ((hash_ints(seed, 22, rows * LANES, dev) >> 7) & 31).to(torch.float32).reshape(rows, LANES)
    return LaneMatrices(m1=m1, m2=m2)


def element_keys(nonce: bytes, cols: int, *, device: str | torch.device = "cpu") -> ElementKeys:
    """The nonce's keys (timed phase: O(cols) work). ``nonce`` is the 32-byte challenge nonce."""
    key = hashlib.sha256(KEY_DOMAIN + nonce).digest()
    dev = torch.device(device)
    col = hash_ints(key, 31, cols, dev).to(torch.int32)
    lane = hash_ints(key, 32, LANES, dev).to(torch.int32)
    words = [int.from_bytes(key[12 + 4 * i : 16 + 4 * i], "big") | 1 for i in range(2)]
    k1, k2 = (w - (1 << 32) if w >= 1 << 31 else w for w in words)
    return ElementKeys(col=col, lane=lane, k=(k1, k2))


def _mix(x: torch.Tensor, key: torch.Tensor, k: int, out: torch.Tensor) -> None:
    """``out`` = mix(x) (float32 or int8, exact) for int32 ``x`` (modified in place); ``key``
    broadcasts over rows."""
    x.bitwise_xor_(key)
    x.mul_(k)
    x.bitwise_right_shift_(27)
    out.copy_(x)


def result_digest(c: torch.Tensor, *, dtype: str, lanes: LaneMatrices, keys: ElementKeys,
                  block_rows: int | None = None) -> bytes:
    """The 32-byte digest of ``c`` (on its own device; see the module docstring for the rule).

    ``block_rows``: rows per block (default: cache-sized on a CPU, large on a GPU); any value gives
    the same bytes, since every step is exact.

    The blocks run one after the other from the calling thread, each step over a whole block, which
    ATen spreads over the cores. (An earlier form ran blocks on a pool of threads in steps too small
    for ATen to parallelise; with the int8 lane product it was three times slower at n = 2048 on
    this project's 2-core CPU: 22 ms against 6.6 ms at load 1.6, 45 against 32 with three busy
    processes beside it.)
    """
    expected = TORCH_DTYPES.get(dtype)
    if expected is None or c.dtype != expected or c.dim() != 2:
        raise ChallengeError(f"result must be a 2-d {expected} tensor for {dtype}, got {c.dtype} "
                             f"{tuple(c.shape)}", field="c")
    rows, cols = c.shape
    if lanes.m1.shape != (cols, LANES) or lanes.m2.shape != (rows, LANES) or keys.col.shape != (cols,):
        raise ChallengeError(f"digest keys are for another size than {rows} × {cols}", field="c")
    dev = c.device
    m1, m2 = lanes.m1.to(dev), lanes.m2.to(dev)
    int8_lanes = dev.type == "cpu"
    if int8_lanes:
        m1 = m1.to(torch.int8)
    col, lane = keys.col.to(dev), keys.lane.to(dev)
    k1, k2 = keys.k
    inv_q = 1.0 / quantum(cols, dtype)
    if block_rows is None:
        block_rows = _BLOCK_ELEMENTS.get(dev.type, 1 << 24) // cols
    block = max(1, min(rows, block_rows))
    s = torch.empty(rows, LANES, dtype=torch.int32 if int8_lanes else torch.float32, device=dev)
    f = torch.empty(block, cols, dtype=torch.float32, device=dev)
    x = torch.empty(block, cols, dtype=torch.int32, device=dev)
    y = torch.empty(block, cols, dtype=torch.int8, device=dev) if int8_lanes else f
    for r0 in range(0, rows, block):
        r1 = min(rows, r0 + block)
        fa, xa, ya, ca = f[: r1 - r0], x[: r1 - r0], y[: r1 - r0], c[r0:r1]
        if c.dtype == torch.float32:
            torch.mul(ca, inv_q, out=fa)  # a power of two: exact
        else:  # widen first (exact): a mixed-dtype mul into fa is many times slower on a CPU
            fa.copy_(ca)
            fa.mul_(inv_q)
        xa.copy_(fa)  # truncation towards zero
        _mix(xa, col, k1, ya)
        if int8_lanes:
            s[r0:r1] = torch._int_mm(ya, m1)
        else:
            torch.mm(fa, m1, out=s[r0:r1])
    y2 = torch.empty(rows, LANES, dtype=torch.float32, device=dev)
    _mix(s.to(torch.int32, copy=True), lane, k2, y2)
    t = torch.mm(y2.t(), m2).to(torch.int32).to("cpu").contiguous()
    body = t.numpy().astype("<i4", copy=False).tobytes()
    name = dtype.encode()
    head = DOMAIN + len(name).to_bytes(1, "big") + name + rows.to_bytes(4, "big") + cols.to_bytes(4, "big")
    return hashlib.sha256(head + body).digest()
