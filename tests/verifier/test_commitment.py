"""Merkle commitment properties beyond the fixed vectors: every proof verifies, tampering fails."""

from __future__ import annotations

import hashlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.commitment import (
    MerkleTree,
    commit_outputs,
    data_hash,
    leaf_hash,
    meta_hash,
    unit_leaf,
    verify_proof,
)
from verifier.errors import CommitmentError, InvalidArgument
from verifier.tensorbytes import tensor_to_bytes

hashes = st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(leaves=st.lists(hashes, min_size=1, max_size=70), data=st.data())
def test_every_proof_verifies_and_a_flipped_byte_does_not(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    assert len(tree) == len(leaves)
    assert max(len(tree.proof(i)) for i in range(len(leaves))) == (len(leaves) - 1).bit_length()
    for i, leaf in enumerate(leaves):
        assert verify_proof(leaf, tree.proof(i), tree.root)
    i = data.draw(st.integers(0, len(leaves) - 1))
    byte = data.draw(st.integers(0, 31))
    bit = 1 << data.draw(st.integers(0, 7))
    bad_leaf = bytearray(leaves[i])
    bad_leaf[byte] ^= bit
    if bytes(bad_leaf) not in leaves:
        assert not verify_proof(bytes(bad_leaf), tree.proof(i), tree.root)
    bad_root = bytearray(tree.root)
    bad_root[byte] ^= bit
    assert not verify_proof(leaves[i], tree.proof(i), bytes(bad_root))
    proof = tree.proof(i)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        tampered = bytearray(proof[j])
        tampered[byte] ^= bit
        proof[j] = bytes(tampered)
        assert not verify_proof(leaves[i], proof, tree.root)


def test_leaf_binds_index_meta_and_data() -> None:
    meta = meta_hash("float32", (2, 2))
    d = data_hash(b"x" * 16)
    base = leaf_hash(3, meta, d)
    assert leaf_hash(4, meta, d) != base
    assert leaf_hash(3, meta_hash("float32", (4,)), d) != base
    assert leaf_hash(3, meta_hash("int32", (2, 2)), d) != base
    assert leaf_hash(3, meta, data_hash(b"y" * 16)) != base


def test_meta_encoding_is_canonical_json() -> None:
    assert meta_hash("bfloat16", (2, 3)) == hashlib.sha256(b'{"dtype":"bfloat16","shape":[2,3]}').digest()
    assert meta_hash("float32", ()) == hashlib.sha256(b'{"dtype":"float32","shape":[]}').digest()


def test_commit_outputs_builds_the_tree_over_unit_leaves() -> None:
    outputs = [tensor_to_bytes(torch.full((2, 2), float(i))) for i in range(5)]
    tree, leaves = commit_outputs(outputs)
    assert leaves == [unit_leaf(i, *out) for i, out in enumerate(outputs)]
    assert tree.root == MerkleTree(leaves).root
    assert all(verify_proof(leaves[i], tree.proof(i), tree.root) for i in range(5))


@pytest.mark.parametrize(
    "call",
    [
        lambda: MerkleTree([]),
        lambda: MerkleTree([b"\0" * 31]),
        lambda: MerkleTree([b"\0" * 32]).proof(1),
        lambda: MerkleTree([b"\0" * 32]).proof(-1),
        lambda: leaf_hash(-1, b"\0" * 32, b"\0" * 32),
        lambda: leaf_hash(1 << 256, b"\0" * 32, b"\0" * 32),
        lambda: leaf_hash(0, b"\0" * 33, b"\0" * 32),
    ],
)
def test_malformed_commitment_data_raises(call: object) -> None:
    with pytest.raises(CommitmentError):
        call()  # type: ignore[operator]


def test_verify_proof_is_false_not_an_error_on_malformed_input() -> None:
    assert not verify_proof(b"\0" * 32, [b"\0" * 5], b"\0" * 32)
    assert not verify_proof(b"\0" * 32, [], b"short")


def test_meta_hash_refuses_unknown_dtype() -> None:
    with pytest.raises(InvalidArgument):
        meta_hash("float8", (1,))
