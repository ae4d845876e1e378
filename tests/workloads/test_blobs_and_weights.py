"""Blobs are checked by hash and named when missing; weights are safetensors only (pickles refused)."""

from __future__ import annotations

import copy
import hashlib
import io
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from node.errors import JobSpecError
from node.workloads import models, rng
from node.workloads.runner import compute_unit, prepare, run_job
from tests.workloads import specs


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _with_weights_blob(d: dict, data: bytes) -> dict:
    d = copy.deepcopy(d)
    d["inference"]["model"]["weights"] = {"blob": _digest(data)}
    return d


def _seeded_state_bytes(dtype: torch.dtype = torch.float32) -> bytes:
    model = models.build("mlp", specs.MLP_CFG)
    state = {k: v.to(dtype).contiguous() for k, v in models.seeded_state(model, 3).items()}
    return save(state)


def test_safetensors_weights_match_seeded_weights() -> None:
    data = _seeded_state_bytes()
    seeded = specs.spec(specs.inference())
    blobbed = specs.spec(_with_weights_blob(specs.inference(), data))
    a = run_job(seeded, device="cpu", blobs={})
    b = run_job(blobbed, device="cpu", blobs={_digest(data): data})
    assert a.outputs == b.outputs and a.root == b.root


def test_real_pickle_file_is_rejected_without_loading(tmp_path: Path) -> None:
    state = models.seeded_state(models.build("mlp", specs.MLP_CFG), 3)
    path = tmp_path / "weights.pkl"
    with path.open("wb") as f:
        pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
    data = path.read_bytes()
    with pytest.raises(JobSpecError) as info:
        prepare(
            specs.spec(_with_weights_blob(specs.inference(), data)), device="cpu", blobs={_digest(data): data}
        )
    assert info.value.field == "inference.model.weights.blob"
    assert "pickle" in str(info.value) and "safetensors" in str(info.value)


def test_torch_save_archive_is_rejected(tmp_path: Path) -> None:
    buf = io.BytesIO()
    torch.save(models.seeded_state(models.build("mlp", specs.MLP_CFG), 3), buf)
    data = buf.getvalue()
    with pytest.raises(JobSpecError) as info:
        prepare(
            specs.spec(_with_weights_blob(specs.inference(), data)), device="cpu", blobs={_digest(data): data}
        )
    assert "zip" in str(info.value) and info.value.field == "inference.model.weights.blob"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\x00" * 64, "not a valid safetensors"),
        (b"garbage bytes that are not anything", "not a valid safetensors"),
        (save({"net.0.weight": torch.zeros(2, 2)}), "do not match the architecture"),
    ],
)
def test_bad_safetensors_are_rejected(data: bytes, needle: str) -> None:
    with pytest.raises(JobSpecError) as info:
        prepare(
            specs.spec(_with_weights_blob(specs.inference(), data)), device="cpu", blobs={_digest(data): data}
        )
    assert needle in str(info.value)


def test_weights_of_wrong_dtype_or_shape_are_rejected() -> None:
    data = _seeded_state_bytes(torch.float16)
    with pytest.raises(JobSpecError, match="job's dtype"):
        prepare(
            specs.spec(_with_weights_blob(specs.inference(), data)), device="cpu", blobs={_digest(data): data}
        )
    state = models.seeded_state(models.build("mlp", specs.MLP_CFG), 3)
    state["net.0.bias"] = torch.zeros(31)
    data = save(state)
    with pytest.raises(JobSpecError, match="shape"):
        prepare(
            specs.spec(_with_weights_blob(specs.inference(), data)), device="cpu", blobs={_digest(data): data}
        )


def test_missing_blob_names_the_field() -> None:
    d = specs.matmul()
    d["matmul"]["b"] = {"blob": "cd" * 32}
    with pytest.raises(JobSpecError) as info:
        run_job(specs.spec(d), device="cpu", blobs={})
    assert info.value.field == "matmul.b.blob"


def test_blob_whose_bytes_do_not_match_its_digest_is_rejected() -> None:
    d = specs.matmul(n=8, k=4, m=4)
    d["matmul"]["b"] = {"blob": "cd" * 32}
    with pytest.raises(JobSpecError) as info:
        run_job(specs.spec(d), device="cpu", blobs={"cd" * 32: b"\x00" * 64})
    assert info.value.field == "matmul.b.blob" and "hash" in str(info.value)


def test_matmul_blob_inputs_equal_seeded_inputs_and_length_is_checked() -> None:
    d = specs.matmul(n=12, k=8, m=4, rows=4)
    a = torch.cat([rng.uniform(1, f"a/{i}", (4, 8)) for i in range(3)])
    b = rng.uniform(2, "b", (8, 4))
    a_bytes, b_bytes = a.numpy().tobytes(), b.numpy().tobytes()
    blobbed = copy.deepcopy(d)
    blobbed["matmul"]["a"] = {"blob": _digest(a_bytes)}
    blobbed["matmul"]["b"] = {"blob": _digest(b_bytes)}
    blobs = {_digest(a_bytes): a_bytes, _digest(b_bytes): b_bytes}
    assert (
        run_job(specs.spec(blobbed), device="cpu", blobs=blobs).root
        == run_job(specs.spec(d), device="cpu", blobs={}).root
    )
    short = b_bytes[:-4]
    blobbed["matmul"]["b"] = {"blob": _digest(short)}
    with pytest.raises(JobSpecError, match="bytes, expected"):
        compute_unit(specs.spec(blobbed), 0, device="cpu", blobs={**blobs, _digest(short): short})


def test_transformer_token_blob_out_of_vocab_is_rejected() -> None:
    d = specs.inference(arch="transformer", batch=2, shard=1)
    tokens = torch.full((2, specs.TRANSFORMER_CFG["seq"]), specs.TRANSFORMER_CFG["vocab"], dtype=torch.int64)
    data = tokens.numpy().tobytes()
    d["inference"]["input"] = {"blob": _digest(data)}
    with pytest.raises(JobSpecError, match="token ids") as info:
        prepare(specs.spec(d), device="cpu", blobs={_digest(data): data})
    assert info.value.field == "inference.input.blob"
