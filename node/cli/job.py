"""``ccm job …``: validate, hash and run job specs locally.

- ``ccm job validate SPEC.json``: check the spec against the v1 schema (one line naming the bad field).
- ``ccm job hash SPEC.json``: print the keccak256 ``specHash`` of its canonical JSON.
- ``ccm job run SPEC.json --local [--device auto|cpu|cuda] [--blob FILE …] [--json]``: run every unit
  here and print the Merkle root, unit count and timings; progress goes to stderr.

Blobs named by the spec are given as files (``--blob path``); each is keyed by its SHA-256, so a file
whose bytes do not match the digest in the spec is reported as a missing blob for that field.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

from node.cli._output import emit_json, table
from node.errors import ConfigError, JobSpecError
from node.workloads.runner import run_job
from node.workloads.spec import JobSpec, load_spec, spec_hash


def _read_spec(path: Path) -> JobSpec:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read spec {path}: {exc.strerror or exc}") from None
    return load_spec(data)


def _cmd_validate(args: argparse.Namespace) -> int:
    spec = _read_spec(args.spec)
    if args.json:
        emit_json({"valid": True, "kind": spec.kind, "spec_hash": "0x" + spec_hash(spec).hex()})
    else:
        print(f"valid {spec.kind} job spec (v{spec.version})")
    return 0


def _cmd_hash(args: argparse.Namespace) -> int:
    digest = "0x" + spec_hash(_read_spec(args.spec)).hex()
    if args.json:
        emit_json({"spec_hash": digest})
    else:
        print(digest)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if not args.local:
        raise JobSpecError("", "only local runs exist so far: pass --local")
    spec = _read_spec(args.spec)
    blobs: dict[str, bytes] = {}
    for path in args.blob:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read blob {path}: {exc.strerror or exc}") from None
        blobs[hashlib.sha256(data).hexdigest()] = data

    def progress(done: int, total: int) -> None:
        print(f"\runit {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    result = run_job(spec, device=args.device, blobs=blobs, progress=None if args.json else progress)
    t = result.timings
    summary: dict[str, Any] = {
        "spec_hash": "0x" + result.spec_hash.hex(),
        "root": "0x" + result.root.hex(),
        "nUnits": result.n_units,
        "device": result.device,
        "output_bytes": sum(len(o[2]) for o in result.outputs),
        "timings": {"compute_s": t.compute_s, "hash_s": t.hash_s, "tree_s": t.tree_s, "wall_s": t.wall_s},
    }
    if args.json:
        emit_json(summary)
    else:
        rows = [
            ["specHash", summary["spec_hash"]],
            ["root", summary["root"]],
            ["nUnits", result.n_units],
            ["device", result.device],
            ["output bytes", summary["output_bytes"]],
            ["compute", f"{t.compute_s:.3f} s"],
            ["hashing (overlapped)", f"{t.hash_s:.3f} s"],
            ["tree", f"{t.tree_s:.4f} s"],
            ["wall", f"{t.wall_s:.3f} s"],
        ]
        print(table(["field", "value"], rows))
    return 0


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``ccm job`` and its subcommands."""
    job = subparsers.add_parser("job", parents=parents, help="validate, hash and run job specs")
    sub = job.add_subparsers(dest="job_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("validate", parents=parents, help="check a spec against the v1 schema")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("hash", parents=parents, help="print the keccak256 specHash of a spec")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_hash)

    p = sub.add_parser("run", parents=parents, help="run a job and print its Merkle root")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    p.add_argument("--local", action="store_true", help="run on this machine (required for now)")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run (default auto)"
    )
    p.add_argument(
        "--blob", type=Path, action="append", default=[], help="a blob file the spec names (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    p.set_defaults(func=_cmd_run)
