"""Detection math: exact formula vs enumeration, minimal k, exact ceil, and unbiased sampling."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from fractions import Fraction

import pytest
from eth_hash.auto import keccak

from verifier.detection import (
    detection_probability,
    parse_fraction,
    plan_samples,
    plan_table,
    survival_exact,
)
from verifier.errors import InvalidArgument
from verifier.sampling import sample_indices


@pytest.mark.parametrize(("n", "b"), [(1, 0), (1, 1), (5, 2), (6, 1), (7, 3), (8, 8), (9, 4)])
def test_exact_formula_matches_enumeration(n: int, b: int) -> None:
    bad = set(range(b))
    for k in range(n + 1):
        subsets = list(itertools.combinations(range(n), k))
        caught = sum(1 for s in subsets if bad & set(s))
        exact = Fraction(caught, len(subsets))
        assert 1 - survival_exact(n, b, k) == exact
        assert detection_probability(n, b, k) == pytest.approx(float(exact), abs=1e-15)


def test_large_n_uses_the_float_path_and_agrees_with_exact() -> None:
    n, b, k = 10**9, 10**6, 20_000  # k·log2(N) is beyond the exact budget
    p = detection_probability(n, b, k)
    log_s = sum(math.log1p(-b / (n - i)) for i in range(k))
    assert p == pytest.approx(-math.expm1(log_s), rel=1e-12)


@pytest.mark.parametrize(
    ("n", "f", "c"),
    [
        (1000, "0.05", "0.99"),
        (100, "0.01", "0.99"),
        (10, "0.1", "0.9"),
        (2, "0.5", "0.5"),
        (5000, "0.05", "0.99"),
    ],
)
def test_plan_is_the_smallest_k(n: int, f: str, c: str) -> None:
    plan = plan_samples(n_units=n, min_cheat_fraction=f, confidence=c)
    target = Fraction(c)
    assert 1 - survival_exact(n, plan.n_bad, plan.k) >= target
    if plan.k > 1:
        assert 1 - survival_exact(n, plan.n_bad, plan.k - 1) < target
    assert plan.detection_probability >= float(target)


def test_known_plans() -> None:
    assert plan_samples(n_units=1000, min_cheat_fraction="0.05", confidence="0.99").k == 86
    # Ties count as reached: catching 1 of 2 with probability exactly 1/2 needs one sample.
    assert plan_samples(n_units=2, min_cheat_fraction="0.5", confidence="0.5").k == 1
    assert plan_samples(n_units=10, min_cheat_fraction="0.1", confidence="0.9").k == 9
    assert plan_samples(n_units=10_000_000, min_cheat_fraction="1e-7", confidence="0.9").k == 9_000_000
    assert plan_samples(n_units=1, min_cheat_fraction="1", confidence="0.999").k == 1


@pytest.mark.parametrize(
    ("n", "f", "n_bad"),
    [
        (10, 0.1, 1),
        (10, "0.1", 1),
        (100, 0.07, 7),
        (1000, 0.001, 1),
        (3, "1/3", 1),
        (7, 0.3, 3),
        (10**6, "3e-6", 3),
    ],
)
def test_n_bad_is_an_exact_ceiling(n: int, f: float | str, n_bad: int) -> None:
    # float(0.1) * 10 is 1.0000000000000000555 in binary; the ceiling must still be 1.
    assert plan_samples(n_units=n, min_cheat_fraction=f, confidence=0.5).n_bad == n_bad


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_units": 0}, "n_units"),
        ({"n_units": -3}, "n_units"),
        ({"n_units": 2.5}, "n_units"),
        ({"n_units": True}, "n_units"),
        ({"min_cheat_fraction": "0"}, "min_cheat_fraction"),
        ({"min_cheat_fraction": "1.0001"}, "min_cheat_fraction"),
        ({"min_cheat_fraction": "-0.1"}, "min_cheat_fraction"),
        ({"min_cheat_fraction": "nan"}, "min_cheat_fraction"),
        ({"min_cheat_fraction": float("nan")}, "min_cheat_fraction"),
        ({"min_cheat_fraction": float("inf")}, "min_cheat_fraction"),
        ({"min_cheat_fraction": "abc"}, "min_cheat_fraction"),
        ({"min_cheat_fraction": "1e-99999"}, "min_cheat_fraction"),
        ({"confidence": "1"}, "confidence"),
        ({"confidence": "0"}, "confidence"),
        ({"confidence": "1e400"}, "confidence"),
        ({"confidence": None}, "confidence"),
        ({"n_units": 10**9, "min_cheat_fraction": "1e-9", "confidence": "0.5"}, "min_cheat_fraction"),
    ],
)
def test_bad_plan_input_is_a_clear_error(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"n_units": 100, "min_cheat_fraction": "0.05", "confidence": "0.99"}
    args.update(kwargs)
    with pytest.raises(InvalidArgument) as err:
        plan_samples(**args)  # type: ignore[arg-type]
    assert err.value.name == field


def test_parse_fraction_reads_floats_as_their_decimal() -> None:
    assert parse_fraction("x", 0.1) == Fraction(1, 10)
    assert parse_fraction("x", " 2.5e-3 ") == Fraction(1, 400)


def test_plan_table_lists_k_for_each_size() -> None:
    text = plan_table(unit_counts=(1000,), cheat_fractions=("0.05",), confidence="0.99")
    assert "86 (8.6%)" in text
    assert text.splitlines()[0].startswith("k for detection probability >= 0.99")


# --- sampling ------------------------------------------------------------------------------------


def test_sample_indices_are_distinct_in_range_and_full_draw_is_a_permutation() -> None:
    seed = keccak(b"seed")
    got = sample_indices(seed, 3, 50, 20)
    assert len(set(got)) == 20 and all(0 <= i < 50 for i in got)
    assert sorted(sample_indices(seed, 3, 17, 17)) == list(range(17))
    assert sample_indices(seed, 3, 50, 20) == got  # deterministic
    assert sample_indices(seed, 4, 50, 20) != got  # bound to the job id


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((b"\0" * 31, 1, 10, 1), "seed"),
        ((b"\0" * 32, -1, 10, 1), "job_id"),
        ((b"\0" * 32, 1, 0, 0), "n_units"),
        ((b"\0" * 32, 1, 10, 11), "k"),
        ((b"\0" * 32, 1, 10, -1), "k"),
    ],
)
def test_sample_indices_bad_input(args: tuple[bytes, int, int, int], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        sample_indices(*args)
    assert err.value.name == field


Sampler = Callable[[bytes, int, int, int], list[int]]


def _measured_rate(sampler: Sampler, *, n: int, bad: set[int], k: int, trials: int) -> float:
    rng = random.Random(20261125)
    caught = 0
    for _ in range(trials):
        seed = rng.randbytes(32)
        if bad.intersection(sampler(seed, 7, n, k)):
            caught += 1
    return caught / trials


def _agrees(rate: float, p: float, trials: int, z: float = 3.89) -> bool:
    """Is ``rate`` inside the two-sided 99.99% normal-approximation binomial interval around p?"""
    return abs(rate - p) <= z * math.sqrt(p * (1 - p) / trials)


@pytest.mark.parametrize(("n", "b", "k"), [(200, 10, 20), (1000, 50, 30), (60, 3, 25)])
def test_measured_detection_rate_matches_exact_formula(n: int, b: int, k: int) -> None:
    trials = 2000
    bad = set(random.Random(b).sample(range(n), b))
    p = detection_probability(n, b, k)
    rate = _measured_rate(sample_indices, n=n, bad=bad, k=k, trials=trials)
    assert _agrees(rate, p, trials), (rate, p)


def test_the_rate_check_rejects_a_biased_sampler() -> None:
    """The statistical test has teeth: a sampler that favours low indices is rejected."""

    def biased(seed: bytes, job_id: int, n: int, k: int) -> list[int]:
        # Draw from the lower 3/4 of the units only: the classic "modulo a smaller range" bug.
        return [i % (3 * n // 4) for i in sample_indices(seed, job_id, n, k)]

    n, b, k, trials = 200, 10, 20, 2000
    bad = set(range(n - b, n))  # the cheater corrupted the units the biased sampler never draws
    p = detection_probability(n, b, k)
    assert _agrees(_measured_rate(sample_indices, n=n, bad=bad, k=k, trials=trials), p, trials)
    assert not _agrees(_measured_rate(biased, n=n, bad=bad, k=k, trials=trials), p, trials)
