"""``ccm provider …``: the provider's commands.

- ``ccm provider probe``: measure this machine (see :mod:`node.capacity.probe`).
- ``ccm provider start``: the provider daemon (:mod:`node.roles.provider`). In devnet mode (a home
  made by ``ccm devnet up``, or holding its ``deployment.json``) it needs no other step: it takes a
  PUBLIC Anvil dev account (``--account-index N``, else one allocated to the home), says which,
  stakes, and prints, flushed, ``listening on <multiaddr>/p2p/<peer id>`` once the host is up.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli._output import emit_json, table
from node.cli._parsers import add_node_options, command_group
from node.config import load_config

if TYPE_CHECKING:
    from node.capacity.probe import ProbeResult


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``provider`` group."""
    sub = command_group(subparsers, "provider", parents=parents, help="sell this machine's GPU time")

    probe = sub.add_parser(
        "probe", parents=parents,
        help="measure this machine's GPU (or CPU): matmul TFLOP/s per dtype, memory and copy bandwidth",
    )
    probe.add_argument("--json", action="store_true", help="print one JSON object (the canonical advert)")
    probe.add_argument("--quick", action="store_true", help="a smaller sweep in about 3 seconds")
    probe.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: provider.device in the config)")
    probe.add_argument("--out", type=Path, help="also write the canonical JSON to this file")
    probe.set_defaults(func=_probe)

    start = sub.add_parser(
        "start", parents=parents, help="run the provider daemon (stake, advertise, compute)"
    )
    add_node_options(start)
    start.add_argument(
        "--price-per-unit", type=int, help="price of one unit (default: provider.price_per_unit)"
    )
    start.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: provider.device in the config)")
    start.add_argument("--offer-interval", type=float, default=10.0, help="seconds between gossiped offers")
    start.set_defaults(func=_start)


def _start(args: argparse.Namespace) -> int:
    from node.roles.context import open_context, say_stderr
    from node.roles.provider import ProviderDaemon
    from node.roles.runtime import cached_probe, daemon_dashboard, run_daemon, setup_logging
    from tokenomics.units import units_to_tokens

    config = load_config(args.home)
    setup_logging(config.node.log_level, debug=args.debug)
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url)
    try:
        device = args.device or config.provider.device
        probe_result = cached_probe(
            args.home, device=device, max_age_s=config.provider.reprobe_s, say=say_stderr
        )
        daemon = ProviderDaemon(
            ctx, probe=probe_result, price_per_unit=args.price_per_unit, device=device, listen=args.listen,
            bootstrap=args.bootstrap, offer_interval=args.offer_interval,
        )
        run_daemon(
            daemon.run, host=daemon.host, say=say_stderr,
            dashboard=daemon_dashboard(ctx, account_index=args.account_index, rpc_url=args.rpc_url),
            announce=(
                f"provider {ctx.address}, price {units_to_tokens(daemon.price_per_unit)} tokens per unit"
            ),
        )
    finally:
        ctx.close()
    return 0


def _probe(args: argparse.Namespace) -> int:
    from node.capacity.probe import probe  # torch is imported only by commands that need it

    config = load_config(args.home)
    device = args.device or config.provider.device
    from node.progress import Progress

    with Progress("probing capacity") as shown:
        result = probe(device=device, quick=args.quick, progress=shown)
    if args.out is not None:
        args.out.write_text(result.to_json() + "\n", encoding="utf-8")
    if args.json:
        emit_json({**result.to_dict(), "advert_hash": "0x" + result.advert_hash().hex()})
    else:
        print(render_probe(result))
    return 0


def render_probe(result: ProbeResult) -> str:
    """The probe as a human reads it: device, NVML facts, a dtype × size TFLOP/s table, bandwidths."""
    lines = [f"device: {result.device} ({result.device_name})"]
    if result.no_gpu_reason:
        lines.append(f"no GPU: {result.no_gpu_reason}; these are CPU figures")
    if result.gpu:
        g = result.gpu
        power = f"{g.power_limit_mw / 1000:.0f} W" if g.power_limit_mw is not None else "?"
        lines.append(
            f"gpu: {g.name}  uuid {g.uuid}  memory {g.memory_bytes / 2**30:.1f} GiB  "
            f"sm clock {g.sm_clock_max_mhz or '?'} MHz  mem clock {g.mem_clock_max_mhz or '?'} MHz  "
            f"power limit {power}  driver {g.driver_version}  CUDA {g.cuda_driver_version or '?'}"
        )
    h = result.host
    lines.append(f"host: {h.cpu_model}, {h.logical_cpus} CPUs ({h.torch_threads} torch threads), "
                 f"{h.memory_bytes / 2**30:.1f} GiB, torch {h.torch_version}")
    sizes = sorted({m.n for m in result.matmul})
    by_key = {(m.dtype, m.n): m.tflops for m in result.matmul}
    rows = [
        [dt, *[f"{by_key[(dt, n)]:.4f}" if (dt, n) in by_key else "-" for n in sizes]]
        for dt in ("float32", "bfloat16", "float16")
    ]
    lines += ["", "matmul TFLOP/s", table(["dtype", *[f"n={n}" for n in sizes]], rows), ""]
    bw = [["device memory (copy)", f"{result.memory_bandwidth_mbps / 1000:.1f}"]]
    if result.h2d_mbps is not None and result.d2h_mbps is not None:
        bw += [["host -> device", f"{result.h2d_mbps / 1000:.1f}"],
               ["device -> host", f"{result.d2h_mbps / 1000:.1f}"]]
    lines += [table(["bandwidth", "GB/s"], bw), ""]
    lines.append(f"measured in {result.duration_ms / 1000:.1f} s{' (quick)' if result.quick else ''}; "
                 f"advert hash 0x{result.advert_hash().hex()}")
    return "\n".join(lines)
