"""The demo's jobs: one small spec per kind, sized to run in about a second each on one CPU core.

Each spec has eight units, so an audit samples half of them (``samples_k`` = 4 on the devnet) and
a provider that corrupts half its units escapes one audit with probability 1/70 (hypergeometric).
"""

from __future__ import annotations

from typing import Any

from node.workloads.spec import JobSpec, parse_spec

KINDS = ("matmul", "inference", "train")

_LIMITS = {"max_units": 64, "max_bytes": 1 << 26, "max_seconds": 120, "max_memory_bytes": 1 << 28}
_MLP = {"d_in": 16, "d_hidden": 32, "d_out": 8, "layers": 2}


def spec_dict(kind: str, *, seed: int = 1) -> dict[str, Any]:
    """The demo spec of ``kind`` as a JSON-ready dict (``seed`` varies the inputs between jobs)."""
    base: dict[str, Any] = {
        "version": 1,
        "kind": kind,
        "dtype": "float32",
        "tolerance": "1e-5",
        "limits": dict(_LIMITS),
    }
    if kind == "matmul":
        base[kind] = {
            "n": 64,
            "k": 64,
            "m": 32,
            "rows_per_unit": 8,
            "a": {"seed": seed},
            "b": {"seed": seed + 1},
        }
    elif kind == "inference":
        base[kind] = {
            "model": {"arch": "mlp", "config": dict(_MLP), "weights": {"seed": seed}},
            "batch": 32,
            "shard": 4,
            "input": {"seed": seed + 1},
        }
    elif kind == "train":
        base[kind] = {
            "model": {"arch": "mlp", "config": dict(_MLP), "weights": {"seed": seed}},
            "optimizer": {"name": "sgd", "lr": "0.05", "momentum": "0.9"},
            "data": {"seed": seed + 1, "batch": 8},
            "steps": 16,
            "checkpoint_every": 2,
        }
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return base


def demo_spec(kind: str, *, seed: int = 1) -> JobSpec:
    """The demo spec of ``kind``, parsed and validated."""
    return parse_spec(spec_dict(kind, seed=seed))
