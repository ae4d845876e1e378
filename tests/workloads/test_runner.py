"""The runner: limits enforced, determinism (reruns and thread counts), commitments, devices."""

from __future__ import annotations

import copy

import pytest
import torch

from node.errors import WorkloadError
from node.workloads.kinds import TrainWorkload
from node.workloads.runner import ProviderCaps, compute_unit, effective_limits, prepare, run_job
from node.workloads.spec import Limits
from tests.workloads import specs
from verifier.commitment import commit_outputs
from verifier.tensorbytes import tensor_from_bytes, tensor_to_bytes

ALL = [
    ("matmul", specs.matmul()),
    ("matmul-bf16", specs.matmul(dtype="bfloat16")),
    ("mlp-fp16", specs.inference(dtype="float16")),
    ("transformer", specs.inference(arch="transformer")),
    ("train-sgd", specs.train()),
    ("train-adam", specs.train(optimizer="adam")),
]


def _limited(d: dict, **limits: int) -> dict:
    d = copy.deepcopy(d)
    d["limits"].update(limits)
    return d


def test_unit_limit_from_spec_and_from_provider_caps() -> None:
    with pytest.raises(WorkloadError, match="10 units, limit is 9"):
        run_job(specs.spec(_limited(specs.matmul(), max_units=9)), device="cpu", blobs={})
    with pytest.raises(WorkloadError, match="limit is 5"):
        run_job(specs.spec(specs.matmul()), device="cpu", blobs={}, caps=ProviderCaps(max_units=5))


def test_byte_limit() -> None:
    # matmul n=40,k=32,m=16 fp32: inputs (40·32 + 32·16)·4 = 7168, outputs 40·16·4 = 2560
    run_job(specs.spec(_limited(specs.matmul(), max_bytes=9728)), device="cpu", blobs={})
    with pytest.raises(WorkloadError, match="9728 bytes"):
        run_job(specs.spec(_limited(specs.matmul(), max_bytes=9727)), device="cpu", blobs={})


def test_memory_limit() -> None:
    with pytest.raises(WorkloadError, match="working memory"):
        run_job(specs.spec(_limited(specs.train(), max_memory_bytes=1000)), device="cpu", blobs={})
    with pytest.raises(WorkloadError, match="working memory"):
        run_job(
            specs.spec(specs.inference()), device="cpu", blobs={}, caps=ProviderCaps(max_memory_bytes=1000)
        )


def test_time_limit_stops_the_job_between_units() -> None:
    seen: list[int] = []
    with pytest.raises(WorkloadError, match="time limit") as info:
        run_job(
            specs.spec(specs.train(steps=40, every=1)),
            device="cpu",
            blobs={},
            caps=ProviderCaps(max_seconds=1e-6),
            progress=lambda done, total: seen.append(done),
        )
    assert "after 1 of 40 units" in str(info.value)
    assert seen == []


def test_effective_limits_take_the_smaller_value() -> None:
    lim = effective_limits(
        Limits(10, 100, 60, 1000), ProviderCaps(max_units=20, max_bytes=50, max_seconds=0.5)
    )
    assert (lim.max_units, lim.max_bytes, lim.max_seconds, lim.max_memory_bytes) == (10, 50, 0.5, 1000)


@pytest.mark.parametrize(("name", "d"), ALL, ids=[n for n, _ in ALL])
def test_rerun_and_thread_counts_are_bitwise_equal(name: str, d: dict) -> None:
    spec = specs.spec(d)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run_job(spec, device="cpu", blobs={})
        torch.set_num_threads(2)
        two = run_job(spec, device="cpu", blobs={})
        again = run_job(spec, device="cpu", blobs={})
    finally:
        torch.set_num_threads(before)
    assert one.outputs == two.outputs == again.outputs
    assert one.root == two.root == again.root
    assert one.root == commit_outputs(list(one.outputs))[0].root


@pytest.mark.parametrize(("name", "d"), ALL, ids=[n for n, _ in ALL])
def test_compute_unit_alone_equals_the_run(name: str, d: dict) -> None:
    spec = specs.spec(d)
    result = run_job(spec, device="cpu", blobs={})
    work = prepare(spec, device="cpu", blobs={})
    for i in (0, result.n_units - 1):
        prev = tensor_from_bytes(*result.outputs[i - 1]) if i else None
        assert tensor_to_bytes(work.compute(i, prev)) == result.outputs[i]
        assert tensor_to_bytes(compute_unit(spec, i, device="cpu", blobs={}, prev=prev)) == result.outputs[i]


def test_train_units_form_a_chain_and_learning_happens() -> None:
    spec = specs.spec(specs.train(steps=30, every=10))
    result = run_job(spec, device="cpu", blobs={})
    work = prepare(spec, device="cpu", blobs={})
    assert isinstance(work, TrainWorkload)
    chained = work.run_steps(work.initial_state(), range(1, 31))
    assert torch.equal(chained, tensor_from_bytes(*result.outputs[-1]))
    with pytest.raises(WorkloadError, match="needs the checkpoint"):
        work.compute(1)
    with pytest.raises(WorkloadError, match="float32"):
        work.compute(1, torch.zeros(3))


def test_last_block_is_shorter_and_its_shape_is_fixed() -> None:
    result = run_job(specs.spec(specs.matmul(n=10, rows=4)), device="cpu", blobs={})
    assert [o[1] for o in result.outputs] == [(4, 16), (4, 16), (2, 16)]


def test_progress_and_timings() -> None:
    seen: list[tuple[int, int]] = []
    result = run_job(
        specs.spec(specs.matmul()), device="cpu", blobs={}, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(i, 10) for i in range(1, 11)]
    t = result.timings
    assert 0 < t.compute_s <= t.wall_s and t.hash_s > 0 and result.device.startswith("cpu")


def test_bad_devices_and_indices() -> None:
    spec = specs.spec(specs.matmul())
    if not torch.cuda.is_available():
        with pytest.raises(WorkloadError, match="no CUDA"):
            run_job(spec, device="cuda", blobs={})
    with pytest.raises(WorkloadError, match="unknown device"):
        run_job(spec, device="tpu", blobs={})
    with pytest.raises(WorkloadError, match="out of range"):
        compute_unit(spec, 10, device="cpu", blobs={})
