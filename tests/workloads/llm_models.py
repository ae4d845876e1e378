"""Tiny random causal LMs built locally for the llm tests (config → model → save_pretrained; no download)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from node.workloads.llm_files import llm_spec, model_dir_files

VOCAB = 96
WORDS = [f"w{i}" for i in range(VOCAB - 2)]


def config(model_type: str, *, layers: int = 2, hidden: int = 32, vocab: int = VOCAB) -> Any:
    import transformers

    common: dict[str, Any] = {"vocab_size": vocab, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
    if model_type == "gpt2":
        return transformers.GPT2Config(n_embd=hidden, n_layer=layers, n_head=4, n_positions=256, **common)
    cls = {
        "llama": transformers.LlamaConfig,
        "qwen2": transformers.Qwen2Config,
        "mistral": transformers.MistralConfig,
    }[model_type]
    return cls(
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        **common,
    )


def build(
    path: Path,
    model_type: str = "llama",
    *,
    seed: int = 0,
    layers: int = 2,
    hidden: int = 32,
    shard_bytes: int | None = None,
    tokenizer: bool = True,
    initializer_range: float = 0.2,
) -> Path:
    """Save a random model of ``model_type`` into ``path`` (safetensors; sharded when ``shard_bytes``)."""
    import transformers

    cfg = config(model_type, layers=layers, hidden=hidden)
    cfg.initializer_range = initializer_range  # wider than the default 0.02: logits with a real spread
    torch.manual_seed(seed)
    cls = {
        "llama": transformers.LlamaForCausalLM,
        "qwen2": transformers.Qwen2ForCausalLM,
        "mistral": transformers.MistralForCausalLM,
        "gpt2": transformers.GPT2LMHeadModel,
    }[model_type]
    model = cls(cfg)
    kwargs: dict[str, Any] = {"safe_serialization": True}
    if shard_bytes is not None:
        kwargs["max_shard_size"] = shard_bytes
    model.save_pretrained(path, **kwargs)
    if tokenizer:
        save_tokenizer(path / "tokenizer.json")
    return path


def save_tokenizer(path: Path) -> None:
    """A word-level tokenizer over ``WORDS`` built with the ``tokenizers`` library."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<s>": 0, "</s>": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="</s>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path.write_text(tok.to_str(), encoding="utf-8")


def token_prompts(n: int, *, seed: int = 0, lo: int = 3, hi: int = 12) -> bytes:
    """``n`` JSONL prompts of random token ids (lengths in [lo, hi])."""
    g = torch.Generator().manual_seed(seed)
    lines = []
    for _ in range(n):
        length = int(torch.randint(lo, hi + 1, (1,), generator=g))
        ids = torch.randint(2, VOCAB, (length,), generator=g).tolist()
        lines.append(json.dumps({"tokens": ids}))
    return ("\n".join(lines) + "\n").encode()


def spec_and_blobs(model_dir: Path, prompts: bytes, **kwargs: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """An llm spec dict over the model directory's files, and the blobs it names."""
    return llm_spec(model_dir_files(model_dir), prompts, **kwargs)
