"""A job's outputs as the roles keep and check them: unit refs, the manifest file, the root.

Each unit's output bytes are a blob in the node's :class:`~node.blobs.BlobStore`; its SHA-256 is
both the blob's name and the unit's ``dataHash``. The manifest (``<home>/jobs/<job id>.json``)
lists, per unit, the dtype, shape and data hash: with it anyone recomputes the leaves and the root
(:func:`root_of_units`) and compares with the root on chain, before or after fetching the bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from node.errors import WorkloadError
from node.roles.wire import UnitRef
from node.workloads import spec as specs
from node.workloads.spec import JobSpec
from verifier.commitment import MerkleTree, leaf_hash, meta_hash


def unit_count(spec: JobSpec) -> int:
    """Units of ``spec`` from its fields alone (no tensors built): what the price is multiplied by."""
    return specs.unit_count(spec)


def unit_leaves(units: Sequence[UnitRef]) -> list[bytes]:
    """The v1 leaves of ``units`` (index bound into each)."""
    return [leaf_hash(i, meta_hash(u.dtype, u.shape), u.data_hash) for i, u in enumerate(units)]


def root_of_units(units: Sequence[UnitRef]) -> bytes:
    """The Merkle root over ``units`` (raises :class:`WorkloadError` for an empty list)."""
    if not units:
        raise WorkloadError("no units")
    return MerkleTree(unit_leaves(units)).root


def manifest_path(home: Path, job_id: int) -> Path:
    return home / "jobs" / f"{job_id}.json"


def save_manifest(home: Path, job_id: int, root: bytes, units: Sequence[UnitRef]) -> Path:
    """Write the manifest atomically (fsynced: the provider's commit on chain depends on it)."""
    path = manifest_path(home, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "job_id": job_id,
        "root": "0x" + root.hex(),
        "units": [{"dtype": u.dtype, "shape": list(u.shape), "data_hash": u.data_hash.hex()} for u in units],
    }
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_manifest(home: Path, job_id: int) -> tuple[bytes, tuple[UnitRef, ...]] | None:
    """``(root, units)`` of a saved manifest, or ``None`` when there is none (or it is unreadable)."""
    try:
        doc = json.loads(manifest_path(home, job_id).read_text(encoding="utf-8"))
        units = tuple(
            UnitRef(dtype=u["dtype"], shape=tuple(u["shape"]), data_hash=bytes.fromhex(u["data_hash"]))
            for u in doc["units"]
        )
        return bytes.fromhex(doc["root"][2:]), units
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
