"""``scripts/bench verify [--quick]``: provider, commitment, verifier and Freivalds costs, as a table.

Per kind and size: provider compute time, commitment (leaf hashing + tree) as % of compute, the
verifier's time for an audit at 99% detection of a 5% cheat fraction (k from plan_samples) as % of
provider compute, and (matmul) Freivalds vs the matmul. Then the measured detection rate of a
cheating provider vs the exact hypergeometric prediction. Bounded: about a minute with --quick.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.cli._output import table
from node.workloads import device as devices
from node.workloads.runner import prepare, run_job
from node.workloads.spec import parse_spec
from verifier.detection import detection_probability, plan_samples
from verifier.sampling import sample_indices

LIMITS = {"max_units": 1 << 30, "max_bytes": 1 << 40, "max_seconds": 3600, "max_memory_bytes": 1 << 40}


def _spec(kind: str, section: dict, *, dtype: str = "float32", tolerance: str = "1e-5") -> object:
    return parse_spec(
        {"version": 1, "kind": kind, "dtype": dtype, "tolerance": tolerance, "limits": LIMITS, kind: section}
    )


def _cases(quick: bool) -> list[tuple[str, object]]:
    mlp = {"d_in": 64, "d_hidden": 128, "d_out": 64, "layers": 2}
    tr = {"vocab": 256, "d_model": 128, "heads": 4, "layers": 2, "d_ff": 256, "seq": 32}
    scale = 1 if quick else 2
    return [
        (
            "matmul 1 MB units",
            _spec(
                "matmul",
                {
                    "n": 4096 * scale,
                    "k": 1024,
                    "m": 1024,
                    "rows_per_unit": 256,
                    "a": {"seed": 1},
                    "b": {"seed": 2},
                },
            ),
        ),
        (
            "matmul 5000 units",
            _spec(
                "matmul",
                {"n": 5000 * 8, "k": 256, "m": 256, "rows_per_unit": 8, "a": {"seed": 1}, "b": {"seed": 2}},
            ),
        ),
        (
            "mlp 5000 shards",
            _spec(
                "inference",
                {
                    "model": {"arch": "mlp", "config": mlp, "weights": {"seed": 3}},
                    "batch": 5000 * 8,
                    "shard": 8,
                    "input": {"seed": 4},
                },
            ),
        ),
        (
            "transformer 200 shards",
            _spec(
                "inference",
                {
                    "model": {"arch": "transformer", "config": tr, "weights": {"seed": 3}},
                    "batch": 200 * 4,
                    "shard": 4,
                    "input": {"seed": 4},
                },
            ),
        ),
        (
            "train sgd 250 segs",
            _spec(
                "train",
                {
                    "model": {
                        "arch": "mlp",
                        "config": {"d_in": 64, "d_hidden": 128, "d_out": 16, "layers": 2},
                        "weights": {"seed": 5},
                    },
                    "optimizer": {"name": "sgd", "lr": "0.01", "momentum": "0.9"},
                    "data": {"seed": 6, "batch": 32},
                    "steps": 500 * scale,
                    "checkpoint_every": 2 * scale,
                },
                tolerance="1e-6",
            ),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench verify")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, no n=4096 Freivalds")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    dev = devices.pick_device(args.device)
    devices.configure()
    print(f"device: {devices.describe(dev)}  torch {torch.__version__}")
    have_audit = importlib.util.find_spec("verifier.audit") is not None
    if have_audit:
        from node.workloads.audit import audit_job, reveal
    rows = []
    for name, spec in _cases(args.quick):
        work = prepare(spec, device=dev, blobs={})  # type: ignore[arg-type]
        result = run_job(spec, device=dev, blobs={}, workload=work)  # type: ignore[arg-type]
        t = result.timings
        unit_mb = len(result.outputs[0][2]) / 1e6
        plan = plan_samples(n_units=result.n_units, min_cheat_fraction="0.05", confidence="0.99")
        verify = "n/a (no verifier.audit)"
        if have_audit:
            indices = sample_indices(b"\x01" * 32, 1, result.n_units, plan.k)
            revealed = reveal(result.outputs, result.tree, indices, needs_prev=work.needs_prev)
            t0 = time.perf_counter()
            vwork = prepare(spec, device=dev, blobs={})  # type: ignore[arg-type]
            outcome = audit_job(vwork, root=result.root, indices=indices, revealed=revealed)
            v_s = time.perf_counter() - t0
            verify = f"{100 * v_s / t.compute_s:.2f}%" + ("" if outcome.passed else " FAILED")
        rows.append(
            [
                name,
                result.n_units,
                f"{unit_mb:.3f}",
                f"{t.compute_s:.2f}",
                f"{100 * t.hash_s / t.compute_s:.2f}%",
                f"{100 * max(0.0, t.wall_s - t.compute_s) / t.compute_s:.2f}%",
                plan.k,
                verify,
            ]
        )
    print(
        table(
            [
                "job",
                "units",
                "unit MB",
                "provider s",
                "hash % (overlapped)",
                "wall overhead %",
                "k (99%@5%)",
                "verifier %",
            ],
            rows,
        )
    )
    _freivalds(dev, quick=args.quick)
    if have_audit:
        _detection(dev)
    return 0


def _freivalds(dev: torch.device, *, quick: bool) -> None:
    if importlib.util.find_spec("verifier.freivalds") is None:
        print("\nFreivalds: verifier.freivalds not available yet")
        return
    from verifier.freivalds import freivalds

    rows = []
    for n in (1024, 2048) if quick else (1024, 2048, 4096):
        g = torch.Generator().manual_seed(n)
        a = torch.randn(n, n, generator=g).to(dev)
        b = torch.randn(n, n, generator=g).to(dev)
        t0 = time.perf_counter()
        c = a @ b
        mm = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = freivalds(a, b, c)
        fr = time.perf_counter() - t0
        rows.append([n, f"{mm:.3f}", f"{fr:.4f}", f"{100 * fr / mm:.2f}%", getattr(res, "passed", res)])
    print()
    print(table(["n (fp32)", "matmul s", "freivalds s", "freivalds %", "passed"], rows))


def _detection(dev: torch.device) -> None:
    from node.workloads.audit import audit_job, reveal
    from node.workloads.cheats import Cheat, run_dishonest

    spec = _spec(
        "matmul", {"n": 200, "k": 16, "m": 16, "rows_per_unit": 1, "a": {"seed": 1}, "b": {"seed": 2}}
    )
    rows = []
    for cheat in ("corrupt", "zeros", "low_precision", "wrong_root"):
        run = run_dishonest(spec, Cheat(cheat, fraction="0.05", seed=3), device=dev, blobs={})  # type: ignore[arg-type]
        work = prepare(spec, device=dev, blobs={})  # type: ignore[arg-type]
        for k in (10, 30):
            trials, caught = 300, 0
            for trial in range(trials):
                idx = sample_indices(trial.to_bytes(32, "big"), 7, work.n_units, k)
                outcome = audit_job(
                    work,
                    root=run.root,
                    indices=idx,
                    revealed=reveal(run.revealed, run.tree, idx, needs_prev=False),
                )
                caught += not outcome.passed
            p = detection_probability(work.n_units, len(run.cheated), k)
            rows.append(
                [
                    cheat,
                    work.n_units,
                    len(run.cheated),
                    k,
                    trials,
                    f"{caught / trials:.3f}",
                    f"{p:.3f}",
                    f"±{1.96 * math.sqrt(p * (1 - p) / trials):.3f}",
                ]
            )
    print()
    print(table(["cheat", "N", "bad", "k", "trials", "measured", "theory", "95% CI"], rows))


if __name__ == "__main__":
    sys.exit(main())
