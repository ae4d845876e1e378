"""CHEAT MODELS of the ``llm`` kind — dishonest providers for tests, the bench and the demo.

Nothing here is used by an honest node. :func:`llm_cheat_unit` is the ``llm`` kind's cheat
function (:mod:`node.workloads.jobkinds`); :func:`node.workloads.cheats.run_dishonest` calls it for
the units it corrupts. Each cheat saves the provider work or serves something other than the job:

- ``other_model``: another model of the same shape (the weights re-drawn with another seed);
- ``drop_layer``: the job's model with its last decoder layer removed;
- ``low_precision``: the model run in ``cheat.precision`` (bfloat16 or float16) instead of the
  spec's dtype (for a bf16 job: float16);
- ``quantized``: weights rounded to int8 per output row (symmetric, absmax) and back;
- ``truncated_prompt``: each prompt cut to its second half (at least one token);
- ``made_up_tokens``: the honest first half, then random tokens whose committed top-k claims the
  token as top-1 with the honest step's values;
- ``wrong_topk``: honest tokens, but the top-k ids after the first replaced by random ones.

``corrupt``, ``zeros``, ``reuse`` and ``wrong_root`` work on the unit tensor as for every kind
(:func:`node.workloads.cheats.generic_cheat_unit`). Variant models are built once per workload.
"""

from __future__ import annotations

import copy
import random
from typing import TYPE_CHECKING

import torch
from torch import nn

from node.errors import WorkloadError
from node.workloads.kinds import Workload
from node.workloads.llm import LlmWorkload

if TYPE_CHECKING:
    from node.workloads.cheats import Cheat

_VARIANTS: dict[tuple[int, str], nn.Module] = {}


def _layers(model: nn.Module) -> nn.ModuleList:
    base = model.base_model
    layers = getattr(base, "layers", None) or getattr(base, "h", None)
    if not isinstance(layers, nn.ModuleList):
        raise WorkloadError(f"cannot find the decoder layers of {type(model).__name__}")
    return layers


def variant(work: LlmWorkload, name: str, cheat: Cheat) -> nn.Module:
    """The cheater's model for ``name`` (cached per workload)."""
    key = (id(work), f"{name}/{cheat.precision}/{cheat.seed}")
    cached = _VARIANTS.get(key)
    if cached is not None:
        return cached
    model = copy.deepcopy(work.model)
    if name == "other_model":
        g = torch.Generator().manual_seed(cheat.seed + 1)
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    std = float(p.float().std()) or 0.02
                    p.copy_((torch.randn(p.shape, generator=g) * std).to(p.dtype))
    elif name == "drop_layer":
        layers = _layers(model)
        del layers[len(layers) - 1]
        config = model.config
        for attr in ("num_hidden_layers", "n_layer"):
            if hasattr(config, attr):
                setattr(config, attr, len(layers))
        types = getattr(config, "layer_types", None)
        if isinstance(types, list):
            setattr(config, "layer_types", types[: len(layers)])  # noqa: B010 - config is typed loosely
    elif name == "low_precision":
        low = torch.bfloat16 if cheat.precision == "bfloat16" else torch.float16
        if work.dtype == low:
            low = torch.float16 if low == torch.bfloat16 else torch.bfloat16
        model = model.to(low)
    elif name == "quantized":
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() == 2:
                    w = p.float()
                    step = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
                    p.copy_(((w / step).round().clamp(-127, 127) * step).to(p.dtype))
    else:
        raise WorkloadError(f"no model variant for cheat {name!r}")
    model.eval()
    _VARIANTS[key] = model
    return model


def llm_cheat_unit(cheat: Cheat, work: Workload, index: int, prev: torch.Tensor | None) -> torch.Tensor:
    """A cheated unit of an ``llm`` job (see the module docstring)."""
    from node.workloads.cheats import generic_cheat_unit

    if cheat.name in ("corrupt", "zeros", "reuse", "wrong_root"):
        return generic_cheat_unit(cheat, work, index, prev)
    if not isinstance(work, LlmWorkload):
        raise WorkloadError(f"{cheat.name} applies to llm jobs only")
    if cheat.name in ("other_model", "drop_layer", "low_precision", "quantized"):
        return work.generate(index, model=variant(work, cheat.name, cheat))
    rnd = random.Random(cheat.seed * 1_000_003 + index)
    if cheat.name == "truncated_prompt":
        prompts = [p[len(p) // 2 :] for p in (work.prompts[r] for r in work.rows(index))]
        return work.generate(index, prompts=prompts)
    k = work.body.top_k
    if cheat.name == "made_up_tokens":
        t_half = work.body.max_new_tokens // 2
        y = work.generate(index, steps=max(t_half, 1))
        for t in range(t_half, y.shape[1]):
            for r in range(y.shape[0]):
                tok = rnd.randrange(work.vocab)
                others = [i for i in rnd.sample(range(work.vocab), k + 1) if i != tok][: k - 1]
                y[r, t, 0] = tok
                y[r, t, 1 : 1 + k] = torch.tensor([tok, *others], dtype=torch.float32)
                y[r, t, 1 + k :] = y[r, max(t_half - 1, 0), 1 + k :]
        return y
    if cheat.name == "wrong_topk":
        y = work.generate(index)
        for t in range(y.shape[1]):
            for r in range(y.shape[0]):
                top1 = int(y[r, t, 1])
                others = [i for i in rnd.sample(range(work.vocab), k + 1) if i != top1][: k - 1]
                y[r, t, 2 : 1 + k] = torch.tensor(others, dtype=torch.float32)
        return y
    raise WorkloadError(f"unknown llm cheat {cheat.name!r}")
