"""Job spec v1: every bad field is named, canonical JSON and specHash are stable."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from node.errors import JobSpecError
from node.workloads.spec import canonical_json, load_spec, parse_spec, spec_hash, to_dict
from tests.workloads import specs


def _set(d: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(d)
    *parents, last = path.split(".")
    node = d
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return d


_DELETE = object()
HEX = "ab" * 32

BAD_FIELDS = [
    # (spec factory, path to change, new value, field named in the error)
    (specs.matmul, "version", 2, "version"),
    (specs.matmul, "version", True, "version"),
    (specs.matmul, "kind", "sort", "kind"),
    (specs.matmul, "dtype", "float64", "dtype"),
    (specs.matmul, "dtype", 32, "dtype"),
    (specs.matmul, "tolerance", "-1", "tolerance"),
    (specs.matmul, "tolerance", "1", "tolerance"),
    (specs.matmul, "tolerance", "nan", "tolerance"),
    (specs.matmul, "tolerance", "1/0", "tolerance"),
    (specs.matmul, "surprise", 1, "surprise"),
    (specs.matmul, "limits", _DELETE, "limits"),
    (specs.matmul, "limits.max_units", 0, "limits.max_units"),
    (specs.matmul, "limits.max_bytes", "10", "limits.max_bytes"),
    (specs.matmul, "limits.max_seconds", _DELETE, "limits.max_seconds"),
    (specs.matmul, "limits.max_gpus", 1, "limits.max_gpus"),
    (specs.matmul, "matmul.n", 0, "matmul.n"),
    (specs.matmul, "matmul.n", 1 << 25, "matmul.n"),
    (specs.matmul, "matmul.k", -3, "matmul.k"),
    (specs.matmul, "matmul.m", None, "matmul.m"),
    (specs.matmul, "matmul.rows_per_unit", 41, "matmul.rows_per_unit"),
    (specs.matmul, "matmul.a", {"seed": 1, "blob": HEX}, "matmul.a"),
    (specs.matmul, "matmul.a", {"blob": "XYZ"}, "matmul.a.blob"),
    (specs.matmul, "matmul.b", {"url": "http://x"}, "matmul.b.url"),
    (specs.matmul, "matmul.b.seed", 1 << 64, "matmul.b.seed"),
    (specs.matmul, "matmul", [1, 2], "matmul"),
    (specs.inference, "inference.model.arch", "resnet", "inference.model.arch"),
    (specs.inference, "inference.model.config.d_in", 0, "inference.model.config.d_in"),
    (specs.inference, "inference.model.config.depth", 3, "inference.model.config.depth"),
    (specs.inference, "inference.model.weights", {"blob": HEX.upper()}, "inference.model.weights.blob"),
    (specs.inference, "inference.shard", 25, "inference.shard"),
    (specs.inference, "inference.batch", _DELETE, "inference.batch"),
    (specs.inference, "inference.input", "x", "inference.input"),
    (specs.train, "dtype", "bfloat16", "dtype"),
    (specs.train, "train.model.arch", "transformer", "train.model.arch"),
    (specs.train, "train.optimizer.name", "lion", "train.optimizer.name"),
    (specs.train, "train.optimizer.lr", "fast", "train.optimizer.lr"),
    (specs.train, "train.optimizer.momentum", "1", "train.optimizer.momentum"),
    (specs.train, "train.optimizer.beta1", "0.9", "train.optimizer.beta1"),
    (specs.train, "train.data.batch", 0, "train.data.batch"),
    (specs.train, "train.checkpoint_every", 13, "train.checkpoint_every"),
    (specs.train, "train.steps", 2.5, "train.steps"),
]


@pytest.mark.parametrize(("factory", "path", "value", "field"), BAD_FIELDS)
def test_bad_field_is_named(factory: Any, path: str, value: Any, field: str) -> None:
    with pytest.raises(JobSpecError) as info:
        parse_spec(_set(factory(), path, value))
    assert info.value.field == field, str(info.value)


def test_transformer_heads_must_divide_d_model() -> None:
    bad = _set(specs.inference(arch="transformer"), "inference.model.config.heads", 5)
    with pytest.raises(JobSpecError) as info:
        parse_spec(bad)
    assert info.value.field == "inference.model.config.heads"


def test_json_float_is_rejected_naming_the_field() -> None:
    text = json.dumps(specs.matmul()).replace('"n": 40', '"n": 40.0')
    with pytest.raises(JobSpecError) as info:
        load_spec(text)
    assert info.value.field == "matmul.n"
    assert "float" in str(info.value)


@pytest.mark.parametrize(
    "text", ["", "[1]", "{", '{"version": 1, "version": 1}', "NaN", '{"version": Infinity}', "9" * 70_000]
)
def test_malformed_json_is_a_spec_error(text: str) -> None:
    with pytest.raises(JobSpecError):
        load_spec(text)


def test_valid_specs_round_trip() -> None:
    for d in (
        specs.matmul(),
        specs.inference(),
        specs.inference(arch="transformer"),
        specs.train(optimizer="adam"),
    ):
        s = parse_spec(d)
        assert to_dict(s) == d
        assert parse_spec(to_dict(s)) == s
        assert load_spec(canonical_json(d)) == s


def test_spec_hash_ignores_key_order_and_whitespace() -> None:
    d = specs.train()
    shuffled = json.loads(json.dumps(d, sort_keys=True))
    reordered = dict(reversed(list(shuffled.items())))
    text = json.dumps(reordered, indent=4)
    assert spec_hash(load_spec(text)) == spec_hash(parse_spec(d))


def test_spec_hash_is_keccak_of_canonical_json_and_stable() -> None:
    d = specs.matmul()
    canon = canonical_json(d)
    assert b" " not in canon and canon.startswith(b'{"dtype":"float32","kind":"matmul","limits":')
    # Pinned value: changing the canonical form or the hash would silently change every specHash on chain.
    assert spec_hash(parse_spec(d)).hex() == _PINNED_MATMUL_HASH
    assert spec_hash(parse_spec(_set(d, "matmul.n", 41))) != spec_hash(parse_spec(d))


_PINNED_MATMUL_HASH = "ab53612bf2fb49ecc692cd007e1a5760e51c61add414f4356190d0d822159983"
