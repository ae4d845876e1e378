"""The kind registry: existing kinds moved onto it unchanged, and the spec layer stays torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

from node.demo.specs import demo_spec
from node.errors import JobSpecError
from node.workloads import jobkinds
from node.workloads.spec import blob_fields, needs_prev, parse_spec, spec_hash, to_dict, unit_count
from tests.workloads import specs

H, G = "ab" * 32, "cd" * 32


def _blobs_matmul() -> dict:
    d = specs.matmul()
    d["matmul"]["a"], d["matmul"]["b"] = {"blob": H}, {"blob": G}
    return d


def _blobs_inference() -> dict:
    d = specs.inference(arch="transformer", dtype="float16")
    d["inference"]["model"]["weights"], d["inference"]["input"] = {"blob": H}, {"blob": G}
    return d


def _blobs_train() -> dict:
    d = specs.train(optimizer="adam")
    d["train"]["model"]["weights"] = {"blob": H}
    return d


# specHashes computed before the registry existed (commit 400c55b): a kind moved onto the registry
# must hash every spec exactly as before.
PINNED = [
    (specs.matmul(), "ab53612bf2fb49ecc692cd007e1a5760e51c61add414f4356190d0d822159983"),
    (specs.matmul(dtype="bfloat16"), "d2ad88c768ac0f5475ca44defeca5de222df8f5d15623a776e12d26aa0afff63"),
    (specs.inference(), "85c864e7441e6ee7b53002e4b3a518194ba486716956b4dbba8314060ffd7e72"),
    (specs.inference(arch="transformer"), "67e8cbc277c6f43f104e02ae1001ffe7bfe9c4a88c2e7f57da03ebeb27412a67"),
    (specs.train(), "b98660963736aeec76047d59b92854822fd48ce23693447ee2834ea9711651a0"),
    (specs.train(optimizer="adam"), "d451d5dc5926af823aa066a2ff0fef67bdf616d6a48def0460fa77dc2f3048ca"),
    (_blobs_matmul(), "9bbac47bfd39d191a08d31747aaef84e80be4ae82d3a63e1a13549418e5fc622"),
    (_blobs_inference(), "29f951266f3921ab5c001af8b5aa2b5b5a9bd979dfcd7cab84aefc8d626bcbde"),
    (_blobs_train(), "db3474f5dae34a63e356c55581a0c2a83df9a24433f80a58f9fd50be6925bd8a"),
]
DEMO_PINNED = {
    "matmul": "d74a42c2982b8bfb2eb6ae572109f9fe4748b62e9dfdc9ab5d6b073d9617a11e",
    "inference": "7315ec7f1e543ae53ffbb1e786372d3da0bc66418549da725ddf491c65bc814a",
    "train": "821413ec512c498c64138af2fd9d6eb6ed58c2b757d555d64ee941b2f57f0499",
}


@pytest.mark.parametrize(("d", "want"), PINNED, ids=[f"{d['kind']}-{i}" for i, (d, _) in enumerate(PINNED)])
def test_existing_kinds_hash_as_before_the_registry(d: dict, want: str) -> None:
    spec = specs.spec(d)
    assert spec_hash(spec).hex() == want
    assert parse_spec(to_dict(spec)) == spec


@pytest.mark.parametrize("kind", sorted(DEMO_PINNED))
def test_demo_specs_hash_as_before_the_registry(kind: str) -> None:
    assert spec_hash(demo_spec(kind)).hex() == DEMO_PINNED[kind]


def test_registry_answers_unit_counts_blobs_and_prev() -> None:
    assert jobkinds.KINDS == ("matmul", "inference", "train", "llm")
    assert unit_count(specs.spec(specs.matmul(n=41, rows=4))) == 11
    assert unit_count(specs.spec(specs.inference(batch=24, shard=5))) == 5
    assert unit_count(specs.spec(specs.train(steps=12, every=5))) == 3
    assert blob_fields(specs.spec(_blobs_matmul())) == {"matmul.a.blob": H, "matmul.b.blob": G}
    assert blob_fields(specs.spec(_blobs_train())) == {"train.model.weights.blob": H}
    assert [needs_prev(specs.spec(d)) for d in (specs.matmul(), specs.inference(), specs.train())] == [
        False,
        False,
        True,
    ]


def test_unknown_kind_is_named() -> None:
    with pytest.raises(JobSpecError) as err:
        jobkinds.get("sort")
    assert err.value.field == "kind" and "llm" in err.value.message


def test_importing_the_spec_layer_does_not_import_torch() -> None:
    code = (
        "import sys, node.workloads, node.workloads.spec, node.workloads.jobkinds; "
        "from node.workloads.spec import load_spec, spec_hash; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'transformers' not in sys.modules, 'transformers imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
