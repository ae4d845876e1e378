"""What an ``llm`` job's files may contain, checked before transformers (or torch) sees any of them.

A model is data only if its files cannot make the loader run code or unpickle. transformers 5.25
was measured to: call ``torch.load`` when ``config.json`` names ``"transformers_weights":
"adapter_model.bin"`` (even with ``use_safetensors=True``), silently ignore ``auto_map`` for a known
``model_type`` (one version away from importing it) and set up a quantizer for a
``quantization_config``. So:

- ``model_type`` is one of :data:`MODEL_TYPES` (architectures that ship inside transformers);
  ``architectures``, when present, names exactly that type's causal-LM class;
- every key of ``config.json`` is in the type's allow-list (:func:`allowed_keys`); the three keys
  above are refused with their own reason (:data:`DENIED_KEYS`), any other unknown key as "not
  allowed"; duplicate keys and NaN/Infinity are refused;
- ``model.safetensors.index.json`` holds ``metadata`` and a ``weight_map`` whose files are all
  among the job's ``*.safetensors`` (and every weight file is used);
- prompts are JSONL, one object a line: ``{"tokens": [ids]}`` or ``{"text": "..."}`` (text needs a
  ``tokenizer.json``, read by the ``tokenizers`` library, never transformers' tokenizer classes).

Every refusal is an :class:`UnsafeModelError` (a :class:`~node.errors.JobSpecError`) naming the
file's spec field and the key. No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import JobSpecError

MODEL_TYPES: Mapping[str, str] = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "gpt2": "GPT2LMHeadModel",
    "mistral": "MistralForCausalLM",
}
"""Allowed ``model_type`` → the causal-LM class that loads it (all inside transformers)."""

DENIED_KEYS: Mapping[str, str] = {
    "transformers_weights": "names a weights file transformers loads with torch.load (a pickle)",
    "auto_map": "points at remote code",
    "quantization_config": "sets up a quantizer (weights are not what the job names)",
}

_COMMON = (
    "architectures",
    "model_type",
    "transformers_version",
    "dtype",
    "torch_dtype",
    "vocab_size",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "tie_word_embeddings",
    "use_cache",
    "initializer_range",
    "id2label",
    "label2id",
    "is_encoder_decoder",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
    "problem_type",
    "chunk_size_feed_forward",
    "_name_or_path",
)
_LLAMA_LIKE = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_parameters",
    "rope_theta",
    "rope_scaling",
    "attention_dropout",
)
_TYPE_KEYS: Mapping[str, tuple[str, ...]] = {
    "llama": (*_LLAMA_LIKE, "attention_bias", "mlp_bias", "pretraining_tp"),
    "mistral": (*_LLAMA_LIKE, "sliding_window"),
    "qwen2": (*_LLAMA_LIKE, "sliding_window", "max_window_layers", "use_sliding_window", "layer_types"),
    "gpt2": (
        "n_embd",
        "n_head",
        "n_layer",
        "n_inner",
        "n_positions",
        "n_ctx",
        "activation_function",
        "layer_norm_epsilon",
        "attn_pdrop",
        "embd_pdrop",
        "resid_pdrop",
        "add_cross_attention",
        "reorder_and_upcast_attn",
        "scale_attn_by_inverse_layer_idx",
        "scale_attn_weights",
        "summary_activation",
        "summary_first_dropout",
        "summary_proj_to_labels",
        "summary_type",
        "summary_use_proj",
        "task_specific_params",
    ),
}
_SIZE_KEYS = {
    "vocab_size": "vocab_size",
    "layers": ("num_hidden_layers", "n_layer"),
    "positions": ("max_position_embeddings", "n_positions"),
}
MAX_PROMPT_BYTES = 64 << 20


class UnsafeModelError(JobSpecError):
    """A model file holds something the node does not load; ``key`` is the offending key (or ``""``)."""

    def __init__(self, field: str, key: str, message: str) -> None:
        self.key = key
        super().__init__(field, f"{key}: {message}" if key else message)


def allowed_keys(model_type: str) -> frozenset[str]:
    """The config keys accepted for ``model_type``."""
    return frozenset((*_COMMON, *_TYPE_KEYS[model_type]))


def _reject_constant(text: str) -> Any:
    raise ValueError(f"{text} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _json_object(data: bytes, field: str) -> dict[str, Any]:
    try:
        obj = json.loads(data, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UnsafeModelError(field, "", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise UnsafeModelError(field, "", "expected a JSON object")
    return obj


def vet_config(data: bytes, field: str = "llm.model.config.json") -> dict[str, Any]:
    """The decoded ``config.json`` if every key is allowed; :class:`UnsafeModelError` otherwise."""
    cfg = _json_object(data, field)
    for key, reason in DENIED_KEYS.items():
        if key in cfg:
            raise UnsafeModelError(field, key, f"refused: {reason}")
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:
        raise UnsafeModelError(field, "model_type", f"{model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    allowed = allowed_keys(model_type)
    for key in cfg:
        if key not in allowed:
            raise UnsafeModelError(field, key, f"not an allowed {model_type} config key")
    archs = cfg.get("architectures")
    if archs is not None and archs != [MODEL_TYPES[model_type]]:
        raise UnsafeModelError(
            field, "architectures", f"must be [{MODEL_TYPES[model_type]!r}], got {archs!r}"
        )
    for key in ("vocab_size", "num_hidden_layers", "n_layer", "max_position_embeddings", "n_positions"):
        v = cfg.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1 << 24):
            raise UnsafeModelError(field, key, f"expected an integer in [1, {1 << 24}], got {v!r}")
    return cfg


def config_size(cfg: Mapping[str, Any], name: str) -> int | None:
    """``vocab_size``, ``layers`` or ``positions`` of a vetted config, whatever the type calls it."""
    keys = _SIZE_KEYS[name]
    for key in (keys,) if isinstance(keys, str) else keys:
        if isinstance(cfg.get(key), int):
            return int(cfg[key])
    return None


def vet_index(data: bytes, weight_files: Sequence[str], field: str) -> dict[str, str]:
    """The ``weight_map`` of a sharded checkpoint's index, checked against the job's weight files."""
    idx = _json_object(data, field)
    for key in idx:
        if key not in ("metadata", "weight_map"):
            raise UnsafeModelError(field, key, "not an allowed index key")
    wmap = idx.get("weight_map")
    if not isinstance(wmap, dict) or not wmap:
        raise UnsafeModelError(field, "weight_map", "expected a non-empty object")
    for tensor, fname in wmap.items():
        if fname not in weight_files:
            raise UnsafeModelError(
                field, "weight_map", f"{tensor} is in {fname!r}, not one of the job's files"
            )
    unused = set(weight_files) - set(wmap.values())
    if unused:
        raise UnsafeModelError(field, "weight_map", f"weight files not in the index: {sorted(unused)}")
    return dict(wmap)


def parse_prompts(
    data: bytes, *, count: int, vocab: int, tokenizer_json: bytes | None, field: str = "llm.prompts.blob"
) -> list[list[int]]:
    """The prompts as token id lists (``count`` lines; ids in ``[0, vocab)``; at least one token each)."""
    if len(data) > MAX_PROMPT_BYTES:
        raise JobSpecError(field, f"prompts are {len(data)} bytes, more than {MAX_PROMPT_BYTES}")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise JobSpecError(field, "prompts are not UTF-8") from None
    lines = [line for line in lines if line.strip()]
    if len(lines) != count:
        raise JobSpecError(field, f"{len(lines)} prompt lines, the spec says sequences = {count}")
    tokenizer = None
    out: list[list[int]] = []
    for n, line in enumerate(lines, 1):
        where = f"{field} line {n}"
        try:
            obj = json.loads(line, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
        except (ValueError, RecursionError) as exc:
            raise JobSpecError(where, f"not valid JSON: {exc}") from None
        if not isinstance(obj, dict) or len(obj) != 1 or not ({"tokens", "text"} & set(obj)):
            raise JobSpecError(where, 'expected {"tokens": [ids]} or {"text": "..."}')
        if "text" in obj:
            if not isinstance(obj["text"], str):
                raise JobSpecError(where, "text must be a string")
            if tokenizer_json is None:
                raise JobSpecError(where, "a text prompt needs a tokenizer.json in the model files")
            if tokenizer is None:
                tokenizer = load_tokenizer(tokenizer_json)
            ids = list(tokenizer.encode(obj["text"]).ids)
        else:
            ids = obj["tokens"]
            if not isinstance(ids, list) or not all(type(t) is int for t in ids):
                raise JobSpecError(where, "tokens must be a list of integers")
        if not ids:
            raise JobSpecError(where, "a prompt needs at least one token")
        if min(ids) < 0 or max(ids) >= vocab:
            raise JobSpecError(where, f"token ids must be in [0, {vocab})")
        out.append(ids)
    return out


def load_tokenizer(tokenizer_json: bytes, field: str = "llm.model.tokenizer.json") -> Any:
    """A ``tokenizers.Tokenizer`` from ``tokenizer.json`` bytes (plain JSON: no code, no pickle)."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(tokenizer_json.decode("utf-8"))
    except (Exception, UnicodeDecodeError) as exc:  # noqa: BLE001 - the Rust parser raises a bare Exception
        raise JobSpecError(field, f"not a tokenizers tokenizer.json: {exc}") from None


def model_dir_files(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """The allowed files of a model directory (name → bytes); other files there are left out."""
    from node.workloads.jobkinds.llm import allowed_file

    root = Path(path)
    out = {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file() and allowed_file(p.name)}
    if "config.json" not in out:
        raise JobSpecError("model", f"{root} has no config.json")
    vet_config(out["config.json"])
    return out


def llm_section(
    files: Mapping[str, bytes],
    prompts: bytes,
    *,
    max_new_tokens: int,
    group: int = 8,
    top_k: int = 8,
    decoding: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The ``llm`` section naming ``files`` and ``prompts`` by digest, and the blobs it names
    (``group`` capped at the number of prompts). Nobody hand-writes hashes."""
    sequences = sum(1 for line in prompts.decode("utf-8").splitlines() if line.strip())
    blobs = {hashlib.sha256(data).hexdigest(): bytes(data) for data in (*files.values(), prompts)}
    section = {
        "model": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "prompts": {"blob": hashlib.sha256(prompts).hexdigest()},
        "sequences": sequences,
        "group": max(1, min(group, sequences)),
        "max_new_tokens": max_new_tokens,
        "decoding": dict(decoding or {"name": "greedy"}),
        "top_k": top_k,
    }
    return section, blobs


def llm_spec(
    files: Mapping[str, bytes],
    prompts: bytes,
    *,
    max_new_tokens: int,
    dtype: str = "float32",
    group: int = 8,
    top_k: int = 8,
    decoding: Mapping[str, Any] | None = None,
    tolerance: str | None = None,
    limits: Mapping[str, int] | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A whole ``llm`` spec (a JSON-ready dict) over :func:`llm_section`, and its blobs; ``tolerance``
    defaults to the dtype's recommended one, ``limits`` to :data:`node.workloads.spec.DEFAULT_LIMITS`."""
    from node.workloads.spec import DEFAULT_LIMITS, default_tolerance

    section, blobs = llm_section(
        files, prompts, max_new_tokens=max_new_tokens, group=group, top_k=top_k, decoding=decoding
    )
    spec = {
        "version": 1,
        "kind": "llm",
        "dtype": dtype,
        "tolerance": tolerance or default_tolerance("llm", dtype),
        "limits": dict(limits or DEFAULT_LIMITS),
        "llm": section,
    }
    return spec, blobs


@dataclass(frozen=True)
class ModelCard:
    """What a model is, for an advert: its family (``model_type``), parameter count and weight bytes."""

    family: str
    params: int
    weight_bytes: int


@dataclass(frozen=True)
class ModelsServed:
    """The llm models a provider serves (part of its signed offer): families and largest size."""

    families: tuple[str, ...]
    max_params: int
    max_weight_bytes: int

    def __post_init__(self) -> None:
        unknown = [f for f in self.families if f not in MODEL_TYPES]
        if unknown:
            raise ValueError(f"families: {unknown[0]!r} is not one of {', '.join(MODEL_TYPES)}")
        if self.max_params < 0 or self.max_weight_bytes < 0:
            raise ValueError("max_params and max_weight_bytes must not be negative")

    def refusal(self, card: ModelCard) -> str | None:
        """Why ``card`` is outside this advert (one line), or ``None`` when it is served."""
        if card.family not in self.families:
            served = ", ".join(self.families) or "none"
            return f"model not served: family {card.family!r} is not among the advertised ({served})"
        if card.params > self.max_params:
            return f"model not served: {card.params} parameters, the advert's largest is {self.max_params}"
        if card.weight_bytes > self.max_weight_bytes:
            return (
                f"model not served: {card.weight_bytes} bytes of weights, "
                f"the advert's largest is {self.max_weight_bytes}"
            )
        return None


def model_card(files: Mapping[str, bytes]) -> ModelCard:
    """The :class:`ModelCard` of a model's files, from the config and the safetensors headers alone
    (no torch): what a provider's advert is held against."""
    cfg = vet_config(files["config.json"])
    params = 0
    for name, data in files.items():
        if not name.endswith(".safetensors"):
            continue
        field = f"llm.model.{name}"
        if len(data) < 8:
            raise UnsafeModelError(field, "", "not a safetensors file")
        size = int.from_bytes(data[:8], "little")
        if size > min(len(data) - 8, 100 << 20):
            raise UnsafeModelError(field, "", "safetensors header length out of range")
        header = _json_object(data[8 : 8 + size], field)
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            shape = entry.get("shape") if isinstance(entry, dict) else None
            if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
                raise UnsafeModelError(field, key, "tensor without a valid shape")
            n = 1
            for d in shape:
                n *= d
            params += n
    weight_bytes = sum(len(d) for n, d in files.items() if n.endswith(".safetensors"))
    return ModelCard(family=cfg["model_type"], params=params, weight_bytes=weight_bytes)
