"""Running jobs: limits, one unit at a time, hashing overlapped with compute, the Merkle root.

``run_job`` is what a provider calls; ``compute_unit`` is the same computation for one unit (what
a verifier recomputes). Both go through :func:`prepare`, which validates blobs and applies the
deterministic settings of :mod:`node.workloads.device`.

Limits: a spec's limits, lowered by the provider's :class:`ProviderCaps`, are checked before
anything is built where they can be predicted from the spec (:func:`check_footprint`: units, bytes
of inputs + outputs, estimated working memory of one unit, from the kind's
:class:`~node.workloads.jobkinds.Footprint`), again once the workload is built for what only its
inputs tell (an ``llm`` job's prompts and model), and while running where they cannot (wall
seconds, checked after each unit; on CUDA the measured peak allocation). A unit is never
interrupted mid-call, so the time limit is enforced at unit granularity. Breaking a limit raises
:class:`WorkloadError`.

Hashing: each unit's output is copied to host bytes and its leaf (SHA-256 + keccak) is computed in
a worker thread while the next unit runs (hashlib releases the GIL), then the tree is built with
:class:`verifier.commitment.MerkleTree`; the root equals ``commit_outputs(outputs)[0].root``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

from node.errors import JobSpecError, WorkloadError
from node.workloads import device as devices
from node.workloads import jobkinds
from node.workloads.kinds import Workload, make_workload
from node.workloads.spec import JobSpec, Limits, blob_fields, spec_hash
from verifier.commitment import MerkleTree, unit_leaf
from verifier.tensorbytes import tensor_to_bytes

Output = tuple[str, tuple[int, ...], bytes]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ProviderCaps:
    """The provider's own ceilings; ``None`` means "whatever the spec says". Seconds may be fractional."""

    max_units: int | None = None
    max_bytes: int | None = None
    max_seconds: float | None = None
    max_memory_bytes: int | None = None


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits a run is held to: the minimum of the spec's and the provider's."""

    max_units: int
    max_bytes: int
    max_seconds: float
    max_memory_bytes: int


def effective_limits(limits: Limits, caps: ProviderCaps | None = None) -> EffectiveLimits:
    """Combine spec limits with provider caps (each the smaller of the two)."""
    caps = caps or ProviderCaps()

    def low(a: float, b: float | None) -> float:
        return a if b is None else min(a, b)

    return EffectiveLimits(
        max_units=int(low(limits.max_units, caps.max_units)),
        max_bytes=int(low(limits.max_bytes, caps.max_bytes)),
        max_seconds=float(low(limits.max_seconds, caps.max_seconds)),
        max_memory_bytes=int(low(limits.max_memory_bytes, caps.max_memory_bytes)),
    )


@dataclass(frozen=True)
class Timings:
    """Seconds spent: unit compute (incl. copy to host), leaf hashing (in the worker), tree, whole run."""

    compute_s: float
    hash_s: float
    tree_s: float
    wall_s: float


@dataclass(frozen=True)
class JobResult:
    """A finished job: every unit's output bytes, the Merkle tree over them and its root."""

    spec_hash: bytes
    n_units: int
    outputs: tuple[Output, ...]
    tree: MerkleTree = field(repr=False)
    root: bytes
    timings: Timings
    device: str


def prepare(spec: JobSpec, *, device: str | torch.device = "auto", blobs: Mapping[str, bytes]) -> Workload:
    """Check blobs, apply deterministic settings and build the spec's :class:`Workload` on ``device``."""
    for fname, digest in blob_fields(spec).items():
        if digest not in blobs:
            raise JobSpecError(fname, f"blob {digest} was not provided")
    devices.configure()
    return make_workload(spec, devices.pick_device(device), blobs)


def spec_footprint(spec: JobSpec, blobs: Mapping[str, bytes] | None = None) -> jobkinds.Footprint:
    """The spec's footprint, from the spec alone (and the sizes of the ``blobs`` held, if any)."""
    sizes = {digest: len(data) for digest, data in (blobs or {}).items()}
    return jobkinds.get(spec.kind).footprint(spec.body, spec.dtype, sizes)


def check_footprint(fp: jobkinds.Footprint, limits: EffectiveLimits) -> None:
    """Hold a footprint's known figures against ``limits`` (nothing is built); :class:`WorkloadError`
    naming the first one exceeded. Unknown figures (``None``) wait for :func:`check_limits`."""
    if fp.n_units > limits.max_units:
        raise WorkloadError(f"job has {fp.n_units} units, limit is {limits.max_units}")
    total = (fp.input_bytes or 0) + fp.output_bytes
    if total > limits.max_bytes:
        raise WorkloadError(f"job needs {total} bytes of inputs and outputs, limit is {limits.max_bytes}")
    mem = fp.unit_memory_bytes
    if mem is not None and mem > limits.max_memory_bytes:
        raise WorkloadError(
            f"a unit needs about {mem} bytes of working memory, limit is {limits.max_memory_bytes}"
        )


def check_limits(work: Workload, limits: EffectiveLimits) -> None:
    """The limits of a built workload (all its figures known); :class:`WorkloadError` if one is exceeded."""
    check_footprint(
        jobkinds.Footprint(
            n_units=work.n_units,
            output_bytes=work.output_bytes(),
            input_bytes=work.input_bytes(),
            unit_memory_bytes=work.unit_memory_bytes(),
            unit_flops=0,
        ),
        limits,
    )


def compute_unit(
    spec: JobSpec,
    index: int,
    *,
    device: str | torch.device = "auto",
    blobs: Mapping[str, bytes],
    prev: torch.Tensor | None = None,
) -> torch.Tensor:
    """Unit ``index`` of ``spec`` as one call of its fixed shape (``prev``: previous checkpoint for train)."""
    return prepare(spec, device=device, blobs=blobs).compute(index, prev)


def _timed_leaf(index: int, out: Output) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    leaf = unit_leaf(index, *out)
    return leaf, time.perf_counter() - t0


def run_job(
    spec: JobSpec,
    *,
    device: str | torch.device = "auto",
    blobs: Mapping[str, bytes],
    caps: ProviderCaps | None = None,
    progress: Progress | None = None,
    workload: Workload | None = None,
) -> JobResult:
    """Compute every unit in order, commit to the outputs and return the :class:`JobResult`.

    ``progress(done, total)`` is called after each unit. ``workload`` reuses a prepared workload
    (the caller vouches that it was made from ``spec``).
    """
    t_start = time.perf_counter()
    limits = effective_limits(spec.limits, caps)
    if workload is None:
        check_footprint(spec_footprint(spec, blobs), limits)  # before anything is allocated
    work = workload if workload is not None else prepare(spec, device=device, blobs=blobs)
    check_limits(work, limits)
    on_cuda = work.device.type == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(work.device)
    outputs: list[Output] = []
    futures: list[Future[tuple[bytes, float]]] = []
    compute_s = 0.0
    prev: torch.Tensor | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccm-hash") as pool:
        for i in range(work.n_units):
            t0 = time.perf_counter()
            y = work.compute(i, prev)
            out = tensor_to_bytes(y)  # copies to host: synchronises a CUDA stream
            compute_s += time.perf_counter() - t0
            if work.needs_prev:
                prev = y
            outputs.append(out)
            futures.append(pool.submit(_timed_leaf, i, out))
            elapsed = time.perf_counter() - t_start
            if elapsed > limits.max_seconds:
                done = f"{i + 1} of {work.n_units} units"
                raise WorkloadError(f"job exceeded its time limit of {limits.max_seconds:g} s after {done}")
            if on_cuda:
                peak = torch.cuda.max_memory_allocated(work.device)
                if peak > limits.max_memory_bytes:
                    raise WorkloadError(
                        f"job used {peak} bytes of GPU memory, limit is {limits.max_memory_bytes}"
                    )
            if progress is not None:
                progress(i + 1, work.n_units)
        leaves_and_times = [f.result() for f in futures]
    t_tree = time.perf_counter()
    tree = MerkleTree([leaf for leaf, _ in leaves_and_times])
    tree_s = time.perf_counter() - t_tree
    return JobResult(
        spec_hash=spec_hash(spec),
        n_units=work.n_units,
        outputs=tuple(outputs),
        tree=tree,
        root=tree.root,
        timings=Timings(
            compute_s=compute_s,
            hash_s=sum(t for _, t in leaves_and_times),
            tree_s=tree_s,
            wall_s=time.perf_counter() - t_start,
        ),
        device=devices.describe(work.device),
    )
