"""Job spec v1: parsing, validation, canonical JSON and the on-chain ``specHash``.

A job is data, never code. A spec is a JSON object with exactly these top-level fields::

    {"version": 1, "kind": "matmul" | "inference" | "train",
     "dtype": "float32" | "bfloat16" | "float16",
     "tolerance": "1e-5" | "1/100000",            decimal string or rational, 0 <= t < 1
     "limits": {"max_units", "max_bytes", "max_seconds", "max_memory_bytes"},   positive integers
     "<kind>": {...}}                              one section, named after the kind

Every field is required (so a valid spec re-serialises to itself and there is one byte string per
job). Numbers are integers; real-valued hyper-parameters (tolerance, learning rate, betas) are
decimal strings or rationals, because a float's JSON spelling is not canonical. Sections:

- ``matmul``: ``n, k, m, rows_per_unit`` and ``a``, ``b`` each ``{"seed": int}`` or
  ``{"blob": sha256 hex}`` (raw little-endian bytes of the job dtype, C order, n×k and k×m).
- ``inference``: ``model`` (``arch``, ``config``, ``weights`` = seed or safetensors blob),
  ``batch``, ``shard`` (rows per unit) and ``input`` (seed or raw blob: float rows of ``d_in`` for
  the MLP, int64 token ids of length ``seq`` for the transformer).
- ``train``: ``model`` (``arch`` = ``mlp``, ``config``, ``weights``), ``optimizer``
  (``{"name": "sgd", "lr", "momentum"}`` or ``{"name": "adam", "lr", "beta1", "beta2", "eps"}``),
  ``data`` (``seed``, ``batch``), ``steps`` and ``checkpoint_every``.

``specHash = keccak256(canonical_json(spec))`` with sorted keys and no whitespace (ASCII only).

Error handling: anything wrong raises :class:`node.errors.JobSpecError` whose ``field`` is the
dotted path of the offending field (``"matmul.a.blob"``); JSON floats and duplicate keys are
rejected at load time. Nothing here raises a bare ``KeyError``/``TypeError`` on hostile input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from node.errors import JobSpecError
from verifier.commitment import keccak

SPEC_VERSION = 1
KINDS = ("matmul", "inference", "train")
FLOAT_DTYPES = ("float32", "bfloat16", "float16")
ARCHS = ("mlp", "transformer")
OPTIMIZERS = ("sgd", "adam")

MAX_DIM = 1 << 16
MAX_ROWS = 1 << 24
MAX_SEED = (1 << 64) - 1
MAX_LIMIT = 1 << 62
MAX_STEPS = 1 << 20
MAX_SPEC_BYTES = 64 * 1024

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?")
_RATIONAL = re.compile(r"(0|[1-9][0-9]*)/[1-9][0-9]*")

_MLP_FIELDS = ("d_in", "d_hidden", "d_out", "layers")
_TRANSFORMER_FIELDS = ("vocab", "d_model", "heads", "layers", "d_ff", "seq")


@dataclass(frozen=True)
class Limits:
    """What a job may use; the provider enforces the minimum of these and its own caps."""

    max_units: int
    max_bytes: int
    max_seconds: int
    max_memory_bytes: int


@dataclass(frozen=True)
class Source:
    """Where a tensor comes from: a seed (generated, see :mod:`node.workloads.rng`) or a blob digest."""

    seed: int | None = None
    blob: str | None = None


@dataclass(frozen=True)
class MatmulSpec:
    """C = A·B with A n×k and B k×m; unit i is rows ``[i·r, min((i+1)·r, n))`` of C."""

    n: int
    k: int
    m: int
    rows_per_unit: int
    a: Source
    b: Source


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


@dataclass(frozen=True)
class JobSpec:
    """A validated v1 job spec. Build it with :func:`parse_spec` or :func:`load_spec`."""

    version: int
    kind: str
    dtype: str
    tolerance: str
    limits: Limits
    body: MatmulSpec | InferenceSpec | TrainSpec

    @property
    def tolerance_value(self) -> Fraction:
        """The tolerance as an exact rational."""
        return Fraction(self.tolerance)


RECOMMENDED_TOLERANCE: dict[str, str] = {
    "float32": "1e-5",
    "float16": "1/512",
    "bfloat16": "1/64",
    "train": "1e-6",
}
"""Tolerances (on max|Δ|/max|y|) that consumers should put in a spec, per dtype; see README.md.

float32: honest differences from another summation order measured ≤ 1.0e-6 here (shard alone vs
sliced), cheats that use bf16/fp16 or TF32-like inputs ≥ 1e-4. float16 and bfloat16: four units
in the last place of the output's largest value (2^-11·4 and 2^-8·4); honest flips measured ≤ 1 ULP.
train (float32): tighter, because a checkpoint concatenates params with much smaller optimizer
state and one scale normalises all of it; an Adam segment computed under fp16 autocast differs by
only ~1.3e-5 of the checkpoint's scale.
"""


# --------------------------------------------------------------------------------------- parsing


class _Obj:
    """A JSON object under validation, remembering its dotted path for error messages."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise JobSpecError(path, f"expected an object, got {_typename(value)}")
        self.value = value
        self.path = path

    def sub(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def allow(self, *names: str) -> None:
        for key in self.value:
            if key not in names:
                raise JobSpecError(self.sub(str(key)), "unknown field")

    def get(self, name: str) -> Any:
        if name not in self.value:
            raise JobSpecError(self.sub(name), "missing field")
        return self.value[name]

    def integer(self, name: str, lo: int, hi: int) -> int:
        v = self.get(name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise JobSpecError(self.sub(name), f"expected an integer, got {_typename(v)}")
        if not lo <= v <= hi:
            raise JobSpecError(self.sub(name), f"{v} is out of range [{lo}, {hi}]")
        return v

    def string(self, name: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(name)
        if not isinstance(v, str) or isinstance(v, JsonFloat):
            raise JobSpecError(self.sub(name), f"expected a string, got {_typename(v)}")
        if choices is not None and v not in choices:
            raise JobSpecError(self.sub(name), f"unknown value {v!r} (expected one of {', '.join(choices)})")
        return v

    def number(self, name: str, *, lo: Fraction, hi: Fraction, hi_open: bool) -> str:
        """A decimal string or rational ``p/q`` in ``[lo, hi]`` (``[lo, hi)`` if ``hi_open``)."""
        v = self.string(name)
        if not (_DECIMAL.fullmatch(v) or _RATIONAL.fullmatch(v)):
            raise JobSpecError(self.sub(name), f"{v!r} is not a decimal string or a rational p/q")
        x = Fraction(v)
        if x < lo or x > hi or (hi_open and x == hi):
            bracket = ")" if hi_open else "]"
            raise JobSpecError(self.sub(name), f"{v} is out of range [{lo}, {hi}{bracket}")
        return v

    def obj(self, name: str) -> _Obj:
        return _Obj(self.get(name), self.sub(name))


def _typename(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, JsonFloat):
        return f"a float ({v}; use an integer or a decimal string)"
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list"}.get(
        type(v), type(v).__name__
    )


def _source(o: _Obj) -> Source:
    if "seed" in o.value and "blob" in o.value:
        raise JobSpecError(o.path, "give either seed or blob, not both")
    if "blob" in o.value:
        o.allow("blob")
        blob = o.string("blob")
        if not _HEX64.fullmatch(blob):
            raise JobSpecError(o.sub("blob"), "expected a SHA-256 digest as 64 lowercase hex characters")
        return Source(blob=blob)
    o.allow("seed")
    return Source(seed=o.integer("seed", 0, MAX_SEED))


def _model(o: _Obj, *, archs: tuple[str, ...]) -> ModelSpec:
    o.allow("arch", "config", "weights")
    arch = o.string("arch", archs)
    c = o.obj("config")
    names = _MLP_FIELDS if arch == "mlp" else _TRANSFORMER_FIELDS
    c.allow(*names)
    cfg = {name: c.integer(name, 1, 64 if name in ("layers", "heads") else MAX_DIM) for name in names}
    if arch == "transformer" and cfg["d_model"] % cfg["heads"]:
        raise JobSpecError(c.sub("heads"), f"must divide d_model ({cfg['d_model']})")
    return ModelSpec(arch=arch, config=tuple(sorted(cfg.items())), weights=_source(o.obj("weights")))


def _matmul(o: _Obj) -> MatmulSpec:
    o.allow("n", "k", "m", "rows_per_unit", "a", "b")
    n = o.integer("n", 1, MAX_ROWS)
    return MatmulSpec(
        n=n,
        k=o.integer("k", 1, MAX_DIM),
        m=o.integer("m", 1, MAX_DIM),
        rows_per_unit=o.integer("rows_per_unit", 1, n),
        a=_source(o.obj("a")),
        b=_source(o.obj("b")),
    )


def _inference(o: _Obj) -> InferenceSpec:
    o.allow("model", "batch", "shard", "input")
    batch = o.integer("batch", 1, 1 << 24)
    return InferenceSpec(
        model=_model(o.obj("model"), archs=ARCHS),
        batch=batch,
        shard=o.integer("shard", 1, batch),
        input=_source(o.obj("input")),
    )


def _optimizer(o: _Obj) -> OptimizerSpec:
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


def _train(o: _Obj) -> TrainSpec:
    o.allow("model", "optimizer", "data", "steps", "checkpoint_every")
    d = o.obj("data")
    d.allow("seed", "batch")
    steps = o.integer("steps", 1, MAX_STEPS)
    return TrainSpec(
        model=_model(o.obj("model"), archs=("mlp",)),
        optimizer=_optimizer(o.obj("optimizer")),
        data_seed=d.integer("seed", 0, MAX_SEED),
        data_batch=d.integer("batch", 1, 1 << 16),
        steps=steps,
        checkpoint_every=o.integer("checkpoint_every", 1, steps),
    )


def parse_spec(obj: Any) -> JobSpec:
    """Validate a decoded JSON object and return the :class:`JobSpec`; :class:`JobSpecError` if invalid."""
    o = _Obj(obj, "")
    version = o.get("version")
    if isinstance(version, bool) or version != SPEC_VERSION:
        raise JobSpecError(
            "version", f"unsupported spec version {version!r} (this node reads {SPEC_VERSION})"
        )
    kind = o.string("kind", KINDS)
    o.allow("version", "kind", "dtype", "tolerance", "limits", kind)
    dtype = o.string("dtype", FLOAT_DTYPES)
    if kind == "train" and dtype != "float32":
        raise JobSpecError("dtype", "train jobs run in float32 only in spec v1")
    tolerance = o.number("tolerance", lo=Fraction(0), hi=Fraction(1), hi_open=True)
    lo = o.obj("limits")
    lo.allow("max_units", "max_bytes", "max_seconds", "max_memory_bytes")
    limits = Limits(
        max_units=lo.integer("max_units", 1, MAX_LIMIT),
        max_bytes=lo.integer("max_bytes", 1, MAX_LIMIT),
        max_seconds=lo.integer("max_seconds", 1, MAX_LIMIT),
        max_memory_bytes=lo.integer("max_memory_bytes", 1, MAX_LIMIT),
    )
    section = o.obj(kind)
    body: MatmulSpec | InferenceSpec | TrainSpec
    if kind == "matmul":
        body = _matmul(section)
    elif kind == "inference":
        body = _inference(section)
    else:
        body = _train(section)
    return JobSpec(version=version, kind=kind, dtype=dtype, tolerance=tolerance, limits=limits, body=body)


class JsonFloat(str):
    """A JSON float kept as its text, so that validation can name the field it sits in and reject it."""


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


def _source_dict(s: Source) -> dict[str, Any]:
    return {"blob": s.blob} if s.blob is not None else {"seed": s.seed}


def _model_dict(m: ModelSpec) -> dict[str, Any]:
    return {"arch": m.arch, "config": dict(m.config), "weights": _source_dict(m.weights)}


def to_dict(spec: JobSpec) -> dict[str, Any]:
    """The JSON object of a spec; ``parse_spec(to_dict(s)) == s`` and it is what gets hashed."""
    b = spec.body
    section: dict[str, Any]
    if isinstance(b, MatmulSpec):
        section = {
            "n": b.n,
            "k": b.k,
            "m": b.m,
            "rows_per_unit": b.rows_per_unit,
            "a": _source_dict(b.a),
            "b": _source_dict(b.b),
        }
    elif isinstance(b, InferenceSpec):
        section = {
            "model": _model_dict(b.model),
            "batch": b.batch,
            "shard": b.shard,
            "input": _source_dict(b.input),
        }
    else:
        opt = {k: v for k, v in vars(b.optimizer).items() if v is not None}
        section = {
            "model": _model_dict(b.model),
            "optimizer": opt,
            "data": {"seed": b.data_seed, "batch": b.data_batch},
            "steps": b.steps,
            "checkpoint_every": b.checkpoint_every,
        }
    return {
        "version": spec.version,
        "kind": spec.kind,
        "dtype": spec.dtype,
        "tolerance": spec.tolerance,
        "limits": vars(spec.limits).copy(),
        spec.kind: section,
    }


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII: the one byte string a JSON object hashes as."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def spec_hash(spec: JobSpec) -> bytes:
    """``keccak256(canonical_json(to_dict(spec)))``: the 32-byte ``specHash`` posted on chain."""
    return keccak(canonical_json(to_dict(spec)))


def blob_fields(spec: JobSpec) -> dict[str, str]:
    """Every blob the spec names, as ``{dotted field: sha256 hex}`` (for fetching and error messages)."""
    out: dict[str, str] = {}
    b = spec.body
    if isinstance(b, MatmulSpec):
        pairs = [("matmul.a", b.a), ("matmul.b", b.b)]
    elif isinstance(b, InferenceSpec):
        pairs = [("inference.model.weights", b.model.weights), ("inference.input", b.input)]
    else:
        pairs = [("train.model.weights", b.model.weights)]
    for path, src in pairs:
        if src.blob is not None:
            out[f"{path}.blob"] = src.blob
    return out
