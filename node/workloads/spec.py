"""Job spec v1: parsing, validation, canonical JSON and the on-chain ``specHash``.

A job is data, never code. A spec is a JSON object with exactly these top-level fields::

    {"version": 1, "kind": "matmul" | "inference" | "train" | "llm",
     "dtype": "float32" | "bfloat16" | "float16",
     "tolerance": "1e-5" | "1/100000",            decimal string or rational, 0 <= t < 1
     "limits": {"max_units", "max_bytes", "max_seconds", "max_memory_bytes"},   positive integers
     "<kind>": {...}}                              one section, named after the kind

Every field is required (so a valid spec re-serialises to itself and there is one byte string per
job). Numbers are integers; real-valued hyper-parameters (tolerance, learning rate, betas) are
decimal strings or rationals, because a float's JSON spelling is not canonical. Each kind is one
module of :mod:`node.workloads.jobkinds` (the kind registry) that parses and re-serialises its own
section; this module holds what every spec shares. Sections:

- ``matmul``: ``n, k, m, rows_per_unit`` and ``a``, ``b`` each ``{"seed": int}`` or
  ``{"blob": sha256 hex}`` (raw little-endian bytes of the job dtype, C order, n×k and k×m).
- ``inference``: ``model`` (``arch``, ``config``, ``weights`` = seed or safetensors blob),
  ``batch``, ``shard`` (rows per unit) and ``input`` (seed or raw blob: float rows of ``d_in`` for
  the MLP, int64 token ids of length ``seq`` for the transformer).
- ``train``: ``model`` (``arch`` = ``mlp``, ``config``, ``weights``), ``optimizer``
  (``{"name": "sgd", "lr", "momentum"}`` or ``{"name": "adam", "lr", "beta1", "beta2", "eps"}``),
  ``data`` (``seed``, ``batch``), ``steps`` and ``checkpoint_every``.
- ``llm``: a Hugging Face causal LM as data (``model`` = file name → blob), a prompts blob,
  ``sequences``, ``group``, ``max_new_tokens``, ``decoding``, ``top_k``
  (:mod:`node.workloads.jobkinds.llm`).

``specHash = keccak256(canonical_json(spec))`` with sorted keys and no whitespace (ASCII only).

Error handling: anything wrong raises :class:`node.errors.JobSpecError` whose ``field`` is the
dotted path of the offending field (``"matmul.a.blob"``); JSON floats and duplicate keys are
rejected at load time. Nothing here raises a bare ``KeyError``/``TypeError`` on hostile input.
Importing this module does not import torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from node.errors import JobSpecError
from node.workloads import jobkinds
from node.workloads.fields import FLOAT_DTYPES, MAX_DIM, MAX_ROWS, MAX_SEED, JsonFloat, Obj, Source
from node.workloads.jobkinds.inference import ARCHS, InferenceSpec, ModelSpec
from node.workloads.jobkinds.llm import LlmSpec
from node.workloads.jobkinds.matmul import MatmulSpec
from node.workloads.jobkinds.train import MAX_STEPS, OPTIMIZERS, OptimizerSpec, TrainSpec
from verifier.hashing import keccak

__all__ = [
    "ARCHS",
    "DEFAULT_LIMITS",
    "FLOAT_DTYPES",
    "KINDS",
    "MAX_DIM",
    "MAX_LIMIT",
    "MAX_ROWS",
    "MAX_SEED",
    "MAX_SPEC_BYTES",
    "MAX_STEPS",
    "OPTIMIZERS",
    "RECOMMENDED_TOLERANCE",
    "SPEC_VERSION",
    "InferenceSpec",
    "JobSpec",
    "JsonFloat",
    "Limits",
    "LlmSpec",
    "MatmulSpec",
    "ModelSpec",
    "OptimizerSpec",
    "Source",
    "TrainSpec",
    "blob_fields",
    "canonical_json",
    "default_tolerance",
    "load_spec",
    "parse_spec",
    "spec_hash",
    "to_dict",
]

SPEC_VERSION = 1
KINDS = jobkinds.KINDS
MAX_LIMIT = 1 << 62
MAX_SPEC_BYTES = 64 * 1024

Body = MatmulSpec | InferenceSpec | TrainSpec | LlmSpec


@dataclass(frozen=True)
class Limits:
    """What a job may use; the provider enforces the minimum of these and its own caps."""

    max_units: int
    max_bytes: int
    max_seconds: int
    max_memory_bytes: int


@dataclass(frozen=True)
class JobSpec:
    """A validated v1 job spec. Build it with :func:`parse_spec` or :func:`load_spec`."""

    version: int
    kind: str
    dtype: str
    tolerance: str
    limits: Limits
    body: Body

    @property
    def tolerance_value(self) -> Fraction:
        """The tolerance as an exact rational."""
        return Fraction(self.tolerance)


RECOMMENDED_TOLERANCE: dict[str, str] = {
    "float32": "1e-5",
    "float16": "1/512",
    "bfloat16": "1/64",
    "train": "1e-6",
    "llm/float32": "1e-4",
    "llm/bfloat16": "1/8",
    "llm/float16": "1/64",
}
"""Tolerances (on max|Δ|/max|y|) that consumers should put in a spec, per dtype; see README.md.

float32: honest differences from another summation order measured ≤ 1.0e-6 here (shard alone vs
sliced), cheats that use bf16/fp16 or TF32-like inputs ≥ 1e-4. float16 and bfloat16: four units
in the last place of the output's largest value (2^-11·4 and 2^-8·4); honest flips measured ≤ 1 ULP.
train (float32): tighter, because a checkpoint concatenates params with much smaller optimizer
state and one scale normalises all of it; an Adam segment computed under fp16 autocast differs by
only ~1.3e-5 of the checkpoint's scale. llm (``llm/<dtype>``): a logit's distance allowed, in units
of max(1, max|logit|) of its position; see node/workloads/README.md for the measurements.
"""




def default_tolerance(kind: str, dtype: str) -> str:
    """The :data:`RECOMMENDED_TOLERANCE` of a ``kind`` job in ``dtype``."""
    if kind == "train":
        return RECOMMENDED_TOLERANCE["train"]
    return RECOMMENDED_TOLERANCE.get(f"{kind}/{dtype}", RECOMMENDED_TOLERANCE[dtype])


DEFAULT_LIMITS: dict[str, int] = {
    "max_units": 1 << 20,
    "max_bytes": 1 << 40,
    "max_seconds": 24 * 3600,
    "max_memory_bytes": 1 << 40,
}
"""Limits of a spec that names none (``ccm job new``): the provider's own caps still bound every job."""


# --------------------------------------------------------------------------------------- parsing


def parse_spec(obj: Any) -> JobSpec:
    """Validate a decoded JSON object and return the :class:`JobSpec`; :class:`JobSpecError` if invalid."""
    o = Obj(obj, "")
    version = o.get("version")
    if isinstance(version, bool) or version != SPEC_VERSION:
        raise JobSpecError(
            "version", f"unsupported spec version {version!r} (this node reads {SPEC_VERSION})"
        )
    kind = jobkinds.get(o.string("kind", KINDS))
    o.allow("version", "kind", "dtype", "tolerance", "limits", kind.name)
    dtype = o.string("dtype", FLOAT_DTYPES)
    if dtype not in kind.dtypes:
        raise JobSpecError("dtype", f"{kind.name} jobs run in {', '.join(kind.dtypes)} only in spec v1")
    tolerance = o.number("tolerance", lo=Fraction(0), hi=Fraction(1), hi_open=True)
    lo = o.obj("limits")
    lo.allow("max_units", "max_bytes", "max_seconds", "max_memory_bytes")
    limits = Limits(
        max_units=lo.integer("max_units", 1, MAX_LIMIT),
        max_bytes=lo.integer("max_bytes", 1, MAX_LIMIT),
        max_seconds=lo.integer("max_seconds", 1, MAX_LIMIT),
        max_memory_bytes=lo.integer("max_memory_bytes", 1, MAX_LIMIT),
    )
    body = kind.parse(o.obj(kind.name), dtype)
    return JobSpec(
        version=version, kind=kind.name, dtype=dtype, tolerance=tolerance, limits=limits, body=body
    )


def _reject_constant(text: str) -> Any:
    raise JobSpecError("", f"{text} is not allowed in a job spec")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JobSpecError(key, "duplicate key")
        out[key] = value
    return out


def load_spec(data: str | bytes) -> JobSpec:
    """Decode JSON text (floats and duplicate keys rejected) and validate it with :func:`parse_spec`."""
    if len(data) > MAX_SPEC_BYTES:
        raise JobSpecError("", f"spec is {len(data)} bytes, more than {MAX_SPEC_BYTES}")
    try:
        obj = json.loads(
            data,
            parse_float=JsonFloat,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JobSpecError("", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise JobSpecError("", "JSON nested too deeply") from None
    return parse_spec(obj)


# ------------------------------------------------------------------------------ canonical form


def to_dict(spec: JobSpec) -> dict[str, Any]:
    """The JSON object of a spec; ``parse_spec(to_dict(s)) == s`` and it is what gets hashed."""
    return {
        "version": spec.version,
        "kind": spec.kind,
        "dtype": spec.dtype,
        "tolerance": spec.tolerance,
        "limits": vars(spec.limits).copy(),
        spec.kind: jobkinds.get(spec.kind).to_section(spec.body),
    }


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII: the one byte string a JSON object hashes as."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def spec_hash(spec: JobSpec) -> bytes:
    """``keccak256(canonical_json(to_dict(spec)))``: the 32-byte ``specHash`` posted on chain."""
    return keccak(canonical_json(to_dict(spec)))


def blob_fields(spec: JobSpec) -> dict[str, str]:
    """Every blob the spec names, as ``{dotted field: sha256 hex}`` (for fetching and error messages)."""
    return jobkinds.get(spec.kind).blob_fields(spec.body)


def unit_count(spec: JobSpec) -> int:
    """Units of ``spec`` from its fields alone (no tensors built): what the price is multiplied by."""
    return jobkinds.get(spec.kind).unit_count(spec.body)


def needs_prev(spec: JobSpec) -> bool:
    """Whether a unit of ``spec`` starts from the previous unit's output (``train``)."""
    return jobkinds.get(spec.kind).needs_prev
