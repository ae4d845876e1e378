"""Jobs and their execution: spec v1, the kind registry, the runner, verifier-side recompute, cheats.

Public API::

    load_spec(text) / parse_spec(obj) -> JobSpec        validate (JobSpecError naming the field)
    spec_hash(spec) -> bytes32, canonical_json(obj)      the on-chain specHash
    compute_unit(spec, i, *, device, blobs, prev=None)   one unit, as a verifier recomputes it
    run_job(spec, *, device, blobs, caps, progress)      all units + Merkle root -> JobResult
    audit_job(...)                                       see node.workloads.audit

Each job kind is one module of ``node.workloads.jobkinds`` (the registry). ``node.workloads.cheats``
holds the cheat models used by tests and by the demo's dishonest provider.

Importing this package (or ``node.workloads.spec``) does not import torch: the names that need it
(the runner's) are loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from node.workloads.spec import JobSpec, Limits, canonical_json, load_spec, parse_spec, spec_hash, to_dict

if TYPE_CHECKING:
    from node.workloads.runner import (
        EffectiveLimits,
        JobResult,
        ProviderCaps,
        Timings,
        compute_unit,
        effective_limits,
        prepare,
        run_job,
    )

_RUNNER = frozenset(
    {
        "EffectiveLimits",
        "JobResult",
        "ProviderCaps",
        "Timings",
        "compute_unit",
        "effective_limits",
        "prepare",
        "run_job",
    }
)


def __getattr__(name: str) -> Any:
    if name in _RUNNER:
        return getattr(importlib.import_module("node.workloads.runner"), name)
    raise AttributeError(f"module 'node.workloads' has no attribute {name!r}")


__all__ = [
    "EffectiveLimits",
    "JobResult",
    "JobSpec",
    "Limits",
    "ProviderCaps",
    "Timings",
    "canonical_json",
    "compute_unit",
    "effective_limits",
    "load_spec",
    "parse_spec",
    "prepare",
    "run_job",
    "spec_hash",
    "to_dict",
]
