"""The capacity challenge: honest answers pass; wrong, late, precomputed and over-advertised ones fail,
plainly; the timed phase holds the matmul, not the building of its inputs."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import torch

from node.capacity.challenge import (
    DEFAULT_THRESHOLD,
    DTYPES,
    CapacityChallenge,
    answer_digest,
    challenge_size,
    compute_answer,
    deadline_ms,
    judge,
    make_inputs,
    new_challenge,
    new_nonce,
    permutation,
    prepare,
    prepare_timeout_s,
)
from node.capacity.errors import ChallengeError
from node.store import Store

SEED = bytes(range(32))


def _timed_answer(ch: CapacityChallenge) -> tuple[bytes, torch.Tensor, float, bytes]:
    """Both phases as the protocol runs them: inputs built first (untimed), then the nonce, timed."""
    prepared = prepare(ch, device="cpu")
    nonce = new_nonce()
    start = time.perf_counter()
    answer = prepared.answer(nonce)
    return answer.digest, answer.c, time.perf_counter() - start, nonce


def test_inputs_come_from_the_seed_only() -> None:
    ch = new_challenge(advertised_gflops=10, n=64, seed=SEED)
    a, b = make_inputs(ch)
    a2, b2 = make_inputs(CapacityChallenge.from_json(ch.to_json()))
    assert torch.equal(a, a2) and torch.equal(b, b2) and not torch.equal(a, b)
    assert a.dtype == torch.float32 and a.shape == (64, 64)
    assert float(a.min()) >= -1.0 and float(a.max()) < 1.0 and abs(float(a.mean())) < 0.05
    other, _ = make_inputs(new_challenge(advertised_gflops=10, n=64, seed=bytes(32)))
    assert not torch.equal(a, other)
    # The bits are part of the protocol (CPU and CUDA must agree with every other node): pinned.
    digest = hashlib.sha256(a.numpy().tobytes() + b.numpy().tobytes()).hexdigest()
    assert digest == PINNED_INPUTS


PINNED_INPUTS = "3aa9e3d682963524f646beec0f823d1b4f103ec017e1650b154a841ff299762d"


def test_permutation_follows_the_documented_rule() -> None:
    nonce = bytes(range(32))
    pi = permutation(nonce, 16)
    assert pi.dtype == torch.int64 and sorted(pi.tolist()) == list(range(16))
    # The rule, spelled out independently of the implementation: sort i by SHA-256(tag, nonce, i).
    tag = b"ccm-capacity-perm/2"
    keys = {i: hashlib.sha256(tag + nonce + i.to_bytes(4, "big")).digest() for i in range(16)}
    assert pi.tolist() == sorted(range(16), key=keys.__getitem__)
    # Part of the protocol (every device derives the same π on its CPU): pinned.
    assert pi.tolist() == [0, 8, 15, 3, 6, 9, 14, 12, 7, 2, 13, 5, 1, 10, 4, 11]
    assert not torch.equal(permutation(bytes(32), 16), pi)
    assert sorted(permutation(new_nonce(), 1000).tolist()) == list(range(1000))


@pytest.mark.parametrize("nonce", [b"", bytes(31), "00" * 32, None])
def test_bad_nonce_is_a_clear_error(nonce: object) -> None:
    with pytest.raises(ChallengeError) as info:
        permutation(nonce, 16)  # type: ignore[arg-type]
    assert info.value.field == "nonce"
    ch = new_challenge(advertised_gflops=1, n=16)
    if nonce is not None:
        with pytest.raises(ChallengeError, match="nonce: must be 32 bytes"):
            judge(ch, digest=bytes(32), c=None, elapsed_s=0.1, nonce=nonce)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", DTYPES)
def test_honest_answer_passes_in_every_dtype(dtype: str) -> None:
    ch = new_challenge(advertised_gflops=1, n=192, dtype=dtype, threshold=0.001, network_allowance_s=60.0)
    digest, c, elapsed, nonce = _timed_answer(ch)
    assert c.dtype == (torch.float32 if dtype == "tfloat32" else getattr(torch, dtype))
    result = judge(ch, digest=digest, c=c, elapsed_s=elapsed, nonce=nonce)
    assert result.passed and result.dtype == dtype, result.reason
    # C of one dtype is no answer to a challenge in another.
    other = "float16" if dtype == "bfloat16" else "bfloat16"
    wrong = judge(CapacityChallenge(**{**ch.__dict__, "dtype": other}), digest=digest, c=c, elapsed_s=elapsed,
                  nonce=nonce)
    assert not wrong.passed and f"192x192 {other} matrix" in wrong.reason
    if dtype == "float32":  # the per-peer figure offers are ranked by
        assert result.to_record("12D3KooWpeer").achieved_gflops == result.achieved_gflops
    else:
        with pytest.raises(ChallengeError, match="only float32"):
            result.to_record("12D3KooWpeer")


def test_honest_answer_passes() -> None:
    # Real compute and real timing, but a loose threshold and deadline: this tests the verdict, not
    # the speed of a shared 2-core test machine (the ratio rule has its own test below).
    ch = new_challenge(advertised_gflops=1, n=256, threshold=0.001, network_allowance_s=60.0)
    digest, c, elapsed, nonce = _timed_answer(ch)
    result = judge(ch, digest=digest, c=c, elapsed_s=elapsed, network_s=0.0, nonce=nonce)
    assert result.passed and result.correct and result.in_time, result.reason
    assert result.achieved_gflops == round(2 * 256**3 / elapsed / 1e9)
    assert result.ratio >= ch.threshold and result.reason == ""


def test_wrong_result_fails() -> None:
    ch = new_challenge(advertised_gflops=1, n=128)
    nonce = new_nonce()
    answer = compute_answer(ch, nonce=nonce)
    assert answer.nonce == nonce
    assert judge(ch, digest=answer.digest, c=answer.c, elapsed_s=0.01, nonce=nonce).correct
    bad = answer.c.clone()
    bad[17, 5] += 1.0  # one wrong element, consistently hashed: only Freivalds can tell
    result = judge(ch, digest=answer_digest(ch, bad, nonce), c=bad, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and not result.correct
    assert "Freivalds" in result.reason and result.achieved_gflops == 0


def test_product_computed_before_the_nonce_fails() -> None:
    # A cheater multiplies A·B0 in the untimed phase and answers it at once: the nonce's π makes
    # the expected product a different one, and so does an answer for another nonce.
    ch = new_challenge(advertised_gflops=1, n=128)
    early = compute_answer(ch)  # no nonce: C = A·B0
    a, b0 = make_inputs(ch)
    assert torch.equal(early.c, a @ b0)
    nonce = new_nonce()
    # Hashing the early C with the nonce's keys is cheap, but C is the wrong product.
    result = judge(ch, digest=answer_digest(ch, early.c, nonce), c=early.c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "Freivalds" in result.reason
    result = judge(ch, digest=early.digest, c=early.c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "does not match the digest" in result.reason
    other = compute_answer(ch, nonce=new_nonce())
    result = judge(ch, digest=answer_digest(ch, other.c, nonce), c=other.c, elapsed_s=0.01, nonce=nonce)
    assert not result.passed and "Freivalds" in result.reason
    # What the honest provider computes for this nonce is A·B0[π].
    honest = compute_answer(ch, nonce=nonce)
    assert torch.allclose(honest.c, a @ b0[permutation(nonce, 128)])


def test_prepared_inputs_answer_once() -> None:
    prepared = prepare(new_challenge(advertised_gflops=1, n=32))
    prepared.answer(new_nonce())
    with pytest.raises(ChallengeError, match="already answered"):
        prepared.answer(new_nonce())


def test_result_that_does_not_match_the_digest_fails() -> None:
    ch = new_challenge(advertised_gflops=1, n=64)
    answer = compute_answer(ch)
    swapped = answer.c.clone()
    # Sixteen elements moved by far more than the quantum: the digest keeps 5 bits an element, so one
    # element alone maps to the same bits 1 time in 32 (and was left to Freivalds); all sixteen, 2^-80.
    idx = torch.arange(16)
    swapped[idx, idx] += 8.0
    result = judge(ch, digest=answer.digest, c=swapped, elapsed_s=0.01)
    assert not result.passed and "digest" in result.reason


@pytest.mark.parametrize("c", [torch.zeros(63, 64), torch.zeros(64, 64, dtype=torch.float64), "C", None])
def test_malformed_result_is_simply_wrong(c: object) -> None:
    ch = new_challenge(advertised_gflops=1, n=64)
    result = judge(ch, digest=b"\x00" * 32, c=c, elapsed_s=0.01)
    assert not result.passed and not result.correct and "expected a 64x64 float32" in result.reason


def test_late_answer_fails() -> None:
    ch = new_challenge(advertised_gflops=1, n=128)
    nonce = new_nonce()
    answer = compute_answer(ch, nonce=nonce)
    late = ch.deadline_ms / 1000 + 0.5
    result = judge(ch, digest=answer.digest, c=answer.c, elapsed_s=late, nonce=nonce)
    assert result.correct and not result.in_time and not result.passed
    assert result.reason.startswith("late:")


def test_advertised_figure_far_above_achieved_fails() -> None:
    ch = new_challenge(advertised_gflops=1_000_000, n=256)  # 1 PFLOP/s claimed from a CPU
    digest, c, elapsed, nonce = _timed_answer(ch)
    result = judge(ch, digest=digest, c=c, elapsed_s=elapsed, nonce=nonce)
    assert result.correct and result.in_time and not result.passed
    assert result.ratio < 0.01 and "of the advertised 1000000" in result.reason


def test_network_time_is_excluded_but_bounded() -> None:
    ch = new_challenge(advertised_gflops=1, n=64, network_allowance_s=0.25)
    nonce = new_nonce()
    answer = compute_answer(ch, nonce=nonce)
    honest = judge(ch, digest=answer.digest, c=answer.c, elapsed_s=1.0, network_s=0.1, nonce=nonce)
    assert honest.counted_s == pytest.approx(0.9)  # a short round trip is excused whole
    capped = judge(ch, digest=answer.digest, c=answer.c, elapsed_s=2.0, network_s=0.5, nonce=nonce)
    # A 0.5 s round trip is claimed, but only 0.25 s of it may be excused.
    assert capped.counted_s == pytest.approx(1.75)
    # The provider answers the pings itself: slow pongs buy at most a quarter of the elapsed time,
    # never a figure out of all proportion (a few-ms ping once swallowed a whole 2 ms answer).
    ch_fast = new_challenge(advertised_gflops=10**6, n=64, network_allowance_s=1.0)
    answer = compute_answer(ch_fast, nonce=nonce)
    boast = judge(ch_fast, digest=answer.digest, c=answer.c, elapsed_s=0.002, network_s=0.9, nonce=nonce)
    assert boast.counted_s == pytest.approx(0.0015) and not boast.passed


def test_deadline_and_size_follow_the_advertised_figure() -> None:
    slow, fast = deadline_ms(1024, 100), deadline_ms(1024, 100_000)
    assert slow > fast > 0
    # From the nonce: the advertised matmul time over the threshold, plus 30 ns per element twice
    # (gather, hash) and 5 µs per row (π); building the inputs is no longer in it.
    assert deadline_ms(1024, 100, network_allowance_s=0.0) == pytest.approx(
        (2 * 1024**3 / 100e9 / DEFAULT_THRESHOLD + 2 * 1024**2 * 30e-9 + 1024 * 5e-6) * 1000, abs=1)
    assert prepare_timeout_s(1024) == pytest.approx(10.0 + 2 * 1024**2 * 1e-6)
    assert prepare_timeout_s(16384) < 600
    with pytest.raises(ChallengeError, match="n: must be between"):
        prepare_timeout_s(8)
    assert challenge_size(1) == 16 * round((0.5e9 / 2) ** (1 / 3) / 16)
    assert challenge_size(10**8) == 16384  # clipped to the largest challenge
    assert challenge_size(50_000) % 16 == 0


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"n": -4}, "n"),
        ({"n": 0}, "n"),
        ({"n": 10**6}, "n"),
        ({"n": 64.0}, "n"),
        ({"advertised_gflops": 0}, "advertised_gflops"),
        ({"deadline_ms": -1}, "deadline_ms"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": "half"}, "threshold"),
        ({"max_network_s": -1}, "max_network_s"),
        ({"seed": "0x1234"}, "seed"),
        ({"seed": "0x" + "zz" * 32}, "seed"),
        ({"dtype": "float64"}, "dtype"),
        ({"schema": "other/1"}, "schema"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_challenges_name_the_field(edit: dict[str, object], field: str) -> None:
    data = json.loads(new_challenge(advertised_gflops=10, n=64, seed=SEED).to_json())
    data.update(edit)
    with pytest.raises(ChallengeError) as info:
        CapacityChallenge.from_json(json.dumps(data))
    assert info.value.field == field


@pytest.mark.parametrize("text", ["", "{", "[]", '"x"', b"\xff"])
def test_not_json_is_a_clear_error(text: str | bytes) -> None:
    with pytest.raises(ChallengeError):
        CapacityChallenge.from_json(text)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ChallengeError, match="n: must be between"):
        new_challenge(advertised_gflops=10, n=-1)
    with pytest.raises(ChallengeError, match="advertised_gflops"):
        new_challenge(advertised_gflops=-10)
    ch = new_challenge(advertised_gflops=10, n=64)
    with pytest.raises(ChallengeError, match="elapsed_s"):
        judge(ch, digest=b"", c=None, elapsed_s=float("nan"))
    with pytest.raises(ChallengeError, match="network_s"):
        judge(ch, digest=b"", c=None, elapsed_s=1.0, network_s=-1.0)


def test_results_are_kept_per_peer_and_ranked(tmp_path: Path) -> None:
    ch = new_challenge(advertised_gflops=1, n=64)
    answer = compute_answer(ch)
    bad = judge(ch, digest=answer.digest, c=None, elapsed_s=0.01)
    with Store.open(tmp_path) as store:
        store.add_capacity_result(bad.to_record("12D3KooWcheater"))
        fig = store.verified_figure("12D3KooWcheater")
        assert fig.failed and fig.rank_value == 0 and fig.label.startswith("FAILED: wrong result")
        assert store.verified_figure("12D3KooWother").label == "unverified"
