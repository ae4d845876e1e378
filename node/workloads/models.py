"""The project's own model registry: the architectures an ``inference`` or ``train`` job may name.

A job names an architecture and its integer config; it never ships code. Weights come either from
a seed (deterministic init via :mod:`node.workloads.rng`) or from a **safetensors** blob whose
tensor names, shapes and dtype must match the architecture exactly. Nothing else is loaded: a
pickle or a ``torch.save`` archive is rejected with a clear :class:`JobSpecError` and is never
unpickled.

Architectures:

- ``mlp``: ``d_in → d_hidden (GELU) → … (layers hidden layers) → d_out``; input ``(b, d_in)``.
- ``transformer``: token + learned position embeddings, ``layers`` pre-LayerNorm blocks
  (multi-head self-attention written out as matmul + softmax, GELU MLP of width ``d_ff``), a final
  LayerNorm and a vocabulary head; input int64 tokens ``(b, seq)``, output logits ``(b, seq, vocab)``.

Attention is written with plain matmuls rather than ``scaled_dot_product_attention`` so that no
backend picks a fused kernel by shape behind our back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from torch import nn

from node.errors import JobSpecError
from node.workloads import rng


class MLP(nn.Module):
    """A plain multi-layer perceptron with GELU activations."""

    def __init__(self, *, d_in: int, d_hidden: int, d_out: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Linear(d_in, d_hidden), nn.GELU()]
        for _ in range(layers - 1):
            mods += [nn.Linear(d_hidden, d_hidden), nn.GELU()]
        mods.append(nn.Linear(d_hidden, d_out))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """One pre-LayerNorm transformer block."""

    def __init__(self, *, d_model: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        dh = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.reshape(b, s, self.heads, dh).transpose(1, 2) for t in (q, k, v))
        att = torch.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh)), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(y)
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    """A small encoder-style transformer producing per-token logits."""

    def __init__(self, *, vocab: int, d_model: int, heads: int, layers: int, d_ff: int, seq: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(seq, d_model))
        self.blocks = nn.ModuleList([Block(d_model=d_model, heads=heads, d_ff=d_ff) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tok(tokens) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def build(arch: str, cfg: Mapping[str, int]) -> nn.Module:
    """An uninitialised model of the registry (on the CPU, float32, requires_grad off)."""
    if arch == "mlp":
        model: nn.Module = MLP(
            d_in=cfg["d_in"], d_hidden=cfg["d_hidden"], d_out=cfg["d_out"], layers=cfg["layers"]
        )
    elif arch == "transformer":
        model = Transformer(
            vocab=cfg["vocab"],
            d_model=cfg["d_model"],
            heads=cfg["heads"],
            layers=cfg["layers"],
            d_ff=cfg["d_ff"],
            seq=cfg["seq"],
        )
    else:
        raise JobSpecError("model.arch", f"unknown architecture {arch!r}")
    model.requires_grad_(False)
    return model


def seeded_state(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic float32 weights: uniform ±1/√fan_in for matrices, ones/zeros for LayerNorm and biases.

    Each tensor is drawn from its own stream labelled ``weights/<name>``, so the init does not
    depend on parameter order.
    """
    state: dict[str, torch.Tensor] = {}
    for name, p in model.state_dict().items():
        shape = tuple(p.shape)
        leaf = name.rsplit(".", 1)[-1]
        is_norm = ".ln" in f".{name}" and leaf in ("weight", "bias")
        if is_norm:
            state[name] = torch.ones(shape) if leaf == "weight" else torch.zeros(shape)
        elif leaf == "bias":
            state[name] = torch.zeros(shape)
        else:
            fan_in = shape[-1] if name not in ("tok.weight", "pos") else 1
            state[name] = rng.uniform(seed, f"weights/{name}", shape, scale=1.0 / math.sqrt(fan_in))
    return state


def _sniff(data: bytes) -> str | None:
    """Name the format of bytes that are plainly not safetensors, for a helpful error."""
    if data[:1] == b"\x80":
        return "a Python pickle"
    if data[:2] == b"PK":
        return "a zip archive (torch.save format, which contains a pickle)"
    return None


def load_weights(model: nn.Module, data: bytes, *, dtype: torch.dtype, field: str) -> dict[str, torch.Tensor]:
    """Parse a safetensors blob and check it against ``model``; never unpickles.

    Raises :class:`JobSpecError` naming ``field`` if the bytes are not safetensors, or a tensor is
    missing, extra, of the wrong shape or of a dtype other than the job's.
    """
    kind = _sniff(data)
    if kind is not None:
        raise JobSpecError(
            field, f"weights blob is {kind}; only safetensors is accepted (pickles are never loaded)"
        )
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise JobSpecError(field, f"weights blob is not a valid safetensors file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise JobSpecError(
            field, f"weights do not match the architecture (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for name, ref in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(ref.shape):
            raise JobSpecError(
                field, f"tensor {name!r} has shape {list(t.shape)}, expected {list(ref.shape)}"
            )
        if t.dtype != dtype:
            raise JobSpecError(field, f"tensor {name!r} is {t.dtype}, the job's dtype is {dtype}")
    return tensors
