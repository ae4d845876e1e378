"""The capacity challenge: honest answers pass; wrong, late and over-advertised ones fail, plainly."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import torch

from node.capacity.challenge import (
    DEFAULT_THRESHOLD,
    CapacityChallenge,
    challenge_size,
    compute_answer,
    deadline_ms,
    judge,
    make_inputs,
    new_challenge,
    result_digest,
)
from node.capacity.errors import ChallengeError
from node.store import Store

SEED = bytes(range(32))


def _freivalds() -> None:
    pytest.importorskip("verifier.freivalds", reason="verifier.freivalds has not landed yet")


def _timed_answer(ch: CapacityChallenge) -> tuple[bytes, torch.Tensor, float]:
    start = time.perf_counter()
    answer = compute_answer(ch, device="cpu")
    return answer.digest, answer.c, time.perf_counter() - start


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


def test_honest_answer_passes() -> None:
    _freivalds()
    # Real compute and real timing, but a loose threshold and deadline: this tests the verdict, not
    # the speed of a shared 2-core test machine (the ratio rule has its own test below).
    ch = new_challenge(advertised_gflops=1, n=256, threshold=0.001, network_allowance_s=60.0)
    digest, c, elapsed = _timed_answer(ch)
    result = judge(ch, digest=digest, c=c, elapsed_s=elapsed, network_s=0.0)
    assert result.passed and result.correct and result.in_time, result.reason
    assert result.achieved_gflops == round(2 * 256**3 / elapsed / 1e9)
    assert result.ratio >= ch.threshold and result.reason == ""


def test_wrong_result_fails() -> None:
    _freivalds()
    ch = new_challenge(advertised_gflops=1, n=128)
    answer = compute_answer(ch)
    bad = answer.c.clone()
    bad[17, 5] += 1.0  # one wrong element, consistently hashed: only Freivalds can tell
    result = judge(ch, digest=result_digest(bad), c=bad, elapsed_s=0.01)
    assert not result.passed and not result.correct
    assert "Freivalds" in result.reason and result.achieved_gflops == 0


def test_result_that_does_not_match_the_digest_fails() -> None:
    ch = new_challenge(advertised_gflops=1, n=64)
    answer = compute_answer(ch)
    swapped = answer.c.clone()
    swapped[0, 0] = 0.0
    result = judge(ch, digest=answer.digest, c=swapped, elapsed_s=0.01)
    assert not result.passed and "digest" in result.reason


@pytest.mark.parametrize("c", [torch.zeros(63, 64), torch.zeros(64, 64, dtype=torch.float64), "C", None])
def test_malformed_result_is_simply_wrong(c: object) -> None:
    ch = new_challenge(advertised_gflops=1, n=64)
    result = judge(ch, digest=b"\x00" * 32, c=c, elapsed_s=0.01)
    assert not result.passed and not result.correct and "expected a 64x64 float32" in result.reason


def test_late_answer_fails() -> None:
    _freivalds()
    ch = new_challenge(advertised_gflops=1, n=128)
    answer = compute_answer(ch)
    late = ch.deadline_ms / 1000 + 0.5
    result = judge(ch, digest=answer.digest, c=answer.c, elapsed_s=late)
    assert result.correct and not result.in_time and not result.passed
    assert result.reason.startswith("late:")


def test_advertised_figure_far_above_achieved_fails() -> None:
    _freivalds()
    ch = new_challenge(advertised_gflops=1_000_000, n=256)  # 1 PFLOP/s claimed from a CPU
    digest, c, elapsed = _timed_answer(ch)
    result = judge(ch, digest=digest, c=c, elapsed_s=elapsed)
    assert result.correct and result.in_time and not result.passed
    assert result.ratio < 0.01 and "of the advertised 1000000" in result.reason


def test_network_time_is_excluded_but_bounded() -> None:
    _freivalds()
    ch = new_challenge(advertised_gflops=1, n=64, network_allowance_s=0.25)
    answer = compute_answer(ch)
    honest = judge(ch, digest=answer.digest, c=answer.c, elapsed_s=1.0, network_s=0.5)
    # A 0.5 s round trip is claimed, but only 0.25 s of it may be excused.
    assert honest.counted_s == pytest.approx(0.75)


def test_deadline_and_size_follow_the_advertised_figure() -> None:
    slow, fast = deadline_ms(1024, 100), deadline_ms(1024, 100_000)
    assert slow > fast > 0
    assert deadline_ms(1024, 100, network_allowance_s=0.0) == pytest.approx(
        (2 * 1024**3 / 100e9 / DEFAULT_THRESHOLD + 3 * 1024**2 * 30e-9) * 1000, abs=1)
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
        ({"dtype": "float16"}, "dtype"),
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
