"""Every vector in tests/vectors/commitment-v1.json, reproduced by the Python implementation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.commitment import MerkleTree, data_hash, leaf_hash, meta_hash, process_proof, verify_proof
from verifier.sampling import sample_indices

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "commitment-v1.json").read_text()
)


def _b(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str.removeprefix("0x"))


def test_meta_hash_is_sha256_of_canonical_json() -> None:
    metas = {case["meta_hash"] for case in VECTORS["merkle"]}
    assert metas == {"0x" + meta_hash("float32", (4, 4)).hex()}


@pytest.mark.parametrize("case", VECTORS["merkle"], ids=lambda c: f"n{c['n_units']}")
def test_merkle_vector(case: dict[str, Any]) -> None:
    meta = _b(case["meta_hash"])
    leaves = [leaf_hash(i, meta, _b(h)) for i, h in enumerate(case["data_hashes"])]
    assert ["0x" + leaf.hex() for leaf in leaves] == case["leaves"]
    tree = MerkleTree(leaves)
    assert len(tree) == case["n_units"]
    assert "0x" + tree.root.hex() == case["root"]
    for i, expected in enumerate(case["proofs"]):
        proof = tree.proof(i)
        assert ["0x" + p.hex() for p in proof] == expected
        assert verify_proof(leaves[i], [_b(p) for p in expected], _b(case["root"]))
        assert process_proof(leaves[i], proof) == tree.root


@pytest.mark.parametrize("case", VECTORS["sampling"], ids=lambda c: f"job{c['job_id']}-n{c['n_units']}")
def test_sampling_vector(case: dict[str, Any]) -> None:
    got = sample_indices(_b(case["seed"]), case["job_id"], case["n_units"], case["k"])
    assert got == case["indices"]


def test_data_hashes_are_sha256_of_unit_labels() -> None:
    """The vectors' data hashes are SHA-256 of b"unit-<i>" (so the whole chain is reproducible)."""
    case = max(VECTORS["merkle"], key=lambda c: c["n_units"])
    expected = ["0x" + data_hash(f"unit-{i}".encode()).hex() for i in range(case["n_units"])]
    assert case["data_hashes"] == expected
