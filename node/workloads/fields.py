"""Field parsing shared by the spec layer and every kind's section (no torch here).

:class:`Obj` is a JSON object under validation that remembers its dotted path, so that every error
names the offending field (:class:`node.errors.JobSpecError`); :class:`Source` is a seed or a blob
digest. Kinds parse their sections with these (see :mod:`node.workloads.jobkinds`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from node.errors import JobSpecError

FLOAT_DTYPES = ("float32", "bfloat16", "float16")

MAX_DIM = 1 << 16
MAX_ROWS = 1 << 24
MAX_SEED = (1 << 64) - 1

HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?")
_RATIONAL = re.compile(r"(0|[1-9][0-9]*)/[1-9][0-9]*")


class JsonFloat(str):
    """A JSON float kept as its text, so that validation can name the field it sits in and reject it."""


@dataclass(frozen=True)
class Source:
    """Where a tensor comes from: a seed (generated, see :mod:`node.workloads.rng`) or a blob digest."""

    seed: int | None = None
    blob: str | None = None


class Obj:
    """A JSON object under validation, remembering its dotted path for error messages."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise JobSpecError(path, f"expected an object, got {typename(value)}")
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
            raise JobSpecError(self.sub(name), f"expected an integer, got {typename(v)}")
        if not lo <= v <= hi:
            raise JobSpecError(self.sub(name), f"{v} is out of range [{lo}, {hi}]")
        return v

    def string(self, name: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(name)
        if not isinstance(v, str) or isinstance(v, JsonFloat):
            raise JobSpecError(self.sub(name), f"expected a string, got {typename(v)}")
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

    def digest(self, name: str) -> str:
        """A SHA-256 digest as 64 lowercase hex characters."""
        v = self.string(name)
        if not HEX64.fullmatch(v):
            raise JobSpecError(self.sub(name), "expected a SHA-256 digest as 64 lowercase hex characters")
        return v

    def obj(self, name: str) -> Obj:
        return Obj(self.get(name), self.sub(name))


def typename(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, JsonFloat):
        return f"a float ({v}; use an integer or a decimal string)"
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list"}.get(
        type(v), type(v).__name__
    )


def source(o: Obj) -> Source:
    """A ``{"seed": int}`` or ``{"blob": sha256 hex}`` object."""
    if "seed" in o.value and "blob" in o.value:
        raise JobSpecError(o.path, "give either seed or blob, not both")
    if "blob" in o.value:
        o.allow("blob")
        return Source(blob=o.digest("blob"))
    o.allow("seed")
    return Source(seed=o.integer("seed", 0, MAX_SEED))


def source_dict(s: Source) -> dict[str, Any]:
    """The canonical JSON of a :class:`Source`."""
    return {"blob": s.blob} if s.blob is not None else {"seed": s.seed}


def blob_pairs(pairs: list[tuple[str, Source]]) -> dict[str, str]:
    """``{"<path>.blob": digest}`` for the sources that are blobs."""
    return {f"{path}.blob": src.blob for path, src in pairs if src.blob is not None}
