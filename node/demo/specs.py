"""The demo's jobs: one small spec per kind, sized to run in about a second each on one CPU core.

Each spec has eight units, so an audit samples half of them (``samples_k`` = 4 on the devnet) and
a provider that corrupts half its units escapes one audit with probability 1/70 (hypergeometric).

``llm`` needs a model: :func:`build_llm_model` makes a small random one from a config (nothing can
be downloaded here) and :func:`llm_demo` returns the spec and the blobs that name it. The tensor
kinds need no blobs: :data:`KINDS` lists those, :data:`ALL_KINDS` every kind of the registry;
:func:`demo_job` gives any kind's spec and blobs (the market demo runs all of them).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from node.workloads.jobkinds import KINDS as ALL_KINDS
from node.workloads.llm_files import llm_spec, model_dir_files
from node.workloads.spec import JobSpec, parse_spec, to_dict

KINDS = tuple(k for k in ALL_KINDS if k != "llm")

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


LLM_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden": 64, "layers": 2, "heads": 4, "vocab": 512},
    "small": {"hidden": 256, "layers": 4, "heads": 8, "vocab": 8192},
    "medium": {"hidden": 512, "layers": 8, "heads": 8, "vocab": 32000},
}
"""Random Llama models for the demo and ``scripts/bench llm`` (medium is ~58 M parameters)."""


def build_llm_model(path: Path, size: str = "tiny", *, model_type: str = "llama", seed: int = 0) -> Path:
    """Save a random causal LM of ``size`` into ``path`` with ``save_pretrained(safe_serialization=True)``."""
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    s = LLM_SIZES[size]
    common: dict[str, Any] = {
        "vocab_size": s["vocab"],
        "bos_token_id": 0,
        "eos_token_id": 1,
        "pad_token_id": 0,
    }
    if model_type == "gpt2":
        cfg: Any = transformers.GPT2Config(
            n_embd=s["hidden"], n_layer=s["layers"], n_head=s["heads"], n_positions=2048, **common
        )
        cls: Any = transformers.GPT2LMHeadModel
    else:
        cfg = transformers.LlamaConfig(
            hidden_size=s["hidden"],
            intermediate_size=s["hidden"] * 8 // 3,
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            num_key_value_heads=s["heads"],
            max_position_embeddings=2048,
            **common,
        )
        cls = transformers.LlamaForCausalLM
    cfg.initializer_range = 0.2  # logits with a real spread (the default 0.02 makes them nearly flat)
    torch.manual_seed(seed)
    cls(cfg).save_pretrained(path, safe_serialization=True)
    return path


def llm_prompts(n: int, *, vocab: int, seed: int = 1, length: int = 16) -> bytes:
    """``n`` JSONL prompts of ``length`` seeded token ids."""
    rnd = random.Random(seed)
    return "".join(
        json.dumps({"tokens": [rnd.randrange(2, vocab) for _ in range(length)]}) + "\n" for _ in range(n)
    ).encode()


def llm_demo(
    model_dir: Path, *, sequences: int = 16, group: int = 2, max_new_tokens: int = 16, seed: int = 1
) -> tuple[JobSpec, dict[str, bytes]]:
    """The demo's llm job over the model in ``model_dir`` (eight units of two sequences) and its blobs."""
    files = model_dir_files(model_dir)
    vocab = int(json.loads(files["config.json"])["vocab_size"])
    d, blobs = llm_spec(
        files,
        llm_prompts(sequences, vocab=vocab, seed=seed),
        max_new_tokens=max_new_tokens,
        group=group,
        limits=_LIMITS,
    )
    return parse_spec(d), blobs


DEMO_MODEL = "llm-tiny"
"""The folder (under the demo home's ``models/``) of the random Llama the demo's llm jobs name."""


def demo_job(kind: str, *, seed: int, home: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The demo spec of any kind as a JSON-ready dict, and its blobs (``llm``: the tiny random Llama,
    built once under ``home/models/``, and the prompts; the tensor kinds: none)."""
    if kind != "llm":
        return spec_dict(kind, seed=seed), {}
    spec, blobs = llm_demo(demo_model(home), seed=seed)
    return to_dict(spec), blobs


def demo_model(home: Path) -> Path:
    """The demo's random Llama under ``home/models/`` (built on first use; imports transformers)."""
    model = home / "models" / DEMO_MODEL
    if not ((model / "config.json").is_file() and (model / "model.safetensors").is_file()):
        build_llm_model(model, "tiny")
    return model
