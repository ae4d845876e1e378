"""Audits with verifier.audit: honest work never fails, every cheat model is caught at the predicted rate."""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import pytest
import torch

from node.workloads.audit import audit_job, reveal
from node.workloads.cheats import CHEATS, Cheat, run_dishonest
from node.workloads.runner import prepare, run_job
from tests.workloads import specs
from verifier.detection import detection_probability
from verifier.sampling import sample_indices

HONEST = [
    # (spec dict, provider threads, verifier threads); ≥ 1,000 units in total, every unit audited
    (specs.matmul(n=150, k=32, m=16, rows=1, dtype="float32"), 1, 2),
    (specs.matmul(n=150, k=32, m=16, rows=2, dtype="bfloat16"), 2, 1),
    (specs.matmul(n=150, k=32, m=16, rows=1, dtype="float16"), 2, 1),
    (specs.inference(batch=120, shard=1, dtype="float32"), 2, 1),
    (specs.inference(batch=120, shard=1, dtype="bfloat16"), 1, 2),
    (specs.inference(batch=120, shard=1, dtype="float16"), 1, 2),
    (specs.inference(arch="transformer", batch=40, shard=1, dtype="float32"), 1, 2),
    (specs.inference(arch="transformer", batch=40, shard=1, dtype="bfloat16"), 2, 1),
    (specs.inference(arch="transformer", batch=40, shard=1, dtype="float16"), 1, 2),
    (specs.train(steps=80, every=1), 1, 2),
    (specs.train(optimizer="adam", steps=80, every=1), 2, 1),
]


def _with_threads(n: int, fn: Any) -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def test_honest_work_never_fails_an_audit() -> None:
    audited = 0
    for d, p_threads, v_threads in HONEST:
        spec = specs.spec(d)
        result = _with_threads(p_threads, lambda spec=spec: run_job(spec, device="cpu", blobs={}))
        work = prepare(spec, device="cpu", blobs={})
        indices = list(range(result.n_units))
        revealed = reveal(result.outputs, result.tree, indices, needs_prev=work.needs_prev)
        check = functools.partial(audit_job, work, root=result.root, indices=indices, revealed=revealed)
        outcome = _with_threads(v_threads, check)
        assert outcome.passed, (spec.kind, spec.dtype, outcome.reason, outcome.verdict)
        audited += len(indices)
    assert audited >= 1000


def _cases() -> list[tuple[str, dict]]:
    cases = []
    for name in CHEATS:
        if name != "skip_steps":
            cases.append((name, specs.matmul(n=40, rows=2)))
            cases.append((name, specs.inference(batch=20, shard=1)))
        cases.append((name, specs.train(steps=20, every=1)))
    cases.append(("low_precision_fp16", specs.matmul(n=40, rows=2)))
    cases.append(("low_precision_fp16", specs.train(optimizer="adam", steps=20, every=1, seed=9)))
    return cases


def _cheat(name: str, *, seed: int = 0, fraction: str = "1/4") -> Cheat:
    if name == "low_precision_fp16":
        return Cheat("low_precision", fraction=fraction, seed=seed, precision="float16")
    return Cheat(name, fraction=fraction, seed=seed)


@pytest.mark.parametrize(("name", "d"), _cases(), ids=[f"{n}-{d['kind']}" for n, d in _cases()])
def test_every_cheated_unit_fails_and_every_other_unit_passes(name: str, d: dict) -> None:
    spec = specs.spec(d if d["kind"] != "train" else {**d, "tolerance": "1e-6"})
    run = run_dishonest(spec, _cheat(name), device="cpu", blobs={})
    work = prepare(spec, device="cpu", blobs={})
    assert len(run.cheated) == math.ceil(work.n_units / 4)
    failing = set(run.cheated)
    if name == "wrong_root" and work.needs_prev:
        # The unit after a cheated checkpoint starts from the revealed checkpoint, whose proof fails too.
        failing |= {j + 1 for j in run.cheated if j + 1 < work.n_units}
    for i in range(work.n_units):
        revealed = reveal(run.revealed, run.tree, [i], needs_prev=work.needs_prev)
        outcome = audit_job(work, root=run.root, indices=[i], revealed=revealed)
        assert outcome.passed == (i not in failing), (name, i, outcome.reason)
        if outcome.verdict is None:
            # Only the previous checkpoint's proof can fail before verifier.audit runs.
            assert name == "wrong_root" and i - 1 in run.cheated, (name, i, outcome.reason)
            assert "committed root" in outcome.reason
        elif i in run.cheated:
            statuses = {u.status for u in outcome.verdict.units}
            assert statuses == ({"bad_proof"} if name == "wrong_root" else {"mismatch"}), statuses


def test_forged_previous_checkpoint_fails_the_train_audit() -> None:
    spec = specs.spec(specs.train(steps=6, every=2))
    result = run_job(spec, device="cpu", blobs={})
    work = prepare(spec, device="cpu", blobs={})
    revealed = reveal(result.outputs, result.tree, [2], needs_prev=True)
    assert audit_job(work, root=result.root, indices=[2], revealed=revealed).passed
    forged = dict(revealed)
    u = forged[1]
    forged[1] = type(u)(index=1, dtype=u.dtype, shape=u.shape, data=bytes(len(u.data)), proof=u.proof)
    outcome = audit_job(work, root=result.root, indices=[2], revealed=forged)
    assert not outcome.passed and outcome.verdict is None and "committed root" in outcome.reason
    del forged[1]
    outcome = audit_job(work, root=result.root, indices=[2], revealed=forged)
    assert not outcome.passed and "not revealed" in outcome.reason


TRIALS = int(os.environ.get("CCM_DETECTION_TRIALS", "150"))


@pytest.mark.parametrize("name", [*CHEATS, "low_precision_fp16"])
def test_detection_rate_matches_the_hypergeometric_prediction(name: str) -> None:
    d = specs.train(steps=40, every=1) if name == "skip_steps" else specs.matmul(n=40, k=8, m=8, rows=1)
    spec = specs.spec(d if d["kind"] != "train" else {**d, "tolerance": "1e-6"})
    run = run_dishonest(spec, _cheat(name, seed=7, fraction="1/10"), device="cpu", blobs={})
    work = prepare(spec, device="cpu", blobs={})
    n, bad, k = work.n_units, len(run.cheated), 8
    caught = 0
    for trial in range(TRIALS):
        seed = trial.to_bytes(32, "big")
        indices = sample_indices(seed, 1234, n, k)
        revealed = reveal(run.revealed, run.tree, indices, needs_prev=work.needs_prev)
        outcome = audit_job(work, root=run.root, indices=indices, revealed=revealed)
        assert outcome.passed == (not set(indices) & run.cheated), "verdict must depend only on the sample"
        caught += not outcome.passed
    p = detection_probability(n, bad, k)
    half_width = 3.29 * math.sqrt(p * (1 - p) / TRIALS)  # 99.9% normal interval
    assert abs(caught / TRIALS - p) <= half_width, (caught / TRIALS, p)
