"""The kind registry: every job kind is one module here, and everything else asks the registry.

A :class:`Kind` supplies its spec section's parsing (:meth:`Kind.parse`) and canonical form
(:meth:`Kind.to_section`), the blobs it names, its unit count and :class:`Footprint` (sizes, working
memory and arithmetic, from the spec alone: no tensor is built, so limits are held before anything
is allocated),
whether a unit needs the previous one (``train``), its workload (compute a unit, recompute one for an
audit; built by :meth:`Kind.workload`, which imports torch only when called) and its cheat models
(names, and the function that computes a cheated unit). The spec layer
(:mod:`node.workloads.spec`), the runner, the roles (unit counting, what to reveal), the cheats and
the demo specs look a kind up here; adding a kind is adding a module and one line in
:data:`_MODULES`.

Importing this package (and :mod:`node.workloads.spec`) does not import torch.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from node.errors import JobSpecError
from node.workloads.fields import FLOAT_DTYPES, Obj

if TYPE_CHECKING:  # torch-side types, only for annotations
    import torch

    from node.workloads.cheats import Cheat
    from node.workloads.kinds import Workload
    from node.workloads.spec import JobSpec

CheatUnit = Callable[["Cheat", "Workload", int, "torch.Tensor | None"], "torch.Tensor"]
NewSection = Callable[[argparse.Namespace], tuple[dict[str, Any], dict[str, bytes]]]
"""``ccm job new``: parsed arguments → (the kind's spec section, its blobs as ``{sha256 hex: bytes}``)."""

ITEMSIZE: Mapping[str, int] = MappingProxyType(
    {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8, "int32": 4, "int64": 8, "int8": 1, "uint8": 1}
)
"""Bytes per element of every dtype a unit may carry (``verifier.tensorbytes.DTYPES``, which needs
torch; a job's own dtype is one of the first three, ``node.workloads.fields.FLOAT_DTYPES``)."""


@dataclass(frozen=True)
class Footprint:
    """What a job needs, computed from its spec alone (no tensor built).

    ``input_bytes`` / ``unit_memory_bytes`` are ``None`` where they are known only once the inputs
    are read (``llm``: its prompts' token count and its model's config); ``unit_flops`` is the
    arithmetic of the largest unit (2 per multiply-add, the usual rough count), for time estimates.
    """

    n_units: int
    output_bytes: int
    input_bytes: int | None
    unit_memory_bytes: int | None
    unit_flops: int

    @property
    def flops(self) -> int:
        """All units' arithmetic (an upper bound: every unit counted as the largest)."""
        return self.n_units * self.unit_flops


@dataclass(frozen=True)
class Kind:
    """One job kind. ``section`` is the body dataclass; ``workload_ref`` / ``cheat_ref`` are
    ``"module:attr"`` names imported on first use (they need torch, the spec layer must not)."""

    name: str
    section: type
    parse_section: Callable[[Obj, str], Any]
    section_dict: Callable[[Any], dict[str, Any]]
    blob_fields: Callable[[Any], dict[str, str]]
    unit_count: Callable[[Any], int]
    footprint_of: Callable[[Any, str, Mapping[str, int]], Footprint]
    workload_ref: str
    cheats: tuple[str, ...]
    add_new_arguments: Callable[[argparse.ArgumentParser], None]
    new_section: NewSection
    cheat_ref: str = "node.workloads.cheats:generic_cheat_unit"
    needs_prev: bool = False
    dtypes: tuple[str, ...] = FLOAT_DTYPES

    def parse(self, o: Obj, dtype: str) -> Any:
        """The section's body, validated (``dtype`` is the spec's, already checked against :attr:`dtypes`)."""
        return self.parse_section(o, dtype)

    def to_section(self, body: Any) -> dict[str, Any]:
        """The canonical JSON object of the section: ``parse(to_section(b)) == b``."""
        return self.section_dict(body)

    def footprint(self, body: Any, dtype: str, blob_sizes: Mapping[str, int] | None = None) -> Footprint:
        """The :class:`Footprint` of a section ``body`` in ``dtype``; ``blob_sizes`` (bytes by digest) are
        the input blobs already held, for kinds whose sizes follow from them."""
        return self.footprint_of(body, dtype, blob_sizes or {})

    def workload(self, spec: JobSpec, device: torch.device, blobs: Mapping[str, bytes]) -> Workload:
        """The prepared :class:`~node.workloads.kinds.Workload` of ``spec`` on ``device`` (imports torch)."""
        factory = _resolve(self.workload_ref)
        work: Workload = factory(spec, device, blobs)
        return work

    def cheat_unit(self) -> CheatUnit:
        """The function that computes a cheated unit of this kind (see :mod:`node.workloads.cheats`)."""
        fn: CheatUnit = _resolve(self.cheat_ref)
        return fn


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


_MODULES = ("matmul", "inference", "train", "llm")


def _load() -> dict[str, Kind]:
    out: dict[str, Kind] = {}
    for name in _MODULES:
        kind: Kind = importlib.import_module(f"node.workloads.jobkinds.{name}").KIND
        assert kind.name == name
        out[name] = kind
    return out


REGISTRY: Mapping[str, Kind] = MappingProxyType(_load())
"""Every kind this node knows, by name (in :data:`_MODULES` order)."""

KINDS: tuple[str, ...] = tuple(REGISTRY)


def get(name: str, field: str = "kind") -> Kind:
    """The :class:`Kind` called ``name``; :class:`JobSpecError` naming ``field`` if there is none."""
    kind = REGISTRY.get(name)
    if kind is None:
        raise JobSpecError(field, f"unknown value {name!r} (expected one of {', '.join(KINDS)})")
    return kind
