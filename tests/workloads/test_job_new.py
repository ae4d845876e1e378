"""``ccm job new KIND`` for every kind of the registry: the spec it writes, the blobs it stores in the
home, and ``ccm job run SPEC --local`` running it from that store (no ``--blob`` needed)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from node.blobs import BlobStore
from node.cli import main
from node.demo.specs import spec_dict
from node.workloads import jobkinds
from node.workloads.runner import run_job
from node.workloads.spec import blob_fields, load_spec, parse_spec, spec_hash
from tests.workloads import llm_models as lm

DEMO_LIMITS = ("--max-units", "64", "--max-bytes", str(1 << 26), "--max-seconds", "120",
               "--max-memory-bytes", str(1 << 28), "--tolerance", "1e-5")  # fmt: skip
MLP = "d_in=16,d_hidden=32,d_out=8,layers=2"
DEMO_ARGS = {
    "matmul": ("--n", "64", "--k", "64", "--m", "32", "--rows-per-unit", "8"),
    "inference": ("--config", MLP, "--batch", "32", "--shard", "4"),
    "train": ("--config", MLP, "--lr", "0.05", "--momentum", "0.9", "--steps", "16",
              "--checkpoint-every", "2"),
}


def _ccm(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_kind_has_its_new_arguments_in_its_module() -> None:
    assert set(DEMO_ARGS) | {"llm"} == set(jobkinds.KINDS)
    for kind in jobkinds.REGISTRY.values():
        assert kind.add_new_arguments.__module__ == kind.new_section.__module__
        assert kind.new_section.__module__.startswith("node.workloads.jobkinds.")


@pytest.mark.parametrize("kind", sorted(DEMO_ARGS))
def test_tensor_kinds_write_the_demo_spec_byte_for_byte(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"{kind}.json"
    code, stdout, err = _ccm(
        capsys, "job", "new", kind, *DEMO_ARGS[kind], *DEMO_LIMITS, "--seed", "1", "--out", str(out),
        "--json", "--home", str(tmp_path / "home"),
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(stdout)
    spec = load_spec(out.read_bytes())
    assert spec == parse_spec(spec_dict(kind, seed=1))  # the demo's spec, which nobody hashed by hand
    assert doc["spec_hash"] == "0x" + spec_hash(spec).hex() and doc["blobs"] == []
    home = str(tmp_path / "home")
    code, stdout, err = _ccm(capsys, "job", "run", str(out), "--local", "--json", "--home", home)
    assert code == 0, err
    assert json.loads(stdout)["root"] == "0x" + run_job(spec, device="cpu", blobs={}).root.hex()


def test_input_files_become_blobs_in_the_home_and_job_run_finds_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(struct.pack("<512f", *(i / 100 for i in range(512))))  # 16 x 32 float32
    b.write_bytes(struct.pack("<256f", *(1 - i / 50 for i in range(256))))  # 32 x 8
    home = tmp_path / "home"
    code, stdout, err = _ccm(
        capsys, "job", "new", "matmul", "--n", "16", "--k", "32", "--m", "8", "--a", str(a), "--b", str(b),
        "--home", str(home),
    )  # fmt: skip
    assert code == 0, err
    spec = load_spec(stdout)  # no --out: the spec on stdout
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)}
    assert set(blob_fields(spec).values()) == digests
    assert all(BlobStore(home / "blobs").has(d) for d in digests)
    (tmp_path / "spec.json").write_text(stdout)
    run = ("job", "run", str(tmp_path / "spec.json"), "--local")
    code, stdout, err = _ccm(capsys, *run, "--json", "--home", str(home))
    assert code == 0, err
    blobs = {d: BlobStore(home / "blobs").get(d) for d in digests}
    assert json.loads(stdout)["root"] == "0x" + run_job(spec, device="cpu", blobs=blobs).root.hex()
    code, _, err = _ccm(capsys, *run, "--home", str(tmp_path / "elsewhere"))
    assert code == 1 and "matmul.a.blob" in err and "was not provided" in err


def test_llm_job_new_stores_the_model_and_refuses_text_without_a_tokenizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_tok = lm.build(tmp_path / "tok", "llama")
    without = lm.build(tmp_path / "notok", "qwen2", tokenizer=False)
    (with_tok / "notes.txt").write_text("not a model file: left out")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"text": "w1 w2 w3"}\n{"tokens": [5, 6]}\n{"text": "w4"}\n')
    home = tmp_path / "home"
    out = tmp_path / "llm.json"
    code, stdout, err = _ccm(
        capsys, "job", "new", "llm", "--model", str(with_tok), "--prompts", str(prompts), "--max-new-tokens",
        "3", "--group", "2", "--dtype", "bfloat16", "--temperature", "0.7", "--seed", "5", "--out", str(out),
        "--home", str(home),
    )  # fmt: skip
    assert code == 0, err
    spec = load_spec(out.read_bytes())
    assert spec.dtype == "bfloat16" and spec.tolerance == "1/8"  # the dtype's recommended llm tolerance
    body = spec.body
    assert body.sequences == 3 and body.group == 2 and body.max_new_tokens == 3  # type: ignore[union-attr]
    assert body.decoding.name == "sample" and body.decoding.seed == 5  # type: ignore[union-attr]
    files = body.file_map()  # type: ignore[union-attr]
    assert set(files) == {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"}
    for name, digest in files.items():
        assert BlobStore(home / "blobs").get(digest) == (with_tok / name).read_bytes()
    code, stdout, err = _ccm(capsys, "job", "run", str(out), "--local", "--json", "--home", str(home))
    assert code == 0, err
    assert json.loads(stdout)["nUnits"] == 2

    code, stdout, err = _ccm(
        capsys, "job", "new", "llm", "--model", str(without), "--prompts", str(prompts), "--home", str(home)
    )
    assert code == 1 and stdout == ""
    want = "ccm: error: --prompts line 1: a text prompt needs a tokenizer.json in the model files"
    assert err.strip() == want
    prompts.write_text('{"tokens": [5, 6]}\n')
    code, stdout, err = _ccm(
        capsys, "job", "new", "llm", "--model", str(without), "--prompts", str(prompts), "--home", str(home)
    )
    assert code == 0, err
    assert load_spec(stdout).body.file_map().keys() == {  # type: ignore[union-attr]
        "config.json", "model.safetensors", "generation_config.json"
    }


def test_unknown_kind_and_bad_options_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _ccm(capsys, "job", "new", "conv", "--home", str(tmp_path))
    assert code == 1 and "KIND: unknown value 'conv' (expected one of matmul, inference, train, llm)" in err
    home = ("--home", str(tmp_path))
    code, _, err = _ccm(capsys, "job", "new", "inference", "--config", "d_in=x", "--batch", "4", *home)
    assert code == 1 and "--config: expected KEY=INTEGER" in err
    code, _, err = _ccm(capsys, "job", "new", "train", "--config", "d_in=4", "--steps", "4", *home)
    assert code == 1 and "train.model.config.d_hidden: missing field" in err
