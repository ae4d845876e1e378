"""Kind ``matmul``: C = A·B with A n×k and B k×m; unit i is rows ``[i·r, min((i+1)·r, n))`` of C.

Section: ``n, k, m, rows_per_unit`` and ``a``, ``b`` each ``{"seed": int}`` or ``{"blob": sha256
hex}`` (raw little-endian bytes of the job dtype, C order, n×k and k×m). Workload:
:class:`node.workloads.kinds.MatmulWorkload`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.workloads.fields import MAX_DIM, MAX_ROWS, Obj, Source, blob_pairs, source, source_dict
from node.workloads.jobkinds import ITEMSIZE, Footprint, Kind
from node.workloads.jobkinds.cli import add_seed, file_or_seed


@dataclass(frozen=True)
class MatmulSpec:
    """C = A·B with A n×k and B k×m; unit i is rows ``[i·r, min((i+1)·r, n))`` of C."""

    n: int
    k: int
    m: int
    rows_per_unit: int
    a: Source
    b: Source


def parse(o: Obj, dtype: str) -> MatmulSpec:
    o.allow("n", "k", "m", "rows_per_unit", "a", "b")
    n = o.integer("n", 1, MAX_ROWS)
    return MatmulSpec(
        n=n,
        k=o.integer("k", 1, MAX_DIM),
        m=o.integer("m", 1, MAX_DIM),
        rows_per_unit=o.integer("rows_per_unit", 1, n),
        a=source(o.obj("a")),
        b=source(o.obj("b")),
    )


def to_section(b: MatmulSpec) -> dict[str, Any]:
    return {
        "n": b.n,
        "k": b.k,
        "m": b.m,
        "rows_per_unit": b.rows_per_unit,
        "a": source_dict(b.a),
        "b": source_dict(b.b),
    }


def add_new_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, required=True, help="rows of A and C")
    p.add_argument("--k", type=int, required=True, help="columns of A, rows of B")
    p.add_argument("--m", type=int, required=True, help="columns of B and C")
    p.add_argument("--rows-per-unit", type=int, help="rows of C per unit (default: n/8, at least 1)")
    p.add_argument("--a", type=Path, help="A as a raw file (little-endian, the job dtype, C order)")
    p.add_argument("--b", type=Path, help="B as a raw file")
    add_seed(p, "A (seed) and B (seed + 1)")


def new_section(ns: argparse.Namespace) -> tuple[dict[str, Any], dict[str, bytes]]:
    blobs: dict[str, bytes] = {}
    section = {
        "n": ns.n,
        "k": ns.k,
        "m": ns.m,
        "rows_per_unit": ns.rows_per_unit or max(1, ns.n // 8),
        "a": file_or_seed(ns.a, ns.seed, "--a", blobs),
        "b": file_or_seed(ns.b, ns.seed + 1, "--b", blobs),
    }
    return section, blobs


def footprint(b: MatmulSpec, dtype: str, blob_sizes: Mapping[str, int]) -> Footprint:
    """A and B in, C out; a unit holds its rows of A (all of A when A is a blob), B and its block of C,
    each with a float32 staging copy."""
    a_rows = b.n if b.a.blob is not None else b.rows_per_unit
    return Footprint(
        n_units=-(-b.n // b.rows_per_unit),
        output_bytes=b.n * b.m * ITEMSIZE[dtype],
        input_bytes=(b.n * b.k + b.k * b.m) * ITEMSIZE[dtype],
        unit_memory_bytes=(a_rows * b.k + b.k * b.m + b.rows_per_unit * b.m) * 4 * 2,
        unit_flops=2 * b.rows_per_unit * b.k * b.m,
    )


KIND = Kind(
    name="matmul",
    section=MatmulSpec,
    parse_section=parse,
    section_dict=to_section,
    blob_fields=lambda b: blob_pairs([("matmul.a", b.a), ("matmul.b", b.b)]),
    unit_count=lambda b: -(-b.n // b.rows_per_unit),
    footprint_of=footprint,
    workload_ref="node.workloads.kinds:MatmulWorkload",
    cheats=("corrupt", "zeros", "reuse", "low_precision", "wrong_root"),
    add_new_arguments=add_new_arguments,
    new_section=new_section,
)
