"""The on-device digest of C: the documented rule (a pure-Python reference), pinned bytes, the same
bytes whatever the blocking or device, and providers that try to answer it without C fail."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from node.capacity.challenge import (
    DTYPES,
    SELF_TEST_NONCE,
    CapacityChallenge,
    answer_digest,
    judge,
    make_inputs,
    new_challenge,
    new_nonce,
    permutation,
    prepare,
)
from node.capacity.digest import (
    DOMAIN,
    LANES,
    QUANTUM_BITS,
    TORCH_DTYPES,
    element_keys,
    hash_ints,
    lane_matrices,
    quantum,
    result_digest,
)
from node.capacity.errors import ChallengeError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "capacity-digest-v3.json"
SEED = bytes(range(32))
NONCE = bytes(range(100, 132))
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# -- the rule, spelled out in Python integers -------------------------------------------------------


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _mix(x: int, key: int, k: int) -> int:
    return _i32((x ^ key) * k) >> 27  # Python's >> on a negative int is the arithmetic shift


def _reference(c: torch.Tensor, *, dtype: str, seed: bytes, nonce: bytes) -> bytes:
    rows, cols = c.shape
    q = quantum(cols, dtype)
    m1 = ((hash_ints(seed, 21, cols * LANES, torch.device("cpu")) >> 7) & 31).reshape(cols, LANES).tolist()
    m2 = ((hash_ints(seed, 22, rows * LANES, torch.device("cpu")) >> 7) & 31).reshape(rows, LANES).tolist()
    keys = element_keys(nonce, cols)
    col, lane, (k1, k2) = keys.col.tolist(), keys.lane.tolist(), keys.k
    values = c.to(torch.float64).tolist()
    s = [[0] * LANES for _ in range(rows)]
    for i in range(rows):
        y = [_mix(math.trunc(values[i][j] / q), col[j], k1) for j in range(cols)]
        for lane_i in range(LANES):
            s[i][lane_i] = sum(y[j] * m1[j][lane_i] for j in range(cols))
    y2 = [[_mix(s[i][k], lane[k], k2) for k in range(LANES)] for i in range(rows)]
    t = [[sum(y2[i][a] * m2[i][b] for i in range(rows)) for b in range(LANES)] for a in range(LANES)]
    body = b"".join(v.to_bytes(4, "little", signed=True) for row in t for v in row)
    name = dtype.encode()
    head = DOMAIN + bytes([len(name)]) + name + rows.to_bytes(4, "big") + cols.to_bytes(4, "big")
    return hashlib.sha256(head + body).digest()


def _digest(c: torch.Tensor, dtype: str, *, seed: bytes = SEED, nonce: bytes = NONCE,
            block_rows: int | None = None) -> bytes:
    rows, cols = c.shape
    return result_digest(c, dtype=dtype, lanes=lane_matrices(seed, rows, cols, device=c.device),
                         keys=element_keys(nonce, cols, device=c.device), block_rows=block_rows)


@pytest.mark.parametrize("dtype", DTYPES)
def test_digest_follows_the_documented_rule(dtype: str) -> None:
    gen = torch.Generator().manual_seed(3)
    c = (torch.randn(12, 20, generator=gen) * 2).to(TORCH_DTYPES[dtype])
    assert _digest(c, dtype) == _reference(c, dtype=dtype, seed=SEED, nonce=NONCE)


@pytest.mark.parametrize("device", DEVICES)
def test_digest_bytes_are_pinned(device: str) -> None:
    # C := A of the vector's challenge (no matmul, whose rounding differs between devices), per dtype.
    vectors = json.loads(VECTORS.read_text())
    assert {v["dtype"] for v in vectors["cases"]} == set(DTYPES)
    for case in vectors["cases"]:
        seed = bytes.fromhex(case["seed"])
        ch = new_challenge(advertised_gflops=1, n=case["n"], seed=seed, dtype=case["dtype"])
        c, _ = make_inputs(ch, device=device)
        assert answer_digest(ch, c, bytes.fromhex(case["nonce"])).hex() == case["digest"], case["dtype"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_any_blocking_and_layout_give_the_same_bytes(dtype: str) -> None:
    # Every step is exact integer arithmetic: a GPU's blocking (or split-K) cannot change the bytes.
    gen = torch.Generator().manual_seed(5)
    c = (torch.randn(96, 80, generator=gen) * 3).to(TORCH_DTYPES[dtype])
    whole = _digest(c, dtype)
    assert all(_digest(c, dtype, block_rows=r) == whole for r in (1, 7, 32, 96, 1000))
    assert _digest(c.t().contiguous().t(), dtype) == whole
    assert _digest(c, dtype, nonce=bytes(32)) != whole  # keyed by the nonce
    assert _digest(c, dtype, seed=bytes(32)) != whole  # and by the challenge's seed
    assert _digest(c[:95], dtype) != whole  # the shape is bound


def test_digest_is_c_to_within_the_quantum_and_every_element_counts() -> None:
    n = 64
    ch = new_challenge(advertised_gflops=1, n=n, seed=SEED)
    a, b = make_inputs(ch)
    c = a @ b
    q = quantum(n, "float32")
    assert q == 2.0 ** (math.floor(math.log2(math.sqrt(n) / 3)) - QUANTUM_BITS["float32"])
    base = answer_digest(ch, c, NONCE)
    changed = 0
    for i, j in [(0, 0), (5, 9), (63, 63), (31, 2)]:
        moved = c.clone()
        moved[i, j] += 1.5 * q  # at least one bucket away
        changed += answer_digest(ch, moved, NONCE) != base
    assert changed == 4
    # Within the element's own bucket, nothing changes (what Freivalds' tolerance allows can rarely
    # move a digest, so a provider cannot steer it after the answer: see node.capacity.digest).
    same = c.clone()
    bucket = torch.trunc(c / q)
    inner = torch.where(bucket >= 0, bucket * q + q / 2, bucket * q - q / 2)
    same.copy_(inner)
    assert answer_digest(ch, same, NONCE) == answer_digest(ch, inner.clone(), NONCE)


def test_digest_rejects_a_result_of_the_wrong_kind() -> None:
    c = torch.zeros(16, 16)
    with pytest.raises(ChallengeError, match=r"2-d torch\.bfloat16"):
        _digest(c, "bfloat16")
    with pytest.raises(ChallengeError, match="another size"):
        result_digest(c, dtype="float32", lanes=lane_matrices(SEED, 16, 16), keys=element_keys(NONCE, 8))
    with pytest.raises(ChallengeError, match="at most 16384"):
        lane_matrices(SEED, 16, 20000)
    with pytest.raises(ChallengeError, match="unknown dtype"):
        quantum(16, "float64")


# -- providers that try to answer without C ---------------------------------------------------------


def _window(ch: CapacityChallenge) -> tuple[bytes, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A nonce, A, B = B0[π] and the honest C for ``ch``."""
    nonce = new_nonce()
    a, b0 = make_inputs(ch)
    b = b0[permutation(nonce, ch.n)]
    return nonce, a, b, prepare(ch).answer(nonce).c


def test_linear_shortcut_answer_fails() -> None:
    # u^T (A·B) v = (u^T A)(B v) in O(n²): a provider that answers with a digest of that (or of any
    # linear sketch) has not got C's digest, and the honest C it sends later does not match.
    ch = new_challenge(advertised_gflops=1, n=128)
    nonce, a, b, c = _window(ch)
    gen = torch.Generator().manual_seed(1)
    u, v = torch.randn(128, generator=gen), torch.randn(128, generator=gen)
    sketch = (u @ a) @ (b @ v)
    assert torch.allclose(sketch, u @ c @ v, rtol=1e-4)  # the shortcut is right about C's checksum
    guess = hashlib.sha256(DOMAIN + sketch.numpy().tobytes()).digest()
    result = judge(ch, digest=guess, c=c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "does not match the digest" in result.reason
    # Nor does the digest of a C rebuilt from its row and column sums (more O(n²) sketches).
    rows, cols = a @ b.sum(1), a.sum(0) @ b
    assert torch.allclose(rows, c.sum(1), rtol=1e-3, atol=1e-2)
    fake = answer_digest(ch, torch.outer(rows, cols) / rows.sum(), nonce)
    assert not judge(ch, digest=fake, c=c, elapsed_s=0.01, nonce=nonce).passed


def test_previous_nonces_result_fails() -> None:
    ch = new_challenge(advertised_gflops=1, n=128)
    old_nonce, _, _, old_c = _window(ch)
    nonce = new_nonce()
    # Its own digest under the new key: the digest matches that C, and Freivalds rejects it.
    result = judge(ch, digest=answer_digest(ch, old_c, nonce), c=old_c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "Freivalds" in result.reason
    # The old answer replayed: the keys differ, so even the old C does not match.
    replay = answer_digest(ch, old_c, old_nonce)
    result = judge(ch, digest=replay, c=old_c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "does not match the digest" in result.reason


def _tf32(x: torch.Tensor) -> torch.Tensor:
    """x with its mantissa truncated to TF32's 10 bits (what a tensor core reads)."""
    return (x.view(torch.int32) & ~0x1FFF).view(torch.float32)


def _fp8(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float8_e4m3fn).to(x.dtype)


@pytest.mark.parametrize(
    ("dtype", "cheaper", "product"),
    [
        ("float32", "bfloat16", lambda a, b: (a.bfloat16() @ b.bfloat16()).float()),
        ("float32", "tfloat32", lambda a, b: _tf32(a) @ _tf32(b)),
        ("tfloat32", "bfloat16", lambda a, b: (a.bfloat16() @ b.bfloat16()).float()),
        ("bfloat16", "float8", lambda a, b: _fp8(a) @ _fp8(b)),
        ("float16", "bfloat16", lambda a, b: (a.bfloat16() @ b.bfloat16()).half()),
        ("float16", "float8", lambda a, b: _fp8(a) @ _fp8(b)),
    ],
)
def test_product_in_a_cheaper_precision_fails(dtype: str, cheaper: str, product: object) -> None:
    # Digest and C agree (the cheater hashes what it computed), but Freivalds' tolerance for the
    # challenged dtype rejects the cheaper product.
    ch = new_challenge(advertised_gflops=1, n=256, dtype=dtype)
    nonce, a, b, honest = _window(ch)
    assert callable(product)
    c = product(a, b)
    assert c.dtype == honest.dtype and not torch.equal(c, honest), cheaper
    result = judge(ch, digest=answer_digest(ch, c, nonce), c=c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "Freivalds" in result.reason, (cheaper, result.reason)
    ok = judge(ch, digest=answer_digest(ch, honest, nonce), c=honest, elapsed_s=0.01, nonce=nonce)
    assert ok.correct, ok.reason


def test_honest_tf32_product_passes_its_own_tolerance() -> None:
    # A GPU's TF32 product (inputs truncated to 10 bits, fp32 sums) passes a TF32 challenge, not fp32.
    tf32 = new_challenge(advertised_gflops=1, n=256, dtype="tfloat32")
    nonce, a, b, _ = _window(tf32)
    c = _tf32(a) @ _tf32(b)
    assert judge(tf32, digest=answer_digest(tf32, c, nonce), c=c, elapsed_s=0.01, nonce=nonce).correct
    fp32 = CapacityChallenge(**{**tf32.__dict__, "dtype": "float32"})
    assert not judge(fp32, digest=answer_digest(fp32, c, nonce), c=c, elapsed_s=0.01, nonce=nonce).correct


def test_self_test_key_is_the_zero_nonce() -> None:
    ch = new_challenge(advertised_gflops=1, n=32, seed=SEED)
    c, _ = make_inputs(ch)
    assert answer_digest(ch, c, None) == answer_digest(ch, c, SELF_TEST_NONCE)
