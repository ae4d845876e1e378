"""``scripts/bench llm [--quick] [--json] [--device cpu|cuda|auto]``: generation vs audit cost of llm jobs.

Random Llama models are built from a config into a temporary directory (nothing is downloaded;
sizes from :data:`node.demo.specs.LLM_SIZES`). Per model size and generation length, a job of
``--units`` units of ``--group`` sequences (prompts of 16 tokens, greedy, fp32 unless ``--dtype``)
is generated as a provider does it (one left-padded batch a unit, KV cache), then audited as a
verifier does it (one teacher-forced forward pass a sequence). Columns:

- ``generate_s``: the provider's seconds for one unit (median over the job's units);
- ``verify_s``: the verifier's seconds to check one unit (median, the same units);
- ``verify_over_generate``: ``verify_s / generate_s``;
- ``job_verify_over_generate``: the verifier's seconds for ``--sampled`` audited units ÷ the
  provider's seconds for the whole job (1 of 8 units by default, the market's sampling rate).

``--threads N`` sets torch's CPU threads. ``--json`` prints one JSON object a line instead of the
table (keys: model, params, dtype, device, group, new_tokens, generate_s, verify_s,
verify_over_generate, units, sampled, job_verify_over_generate, threads).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.cli._output import table
from node.demo.specs import build_llm_model, llm_prompts
from node.workloads import device as devices
from node.workloads.llm import LlmWorkload
from node.workloads.llm_files import llm_spec, model_dir_files
from node.workloads.spec import parse_spec


def _measure(
    model_dir: Path,
    *,
    size: str,
    new_tokens: int,
    dtype: str,
    group: int,
    units: int,
    sampled: int,
    device: torch.device,
) -> dict[str, Any]:
    files = model_dir_files(model_dir)
    vocab = int(json.loads(files["config.json"])["vocab_size"])
    d, blobs = llm_spec(
        files,
        llm_prompts(units * group, vocab=vocab, seed=3),
        max_new_tokens=new_tokens,
        group=group,
        dtype=dtype,
    )
    work = LlmWorkload(parse_spec(d), device, blobs)
    work.generate(0)  # warm-up (allocator, kernels)
    gen, ver = [], []
    for i in range(units):
        t0 = time.perf_counter()
        y = work.generate(i)
        if device.type == "cuda":
            torch.cuda.synchronize()
        gen.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = work.check_unit(i, y)
        ver.append(time.perf_counter() - t0)
        if not result.passed:
            raise SystemExit(f"honest unit {i} failed its audit: {result.reason}")
    g, v = statistics.median(gen), statistics.median(ver)
    return {
        "model": f"llama-{size}",
        "params": work.n_params,
        "dtype": dtype,
        "device": devices.describe(device),
        "threads": torch.get_num_threads(),
        "group": group,
        "new_tokens": new_tokens,
        "generate_s": round(g, 4),
        "verify_s": round(v, 4),
        "verify_over_generate": round(v / g, 4),
        "units": units,
        "sampled": sampled,
        # a sampled unit costs the median unit to check; the job is `units` median units to generate
        "job_verify_over_generate": round(v * sampled / (g * units), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny and small models, 32 and 64 tokens")
    parser.add_argument("--json", action="store_true", help="one JSON object a line instead of the table")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--group", type=int, default=8, help="sequences per unit (default 8)")
    parser.add_argument("--units", type=int, default=8, help="units in the job (default 8)")
    parser.add_argument("--sampled", type=int, default=1, help="units a verifier audits (default 1)")
    parser.add_argument("--sizes", default="", help="comma-separated sizes (tiny, small, medium)")
    parser.add_argument("--tokens", default="", help="comma-separated generation lengths")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    devices.configure()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = devices.pick_device(args.device)
    sizes = (
        args.sizes.split(",") if args.sizes else (["tiny", "small"] if args.quick else ["small", "medium"])
    )
    lengths = (
        [int(t) for t in args.tokens.split(",")] if args.tokens else ([32, 64] if args.quick else [32, 128])
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ccm-bench-llm-") as tmp:
        for size in sizes:
            model_dir = build_llm_model(Path(tmp) / size, size)
            for n in lengths:
                row = _measure(
                    model_dir,
                    size=size,
                    new_tokens=n,
                    dtype=args.dtype,
                    group=args.group,
                    units=args.units,
                    sampled=args.sampled,
                    device=device,
                )
                rows.append(row)
                if args.json:
                    print(json.dumps(row, sort_keys=True), flush=True)
    if args.json:
        return
    headers = [
        "model",
        "params",
        "dtype",
        "device",
        "group",
        "new tokens",
        "generate s",
        "verify s",
        "verify/gen",
        "job verify/gen",
    ]
    print(
        table(
            headers,
            [
                [
                    r["model"],
                    r["params"],
                    r["dtype"],
                    r["device"],
                    r["group"],
                    r["new_tokens"],
                    f"{r['generate_s']:.3f}",
                    f"{r['verify_s']:.3f}",
                    f"{r['verify_over_generate']:.3f}",
                    f"{r['job_verify_over_generate']:.4f}",
                ]
                for r in rows
            ],
        )
    )
    print(f"\njob: {args.units} units, {args.sampled} audited; threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
