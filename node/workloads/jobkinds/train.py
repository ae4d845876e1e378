"""Kind ``train``: ``steps`` optimizer steps on seeded data, one checkpoint (unit) every ``checkpoint_every``.

Section: ``model`` (``arch`` = ``mlp``, ``config``, ``weights``), ``optimizer`` (``{"name": "sgd",
"lr", "momentum"}`` or ``{"name": "adam", "lr", "beta1", "beta2", "eps"}``), ``data`` (``seed``,
``batch``), ``steps`` and ``checkpoint_every``. float32 only in spec v1. A unit starts from the
previous unit's checkpoint (``needs_prev``). Workload: :class:`node.workloads.kinds.TrainWorkload`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from node.workloads.fields import MAX_SEED, Obj, blob_pairs
from node.workloads.jobkinds import ITEMSIZE, Footprint, Kind
from node.workloads.jobkinds.cli import add_seed
from node.workloads.jobkinds.inference import (
    ModelSpec,
    add_model_arguments,
    model_dict,
    new_model,
    param_count,
    parse_model,
)

OPTIMIZERS = ("sgd", "adam")
MAX_STEPS = 1 << 20


@dataclass(frozen=True)
class OptimizerSpec:
    """SGD (``momentum``) or Adam (``beta1``, ``beta2``, ``eps``); hyper-parameters as decimal strings."""

    name: str
    lr: str
    momentum: str | None = None
    beta1: str | None = None
    beta2: str | None = None
    eps: str | None = None


@dataclass(frozen=True)
class TrainSpec:
    """``steps`` optimizer steps on seeded data; a checkpoint (one unit) every ``checkpoint_every`` steps."""

    model: ModelSpec
    optimizer: OptimizerSpec
    data_seed: int
    data_batch: int
    steps: int
    checkpoint_every: int


def _optimizer(o: Obj) -> OptimizerSpec:
    name = o.string("name", OPTIMIZERS)
    one = Fraction(1)
    lr = o.number("lr", lo=Fraction(0), hi=Fraction(10), hi_open=False)
    if name == "sgd":
        o.allow("name", "lr", "momentum")
        return OptimizerSpec(
            name=name, lr=lr, momentum=o.number("momentum", lo=Fraction(0), hi=one, hi_open=True)
        )
    o.allow("name", "lr", "beta1", "beta2", "eps")
    return OptimizerSpec(
        name=name,
        lr=lr,
        beta1=o.number("beta1", lo=Fraction(0), hi=one, hi_open=True),
        beta2=o.number("beta2", lo=Fraction(0), hi=one, hi_open=True),
        eps=o.number("eps", lo=Fraction(1, 10**30), hi=one, hi_open=False),
    )


def parse(o: Obj, dtype: str) -> TrainSpec:
    o.allow("model", "optimizer", "data", "steps", "checkpoint_every")
    d = o.obj("data")
    d.allow("seed", "batch")
    steps = o.integer("steps", 1, MAX_STEPS)
    return TrainSpec(
        model=parse_model(o.obj("model"), archs=("mlp",)),
        optimizer=_optimizer(o.obj("optimizer")),
        data_seed=d.integer("seed", 0, MAX_SEED),
        data_batch=d.integer("batch", 1, 1 << 16),
        steps=steps,
        checkpoint_every=o.integer("checkpoint_every", 1, steps),
    )


def to_section(b: TrainSpec) -> dict[str, Any]:
    return {
        "model": model_dict(b.model),
        "optimizer": {k: v for k, v in vars(b.optimizer).items() if v is not None},
        "data": {"seed": b.data_seed, "batch": b.data_batch},
        "steps": b.steps,
        "checkpoint_every": b.checkpoint_every,
    }


def add_new_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, ("mlp",))
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default sgd")
    p.add_argument("--lr", default="0.01", help="learning rate, a decimal string (default 0.01)")
    p.add_argument("--momentum", default="0", help="SGD momentum (default 0)")
    p.add_argument("--beta1", default="0.9", help="Adam beta1 (default 0.9)")
    p.add_argument("--beta2", default="0.999", help="Adam beta2 (default 0.999)")
    p.add_argument("--eps", default="1e-8", help="Adam eps (default 1e-8)")
    p.add_argument("--data-batch", type=int, default=8, help="rows of seeded data per step (default 8)")
    p.add_argument("--steps", type=int, required=True, help="optimizer steps")
    p.add_argument("--checkpoint-every", type=int, help="steps per unit (default: steps/8, at least 1)")
    add_seed(p, "the weights (seed) and data (seed + 1)")


def new_section(ns: argparse.Namespace) -> tuple[dict[str, Any], dict[str, bytes]]:
    blobs: dict[str, bytes] = {}
    if ns.optimizer == "sgd":
        optimizer = {"name": "sgd", "lr": ns.lr, "momentum": ns.momentum}
    else:
        optimizer = {"name": "adam", "lr": ns.lr, "beta1": ns.beta1, "beta2": ns.beta2, "eps": ns.eps}
    section = {
        "model": new_model(ns, blobs),
        "optimizer": optimizer,
        "data": {"seed": ns.seed + 1, "batch": ns.data_batch},
        "steps": ns.steps,
        "checkpoint_every": ns.checkpoint_every or max(1, ns.steps // 8),
    }
    return section, blobs


def footprint(b: TrainSpec, dtype: str, blob_sizes: Mapping[str, int]) -> Footprint:
    """Initial weights in, one checkpoint ``[params, optimizer slots]`` out per unit; a unit holds a few
    copies of the checkpoint and one batch's activations; a step is forward + backward (~6 per
    parameter and row)."""
    c = b.model.cfg()
    params = param_count("mlp", c)
    slots = 2 if b.optimizer.name == "sgd" else 3
    acts = b.data_batch * (c["d_in"] + 2 * c["layers"] * c["d_hidden"] + 2 * c["d_out"]) * 4
    n_units = -(-b.steps // b.checkpoint_every)
    return Footprint(
        n_units=n_units,
        output_bytes=n_units * params * slots * ITEMSIZE[dtype],
        input_bytes=params * 4,
        unit_memory_bytes=params * 4 * (slots * 2 + 2) + acts * 2,
        unit_flops=6 * params * b.data_batch * b.checkpoint_every,
    )


KIND = Kind(
    name="train",
    section=TrainSpec,
    parse_section=parse,
    section_dict=to_section,
    blob_fields=lambda b: blob_pairs([("train.model.weights", b.model.weights)]),
    unit_count=lambda b: -(-b.steps // b.checkpoint_every),
    footprint_of=footprint,
    workload_ref="node.workloads.kinds:TrainWorkload",
    cheats=("corrupt", "zeros", "reuse", "low_precision", "skip_steps", "wrong_root"),
    add_new_arguments=add_new_arguments,
    new_section=new_section,
    needs_prev=True,
    dtypes=("float32",),
)
