"""Jobs and their execution: spec v1, the three kinds, the runner, verifier-side recompute, cheats.

Public API::

    load_spec(text) / parse_spec(obj) -> JobSpec        validate (JobSpecError naming the field)
    spec_hash(spec) -> bytes32, canonical_json(obj)      the on-chain specHash
    compute_unit(spec, i, *, device, blobs, prev=None)   one unit, as a verifier recomputes it
    run_job(spec, *, device, blobs, caps, progress)      all units + Merkle root -> JobResult
    audit_job(...)                                       see node.workloads.audit

``node.workloads.cheats`` holds the cheat models used by tests and by the demo's dishonest provider.
"""

from __future__ import annotations

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
from node.workloads.spec import JobSpec, Limits, canonical_json, load_spec, parse_spec, spec_hash, to_dict

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
