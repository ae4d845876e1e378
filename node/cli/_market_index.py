"""``ccm market index [--gpu-class C] [--window W] [--region R] [--json] [--plot FILE]``.

The volume-weighted price per H100e-hour of the capacity claims filled on chain, per GPU class,
forward window (spot, 1m, 3m, 6m, 12m) and UTC day, with the number of trades behind each point;
points with fewer than 3 trades are marked thin. Computed from the chain's events alone
(:mod:`node.query.index`); ``--plot`` draws it beside the economics' forward curve.

Added to the ``market`` group by :func:`add_index_parser` (called from ``node/cli/market.py``);
heavy modules are imported inside the handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from node.cli._output import emit_json, table


def add_index_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``index`` to the ``ccm market`` subcommands."""
    index = sub.add_parser("index", parents=parents, help="price index per H100e-hour from on-chain fills")
    index.add_argument("--gpu-class", help="only this GPU class (e.g. H100)")
    index.add_argument("--window", help="only this forward window: spot, 1m, 3m, 6m or 12m")
    index.add_argument("--region", help="only series that declare this region (e.g. DE, EU)")
    index.add_argument("--rpc-url", help="override the deployment's RPC endpoint")
    index.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="draw the index beside the forward curve"
    )
    index.add_argument("--json", action="store_true", help="print one JSON object")
    index.set_defaults(func=run_index)


def run_index(args: argparse.Namespace) -> int:
    """The handler: compute, print (table or JSON), optionally plot."""
    from node.chain.chain import Chain
    from node.query.index import MIN_TRADES, IndexInputError, market_index, plot_index
    from tokenomics.normalized import UNIT_NAME
    from tokenomics.units import units_to_tokens

    if args.plot is not None and not args.gpu_class:
        raise IndexInputError("--plot needs --gpu-class (the forward curve is drawn for one class)")
    chain = Chain.from_home(args.home, rpc_url=args.rpc_url)
    points = market_index(chain, gpu_class=args.gpu_class, window=args.window, region=args.region)
    plotted = str(plot_index(args.plot, points, gpu_class=args.gpu_class)) if args.plot is not None else None
    if args.json:
        emit_json(
            {
                "unit": UNIT_NAME,
                "price_unit": f"token base units per {UNIT_NAME}",
                "thin_below_trades": MIN_TRADES,
                "points": [p.to_json() for p in points],
                "plot": plotted,
            }
        )
        return 0
    if not points:
        print("no fills on chain" + (f" for {args.gpu_class}" if args.gpu_class else ""))
    else:
        headers = ["class", "window", "day", f"tokens/{UNIT_NAME}", f"{UNIT_NAME}s", "trades", ""]
        rows = [
            [
                p.gpu_class,
                p.window,
                p.day,
                units_to_tokens(p.price),
                f"{p.volume:g}",
                p.trades,
                "thin" * p.thin,
            ]
            for p in points
        ]
        print(table(headers, rows))
    if plotted:
        print(f"plot: {plotted}")
    return 0
