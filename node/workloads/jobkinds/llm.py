"""Kind ``llm``: text generation with a Hugging Face causal language model shipped as data.

Section (every field required)::

    "llm": {"model": {"config.json": sha256, "model.safetensors": sha256, ...},   the model directory
            "prompts": {"blob": sha256},          JSONL: {"tokens": [ids]} or {"text": "..."} a line
            "sequences": S,                       number of prompt lines
            "group": g,                           sequences per unit (unit i = prompts i·g … i·g+g-1)
            "max_new_tokens": T,                  every sequence generates exactly T tokens (no early stop)
            "decoding": {"name": "greedy"} | {"name": "sample", "temperature": "0.7", "seed": int},
            "top_k": k}                           logits committed per generated position (1 … 64)

``model`` maps file names to blob digests. Only these names are accepted (anything else is refused
here, with the field named): ``config.json`` (required), ``generation_config.json``,
``tokenizer.json`` (needed for ``{"text": ...}`` prompts), ``tokenizer_config.json``,
``model.safetensors.index.json`` (required with more than one weight file) and ``*.safetensors``
(at least one). No pickle (``*.bin``, ``*.pt``), no code (``*.py``). What is inside the config is
checked when the blobs are at hand (:mod:`node.workloads.llm`). Workload:
:class:`node.workloads.llm.LlmWorkload`; output and audit are described there.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from node.errors import JobSpecError
from node.workloads.fields import MAX_SEED, Obj, Source, blob_pairs, source, source_dict
from node.workloads.jobkinds import ITEMSIZE, Footprint, Kind
from node.workloads.jobkinds.cli import read_file

FIXED_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "model.safetensors.index.json",
)
WEIGHT_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.safetensors")
INDEX_FILE = "model.safetensors.index.json"
DECODINGS = ("greedy", "sample")
MAX_FILES = 256
MAX_SEQUENCES = 1 << 20
MAX_NEW_TOKENS = 1 << 14
MAX_TOP_K = 64
DEFAULT_TOP_K = 8

LLM_CHEATS = (
    "corrupt",
    "zeros",
    "reuse",
    "wrong_root",
    "other_model",
    "drop_layer",
    "low_precision",
    "quantized",
    "truncated_prompt",
    "made_up_tokens",
    "wrong_topk",
)


@dataclass(frozen=True)
class Decoding:
    """Greedy (``temperature``/``seed`` ``None``) or seeded sampling at ``temperature`` (decimal string)."""

    name: str
    temperature: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class LlmSpec:
    """An llm section: model files (name → digest), prompts blob, sizes, decoding and top-k."""

    files: tuple[tuple[str, str], ...]
    prompts: Source
    sequences: int
    group: int
    max_new_tokens: int
    decoding: Decoding
    top_k: int

    def file_map(self) -> dict[str, str]:
        """The model files as ``{name: sha256 hex}``."""
        return dict(self.files)

    @property
    def weight_files(self) -> tuple[str, ...]:
        """The ``*.safetensors`` file names, sorted."""
        return tuple(name for name, _ in self.files if name.endswith(".safetensors"))


def allowed_file(name: str) -> bool:
    """Whether a model file name is one the node accepts."""
    return name in FIXED_FILES or bool(WEIGHT_FILE.fullmatch(name))


def _files(o: Obj) -> tuple[tuple[str, str], ...]:
    if len(o.value) > MAX_FILES:
        raise JobSpecError(o.path, f"at most {MAX_FILES} files")
    out: dict[str, str] = {}
    for name in o.value:
        if not isinstance(name, str) or not allowed_file(name):
            raise JobSpecError(
                o.sub(str(name)),
                "file not allowed (accepted: config.json, generation_config.json, tokenizer.json, "
                "tokenizer_config.json, model.safetensors.index.json, *.safetensors)",
            )
        out[name] = o.digest(name)
    if "config.json" not in out:
        raise JobSpecError(o.sub("config.json"), "missing field")
    weights = [n for n in out if n.endswith(".safetensors")]
    if not weights:
        raise JobSpecError(o.path, "no *.safetensors weight file")
    if len(weights) > 1 and INDEX_FILE not in out:
        raise JobSpecError(o.sub(INDEX_FILE), f"missing field ({len(weights)} weight files need an index)")
    return tuple(sorted(out.items()))


def _decoding(o: Obj) -> Decoding:
    name = o.string("name", DECODINGS)
    if name == "greedy":
        o.allow("name")
        return Decoding(name=name)
    o.allow("name", "temperature", "seed")
    temperature = o.number("temperature", lo=Fraction(1, 100), hi=Fraction(100), hi_open=False)
    return Decoding(name=name, temperature=temperature, seed=o.integer("seed", 0, MAX_SEED))


def parse(o: Obj, dtype: str) -> LlmSpec:
    o.allow("model", "prompts", "sequences", "group", "max_new_tokens", "decoding", "top_k")
    sequences = o.integer("sequences", 1, MAX_SEQUENCES)
    prompts = source(o.obj("prompts"))
    if prompts.blob is None:
        raise JobSpecError(o.sub("prompts"), "prompts are a blob (JSONL), not a seed")
    return LlmSpec(
        files=_files(o.obj("model")),
        prompts=prompts,
        sequences=sequences,
        group=o.integer("group", 1, sequences),
        max_new_tokens=o.integer("max_new_tokens", 1, MAX_NEW_TOKENS),
        decoding=_decoding(o.obj("decoding")),
        top_k=o.integer("top_k", 1, MAX_TOP_K),
    )


def to_section(b: LlmSpec) -> dict[str, Any]:
    return {
        "model": dict(b.files),
        "prompts": source_dict(b.prompts),
        "sequences": b.sequences,
        "group": b.group,
        "max_new_tokens": b.max_new_tokens,
        "decoding": {k: v for k, v in vars(b.decoding).items() if v is not None},
        "top_k": b.top_k,
    }


def _blobs(b: LlmSpec) -> dict[str, str]:
    out = {f"llm.model.{name}": digest for name, digest in b.files}
    out.update(blob_pairs([("llm.prompts", b.prompts)]))
    return out


def add_new_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", type=Path, required=True,
        help="model directory: config.json, *.safetensors (or shards + index), optional tokenizer.json",
    )  # fmt: skip
    p.add_argument(
        "--prompts", type=Path, required=True,
        help='JSONL, one prompt a line: {"tokens": [ids]} or {"text": "..."} (needs tokenizer.json)',
    )  # fmt: skip
    p.add_argument("--max-new-tokens", type=int, default=64, help="tokens generated per prompt (default 64)")
    p.add_argument("--group", type=int, default=8, help="prompts per unit (default 8)")
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help="logits kept a position (8)")
    p.add_argument("--temperature", help="sample at this temperature, a decimal string (default: greedy)")
    p.add_argument("--seed", type=int, default=1, help="sampling seed (with --temperature; default 1)")


def new_section(ns: argparse.Namespace) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The section over ``--model``'s allowed files and ``--prompts`` (both vetted: config keys, prompt
    lines; a text prompt without a tokenizer.json is refused here, naming ``--prompts``)."""
    from node.workloads.llm_files import config_size, llm_section, model_dir_files, parse_prompts, vet_config

    if not ns.model.is_dir():
        raise JobSpecError("--model", f"{ns.model} is not a directory")
    files = model_dir_files(ns.model)
    prompts = read_file(ns.prompts, "--prompts")
    vocab = config_size(vet_config(files["config.json"]), "vocab_size")
    if vocab is None:
        raise JobSpecError("--model", "config.json has no vocab_size")
    count = sum(1 for line in prompts.decode("utf-8", "replace").splitlines() if line.strip())
    tokenizer = files.get("tokenizer.json")
    parse_prompts(prompts, count=count, vocab=vocab, tokenizer_json=tokenizer, field="--prompts")
    decoding = (
        {"name": "greedy"}
        if ns.temperature is None
        else {"name": "sample", "temperature": ns.temperature, "seed": ns.seed}
    )
    return llm_section(
        files, prompts, max_new_tokens=ns.max_new_tokens, group=ns.group, top_k=ns.top_k, decoding=decoding
    )


def footprint(b: LlmSpec, dtype: str, blob_sizes: Mapping[str, int]) -> Footprint:
    """Top-k rows out (float32); in: the weight files once their sizes are known (the prompts' token
    count and the working memory need the files themselves: :class:`~node.workloads.llm.LlmWorkload`).
    Arithmetic: 2 per parameter and generated token, parameters taken as weight bytes / itemsize."""
    from verifier.llm import row_width  # imports torch: not at the spec layer's import

    sizes = [blob_sizes.get(digest) for name, digest in b.files if name in b.weight_files]
    weights = None if None in sizes else sum(s for s in sizes if s is not None)
    params = (weights or 0) // ITEMSIZE[dtype]
    return Footprint(
        n_units=-(-b.sequences // b.group),
        output_bytes=b.sequences * b.max_new_tokens * row_width(b.top_k) * 4,
        input_bytes=weights,
        unit_memory_bytes=None,
        unit_flops=2 * params * b.group * b.max_new_tokens,
    )


KIND = Kind(
    name="llm",
    section=LlmSpec,
    parse_section=parse,
    section_dict=to_section,
    blob_fields=_blobs,
    unit_count=lambda b: -(-b.sequences // b.group),
    footprint_of=footprint,
    workload_ref="node.workloads.llm:LlmWorkload",
    cheats=LLM_CHEATS,
    cheat_ref="node.workloads.llm_cheats:llm_cheat_unit",
    add_new_arguments=add_new_arguments,
    new_section=new_section,
)
