"""Small job specs for the workload tests (dicts, so tests can break them field by field)."""

from __future__ import annotations

import copy
from typing import Any

from node.workloads.spec import JobSpec, parse_spec

LIMITS = {"max_units": 100_000, "max_bytes": 1 << 32, "max_seconds": 600, "max_memory_bytes": 1 << 32}


def base(
    kind: str, section: dict[str, Any], *, dtype: str = "float32", tolerance: str = "1e-5"
) -> dict[str, Any]:
    return {
        "version": 1,
        "kind": kind,
        "dtype": dtype,
        "tolerance": tolerance,
        "limits": dict(LIMITS),
        kind: section,
    }


def matmul(
    *, n: int = 40, k: int = 32, m: int = 16, rows: int = 4, dtype: str = "float32", seed: int = 1
) -> dict[str, Any]:
    section = {"n": n, "k": k, "m": m, "rows_per_unit": rows, "a": {"seed": seed}, "b": {"seed": seed + 1}}
    return base("matmul", section, dtype=dtype)


MLP_CFG = {"d_in": 16, "d_hidden": 32, "d_out": 8, "layers": 2}
TRANSFORMER_CFG = {"vocab": 40, "d_model": 32, "heads": 4, "layers": 2, "d_ff": 64, "seq": 8}


def inference(
    *, arch: str = "mlp", batch: int = 24, shard: int = 4, dtype: str = "float32", seed: int = 3
) -> dict[str, Any]:
    cfg = MLP_CFG if arch == "mlp" else TRANSFORMER_CFG
    section = {
        "model": {"arch": arch, "config": dict(cfg), "weights": {"seed": seed}},
        "batch": batch,
        "shard": shard,
        "input": {"seed": seed + 1},
    }
    return base("inference", section, dtype=dtype)


SGD = {"name": "sgd", "lr": "0.05", "momentum": "0.9"}
ADAM = {"name": "adam", "lr": "0.001", "beta1": "0.9", "beta2": "0.999", "eps": "1e-8"}


def train(*, optimizer: str = "sgd", steps: int = 12, every: int = 3, seed: int = 5) -> dict[str, Any]:
    section = {
        "model": {"arch": "mlp", "config": dict(MLP_CFG), "weights": {"seed": seed}},
        "optimizer": dict(SGD if optimizer == "sgd" else ADAM),
        "data": {"seed": seed + 1, "batch": 8},
        "steps": steps,
        "checkpoint_every": every,
    }
    return base("train", section)


def spec(d: dict[str, Any]) -> JobSpec:
    return parse_spec(copy.deepcopy(d))
