"""The ``llm`` workload: generation with a Hugging Face causal LM, audited by teacher forcing.

Loading (:func:`load_model`): the blobs are checked first (:mod:`node.workloads.llm_files`: file
names, config keys, index), then only ``config.json``, the ``*.safetensors`` files and the index
are written to a private temporary directory and loaded with the architecture's own class
(``LlamaForCausalLM``, …) from transformers, offline (``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``
set before transformers is imported, ``local_files_only=True``), ``trust_remote_code=False`` and
``use_safetensors=True`` passed explicitly, in the spec's dtype. A bounded cache
(:data:`CACHE_SIZE` models, least recently used out) keeps a model warm across jobs that name
the same files, dtype and device (a provider loads each model once, however many jobs name it:
:func:`cache_info` counts the loads); ``device="auto"`` uses CUDA when there is one.

A unit is ``group`` consecutive prompts, generated together (left-padded batch with an attention
mask and explicit position ids, KV cache). Every sequence generates exactly ``max_new_tokens``
tokens (no early stop at EOS: the unit's shape is fixed by the spec). The unit's output is a
float32 tensor ``(group, T, 1 + 2k)``: per generated position the token, the ids of the k largest
logits and those logits (:mod:`verifier.llm`). Greedy picks the largest logit (the committed
top-1); seeded sampling picks ``argmax(logit / temperature + gumbel)``, with Gumbel noise
``-log(-log(u))`` made in float64 from ``u = rng.uniform(seed, "gumbel/<sequence>/<position>")``
(sequence = the prompt's line in the job), so a sampled token is a function of the seed and
the distribution.

Audit (:meth:`LlmWorkload.audit_check`): ONE forward pass over prompt + committed tokens (minus the
last) for the unit's sequences together (left-padded, split only to bound the logits' memory),
logits kept only at the T generated positions, then :func:`verifier.llm.check_sequence` a
sequence. That is a prefill, much cheaper than T decoding steps; figures in node/workloads/README.md.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from torch import nn

from node.errors import JobSpecError, WorkloadError
from node.workloads import rng
from node.workloads.jobkinds import ITEMSIZE
from node.workloads.jobkinds.llm import INDEX_FILE, LlmSpec
from node.workloads.kinds import Workload, resolve_blob
from node.workloads.llm_files import (
    MODEL_TYPES,
    config_size,
    load_tokenizer,
    parse_prompts,
    vet_config,
    vet_index,
)
from node.workloads.spec import JobSpec
from verifier.compare import Comparison
from verifier.llm import check_sequence, row_width

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

CACHE_SIZE = 2
MAX_AUDIT_LOGITS_BYTES = 256 << 20
"""A verifier's teacher-forced pass keeps at most this many bytes of float32 logits (sequences per pass)."""
ATTENTION = ("sdpa", "eager")
_CACHE: OrderedDict[tuple[Any, ...], nn.Module] = OrderedDict()
_COUNTS = {"loads": 0, "hits": 0}


@dataclass(frozen=True)
class CacheInfo:
    """The model cache of this process: models loaded from files, requests served warm, models held."""

    loads: int
    hits: int
    held: int
    capacity: int


def cache_info() -> CacheInfo:
    """How often :func:`load_model` loaded a model and how often the cache served one."""
    return CacheInfo(loads=_COUNTS["loads"], hits=_COUNTS["hits"], held=len(_CACHE), capacity=CACHE_SIZE)


def load_model(
    files: Mapping[str, bytes],
    *,
    dtype: torch.dtype,
    device: torch.device,
    attn: str = "sdpa",
    digests: Mapping[str, str] | None = None,
) -> nn.Module:
    """The model of vetted ``files`` (name → bytes), loaded offline in ``dtype`` on ``device``; cached.

    ``digests`` (name → SHA-256 hex, already checked by the caller) spares hashing the files again.
    """
    if attn not in ATTENTION:
        raise WorkloadError(f"attention implementation must be one of {', '.join(ATTENTION)}, got {attn!r}")
    cfg = vet_config(files["config.json"])
    weights = sorted(n for n in files if n.endswith(".safetensors"))
    names = [n for n in ("config.json", INDEX_FILE, *weights) if n in files]
    key = (
        tuple((n, digests[n] if digests is not None else hash_of(files[n])) for n in names),
        str(dtype),
        str(device),
        attn,
    )
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        _COUNTS["hits"] += 1
        return cached
    import transformers

    transformers.utils.logging.disable_progress_bar()
    cls = getattr(transformers, MODEL_TYPES[cfg["model_type"]])
    with tempfile.TemporaryDirectory(prefix="ccm-llm-") as tmp:
        for name in names:
            Path(tmp, name).write_bytes(files[name])
        model = cls.from_pretrained(
            tmp,
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=True,
            dtype=dtype,
            attn_implementation=attn,
        )
    model = model.to(device).eval()
    _COUNTS["loads"] += 1
    _CACHE[key] = model
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return model


def _embedding_shape(model: nn.Module, getter: str) -> tuple[int, int]:
    """``(rows, cols)`` of the model's input or output embedding matrix."""
    weight = getattr(model, getter)().weight
    return int(weight.shape[0]), int(weight.shape[1])


def hash_of(data: bytes) -> str:
    """SHA-256 hex of ``data`` (the blob name)."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def gumbel(seed: int, sequence: int, position: int, vocab: int) -> torch.Tensor:
    """The float64 Gumbel noise of one sampled position (see the module docstring)."""
    u = rng.uniform(seed, f"gumbel/{sequence}/{position}", (vocab,)).to(torch.float64)
    u = (u + 1.0) / 2.0 + 2.0**-25  # in (0, 1): the grid is 2^-24, the offset half a step
    return -torch.log(-torch.log(u))


class LlmWorkload(Workload):
    """Prompts in groups through a causal LM (see the module docstring)."""

    def __init__(
        self,
        spec: JobSpec,
        device: torch.device,
        blobs: Mapping[str, bytes],
        *,
        attn: str = "sdpa",
    ) -> None:
        super().__init__(spec, device)
        b = spec.body
        assert isinstance(b, LlmSpec)
        self.body = b
        files = {name: resolve_blob(blobs, f"llm.model.{name}.blob", digest) for name, digest in b.files}
        self.config = vet_config(files["config.json"])
        if INDEX_FILE in files:
            vet_index(files[INDEX_FILE], b.weight_files, f"llm.model.{INDEX_FILE}")
        vocab = config_size(self.config, "vocab_size")
        if vocab is None:
            raise JobSpecError("llm.model.config.json", "vocab_size: missing")
        self.tokenizer_json = files.get("tokenizer.json")
        assert b.prompts.blob is not None
        self.prompts = parse_prompts(
            resolve_blob(blobs, "llm.prompts.blob", b.prompts.blob),
            count=b.sequences,
            vocab=vocab,
            tokenizer_json=self.tokenizer_json,
        )
        positions = config_size(self.config, "positions")
        longest = max(len(p) for p in self.prompts) + b.max_new_tokens
        if positions is not None and longest > positions:
            raise JobSpecError(
                "llm.max_new_tokens",
                f"the longest prompt + max_new_tokens is {longest}, the model has {positions}",
            )
        self.n_units = -(-b.sequences // b.group)
        self.weight_bytes = sum(len(files[n]) for n in b.weight_files)
        self.model = load_model(files, dtype=self.dtype, device=device, attn=attn, digests=b.file_map())
        self.vocab = _embedding_shape(self.model, "get_output_embeddings")[0]
        self.n_params = sum(p.numel() for p in self.model.parameters())
        d = b.decoding
        self.temperature = float(Fraction(d.temperature)) if d.temperature is not None else None
        self.pad_id = 0

    # ------------------------------------------------------------------------------ geometry

    def rows(self, index: int) -> range:
        """The prompt lines of unit ``index``."""
        g = self.body.group
        return range(index * g, min((index + 1) * g, self.body.sequences))

    def unit_shape(self, index: int) -> tuple[int, ...]:
        return (len(self.rows(index)), self.body.max_new_tokens, row_width(self.body.top_k))

    def output_bytes(self) -> int:
        return sum(math.prod(self.unit_shape(i)) * 4 for i in range(self.n_units))

    def input_bytes(self) -> int:
        return self.weight_bytes + sum(len(p) for p in self.prompts) * 8

    def unit_memory_bytes(self) -> int:
        item = ITEMSIZE[self.spec.dtype]
        g, t = self.body.group, self.body.max_new_tokens
        length = max(len(p) for p in self.prompts) + t
        layers = config_size(self.config, "layers") or 1
        hidden = _embedding_shape(self.model, "get_input_embeddings")[1]
        kv = 2 * layers * g * length * hidden * item
        logits = g * length * self.vocab * 4 * 2
        return self.n_params * item + kv + logits

    # ------------------------------------------------------------------------------ provider

    def noise(self, sequence: int, position: int) -> torch.Tensor:
        """Gumbel noise of a sampled position (float64, CPU)."""
        seed = self.body.decoding.seed
        assert seed is not None
        return gumbel(seed, sequence, position, self.vocab)

    def _choose(
        self, logits: torch.Tensor, top_ids: torch.Tensor, rows: Sequence[int], t: int
    ) -> torch.Tensor:
        if self.temperature is None:
            return top_ids[:, 0]
        noise = torch.stack([self.noise(r, t) for r in rows]).to(logits.device)
        return (logits.to(torch.float64) / self.temperature + noise).argmax(dim=-1)

    def generate(
        self,
        index: int,
        *,
        model: nn.Module | None = None,
        prompts: Sequence[Sequence[int]] | None = None,
        steps: int | None = None,
    ) -> torch.Tensor:
        """Unit ``index`` as the provider computes it; ``model``/``prompts``/``steps`` override (cheats)."""
        self._check_index(index)
        model = model if model is not None else self.model
        rows = self.rows(index)
        ps = [list(p) for p in prompts] if prompts is not None else [self.prompts[r] for r in rows]
        b = self.body
        k, total = b.top_k, b.max_new_tokens
        steps = total if steps is None else steps
        g, width = len(ps), max(len(p) for p in ps)
        ids = torch.full((g, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((g, width), dtype=torch.long)
        for r, p in enumerate(ps):
            ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[r, width - len(p) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        pos = (mask.cumsum(dim=1) - 1).clamp(min=0)
        out = torch.zeros((g, total, row_width(k)), dtype=torch.float32)
        with torch.no_grad():
            res = model(
                input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1
            )
            for t in range(steps):
                logits = res.logits[:, -1, :].to(torch.float32)
                top = logits.topk(k, dim=-1)
                tok = self._choose(logits, top.indices, rows, t)
                out[:, t, 0] = tok.to("cpu", torch.float32)
                out[:, t, 1 : 1 + k] = top.indices.to("cpu", torch.float32)
                out[:, t, 1 + k :] = top.values.to("cpu")
                if t == steps - 1:
                    break
                mask = torch.cat([mask, torch.ones((g, 1), dtype=torch.long, device=self.device)], dim=1)
                pos = pos[:, -1:] + 1
                res = model(
                    input_ids=tok[:, None].to(torch.long),
                    attention_mask=mask,
                    position_ids=pos,
                    cache=res.cache,
                    use_cache=True,
                )
        return out

    def compute(self, index: int, prev: torch.Tensor | None = None) -> torch.Tensor:
        return self.generate(index)

    # ------------------------------------------------------------------------------ verifier

    def forced_logits(
        self, prompts: Sequence[Sequence[int]], tokens: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """Float32 logits ``(n, T, V)`` at the generated positions of ``n`` sequences, by ONE
        teacher-forced pass over prompt + tokens[:-1] (left-padded batch, no KV cache)."""
        seqs = [[*p, *t[:-1]] for p, t in zip(prompts, tokens, strict=True)]
        steps = len(tokens[0])
        width = max(len(q) for q in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, q in enumerate(seqs):
            ids[r, width - len(q) :] = torch.tensor(q, dtype=torch.long)
            mask[r, width - len(q) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        pos = (mask.cumsum(dim=1) - 1).clamp(min=0)
        with torch.no_grad():
            out = self.model(
                input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False, logits_to_keep=steps
            )
        return out.logits.to(torch.float32)

    def check_unit(self, index: int, observed: torch.Tensor) -> Comparison:
        """Audit revealed unit ``index``: teacher-forced passes over its sequences (batched, at most
        :data:`MAX_AUDIT_LOGITS_BYTES` of logits a pass), then :func:`verifier.llm.check_sequence`."""
        self._check_index(index)
        inf = math.inf
        shape = self.unit_shape(index)
        if observed.dtype != torch.float32 or tuple(observed.shape) != shape:
            return Comparison(False, False, inf, inf, "shape")
        toks = observed[:, :, 0]
        ok = bool(torch.isfinite(toks).all()) and bool((toks == toks.round()).all())
        if not ok or float(toks.min()) < 0 or float(toks.max()) >= self.vocab:
            return Comparison(False, False, inf, inf, "malformed")
        tol = float(self.spec.tolerance_value)
        rows = list(self.rows(index))
        steps = shape[1]
        per_pass = max(1, MAX_AUDIT_LOGITS_BYTES // (steps * self.vocab * 4))
        worst, worst_abs = 0.0, 0.0
        for start in range(0, len(rows), per_pass):
            part = range(start, min(start + per_pass, len(rows)))
            logits = self.forced_logits(
                [self.prompts[rows[r]] for r in part], [[int(t) for t in toks[r].tolist()] for r in part]
            )
            for n, r in enumerate(part):
                noise = None
                if self.temperature is not None:
                    noise = torch.stack([self.noise(rows[r], t) for t in range(steps)])
                res = check_sequence(
                    logits[n], observed[r], tolerance=tol, temperature=self.temperature, noise=noise
                )
                if not res.passed:
                    return res
                worst, worst_abs = max(worst, res.scaled_error), max(worst_abs, res.max_abs_diff)
        return Comparison(True, False, worst, worst_abs, "within_tolerance")

    def audit_check(self) -> Callable[[int, torch.Tensor], Comparison]:
        return self.check_unit


def completions(
    outputs: Sequence[tuple[str, tuple[int, ...], bytes]], tokenizer_json: bytes | None = None
) -> list[dict[str, Any]]:
    """An llm job's units (``(dtype, shape, bytes)`` each, in order) as one line a prompt:
    ``{"tokens": [...]}``, plus ``"text"`` decoded with ``tokenizer_json`` when there is one.
    Reads only the token column of each unit (no model needed): what ``ccm job result`` writes."""
    from verifier.tensorbytes import tensor_from_bytes

    tokenizer = load_tokenizer(tokenizer_json) if tokenizer_json is not None else None
    out: list[dict[str, Any]] = []
    for dtype, shape, data in outputs:
        unit = tensor_from_bytes(dtype, shape, data)
        if unit.dim() != 3:
            raise WorkloadError(f"an llm unit has 3 dimensions, got shape {tuple(unit.shape)}")
        for row in unit[:, :, 0].tolist():
            toks = [int(t) for t in row]
            line: dict[str, Any] = {"tokens": toks}
            if tokenizer is not None:
                line["text"] = tokenizer.decode(toks)
            out.append(line)
    return out
