"""Kind ``inference``: a registry model (:mod:`node.workloads.models`) over batch shards.

Section: ``model`` (``arch``, ``config``, ``weights`` = seed or safetensors blob), ``batch``,
``shard`` (rows per unit) and ``input`` (seed or raw blob: float rows of ``d_in`` for the MLP, int64
token ids of length ``seq`` for the transformer). :class:`ModelSpec` and its parser are shared with
``train``. Workload: :class:`node.workloads.kinds.InferenceWorkload`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import JobSpecError
from node.workloads.fields import MAX_DIM, Obj, Source, blob_pairs, source, source_dict
from node.workloads.jobkinds import ITEMSIZE, Footprint, Kind
from node.workloads.jobkinds.cli import add_seed, file_or_seed, key_values

ARCHS = ("mlp", "transformer")
MLP_FIELDS = ("d_in", "d_hidden", "d_out", "layers")
TRANSFORMER_FIELDS = ("vocab", "d_model", "heads", "layers", "d_ff", "seq")


@dataclass(frozen=True)
class ModelSpec:
    """A model from the registry (:mod:`node.workloads.models`) and its weights."""

    arch: str
    config: tuple[tuple[str, int], ...]
    weights: Source

    def cfg(self) -> dict[str, int]:
        """The config as a plain dict."""
        return dict(self.config)


@dataclass(frozen=True)
class InferenceSpec:
    """``batch`` input rows through ``model``; unit i is the shard of ``shard`` rows starting at i·shard."""

    model: ModelSpec
    batch: int
    shard: int
    input: Source


def parse_model(o: Obj, *, archs: tuple[str, ...]) -> ModelSpec:
    o.allow("arch", "config", "weights")
    arch = o.string("arch", archs)
    c = o.obj("config")
    names = MLP_FIELDS if arch == "mlp" else TRANSFORMER_FIELDS
    c.allow(*names)
    cfg = {name: c.integer(name, 1, 64 if name in ("layers", "heads") else MAX_DIM) for name in names}
    if arch == "transformer" and cfg["d_model"] % cfg["heads"]:
        raise JobSpecError(c.sub("heads"), f"must divide d_model ({cfg['d_model']})")
    return ModelSpec(arch=arch, config=tuple(sorted(cfg.items())), weights=source(o.obj("weights")))


def model_dict(m: ModelSpec) -> dict[str, Any]:
    return {"arch": m.arch, "config": dict(m.config), "weights": source_dict(m.weights)}


def parse(o: Obj, dtype: str) -> InferenceSpec:
    o.allow("model", "batch", "shard", "input")
    batch = o.integer("batch", 1, 1 << 24)
    return InferenceSpec(
        model=parse_model(o.obj("model"), archs=ARCHS),
        batch=batch,
        shard=o.integer("shard", 1, batch),
        input=source(o.obj("input")),
    )


def to_section(b: InferenceSpec) -> dict[str, Any]:
    return {"model": model_dict(b.model), "batch": b.batch, "shard": b.shard, "input": source_dict(b.input)}


def add_model_arguments(p: argparse.ArgumentParser, archs: tuple[str, ...]) -> None:
    """``--arch``, ``--config`` and ``--weights`` (shared with ``train``)."""
    p.add_argument("--arch", choices=archs, default=archs[0], help=f"model architecture (default {archs[0]})")
    p.add_argument(
        "--config", required=True,
        help=f"KEY=N,… mlp: {', '.join(MLP_FIELDS)}; transformer: {', '.join(TRANSFORMER_FIELDS)}",
    )  # fmt: skip
    p.add_argument("--weights", type=Path, help="weights as a safetensors file (default: seeded)")


def new_model(ns: argparse.Namespace, blobs: dict[str, bytes]) -> dict[str, Any]:
    """The ``model`` object from :func:`add_model_arguments`' options (weights seeded by ``--seed``)."""
    return {
        "arch": ns.arch,
        "config": key_values(ns.config, "--config"),
        "weights": file_or_seed(ns.weights, ns.seed, "--weights", blobs),
    }


def add_new_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, ARCHS)
    p.add_argument("--batch", type=int, required=True, help="input rows")
    p.add_argument("--shard", type=int, help="rows per unit (default: batch/8, at least 1)")
    p.add_argument("--input", type=Path, help="input rows as a raw file (default: seeded)")
    add_seed(p, "the weights (seed) and input (seed + 1)")


def new_section(ns: argparse.Namespace) -> tuple[dict[str, Any], dict[str, bytes]]:
    blobs: dict[str, bytes] = {}
    section = {
        "model": new_model(ns, blobs),
        "batch": ns.batch,
        "shard": ns.shard or max(1, ns.batch // 8),
        "input": file_or_seed(ns.input, ns.seed + 1, "--input", blobs),
    }
    return section, blobs


def param_count(arch: str, cfg: Mapping[str, int]) -> int:
    """Number of scalar parameters of the architecture (without building it)."""
    if arch == "mlp":
        h, n = cfg["d_hidden"], cfg["layers"]
        return cfg["d_in"] * h + h + (n - 1) * (h * h + h) + h * cfg["d_out"] + cfg["d_out"]
    d, f, v = cfg["d_model"], cfg["d_ff"], cfg["vocab"]
    block = 4 * d + 3 * d * d + 3 * d + d * d + d + d * f + f + f * d + d
    return v * d + cfg["seq"] * d + cfg["layers"] * block + 2 * d + d * v + v


def footprint(b: InferenceSpec, dtype: str, blob_sizes: Mapping[str, int]) -> Footprint:
    """Weights and input rows in, one row of outputs per input row; a unit holds the weights (float32)
    and its shard's widest activations."""
    c, s, item = b.model.cfg(), b.shard, ITEMSIZE[dtype]
    params = param_count(b.model.arch, c)
    if b.model.arch == "transformer":
        out_row, in_row = c["seq"] * c["vocab"] * item, c["seq"] * 8
        widest = max(3 * c["d_model"], c["d_ff"], c["vocab"], c["heads"] * c["seq"])
        acts = s * c["seq"] * widest * 4
        flops = 2 * params * s * c["seq"] + 4 * c["layers"] * s * c["seq"] * c["seq"] * c["d_model"]
    else:
        out_row, in_row = c["d_out"] * item, c["d_in"] * item
        acts = s * max(c["d_in"], c["d_hidden"], c["d_out"]) * 4 * 3
        flops = 2 * params * s
    return Footprint(
        n_units=-(-b.batch // b.shard),
        output_bytes=b.batch * out_row,
        input_bytes=params * item + b.batch * in_row,
        unit_memory_bytes=params * 4 + acts,
        unit_flops=flops,
    )


KIND = Kind(
    name="inference",
    section=InferenceSpec,
    parse_section=parse,
    section_dict=to_section,
    blob_fields=lambda b: blob_pairs(
        [("inference.model.weights", b.model.weights), ("inference.input", b.input)]
    ),
    unit_count=lambda b: -(-b.batch // b.shard),
    footprint_of=footprint,
    workload_ref="node.workloads.kinds:InferenceWorkload",
    cheats=("corrupt", "zeros", "reuse", "low_precision", "wrong_root"),
    add_new_arguments=add_new_arguments,
    new_section=new_section,
)
