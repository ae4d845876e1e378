"""``ccm dashboard [--home H] [--port P] [--node NAME]``: the node's read-only dashboard in a browser.

Serves :mod:`node.dashboard` on ``http://127.0.0.1:PORT/`` (127.0.0.1 only; ``--port 0``, the
default, takes a free port) until Ctrl-C, and prints ``dashboard on http://127.0.0.1:PORT/`` on
stdout once it listens (scripts and the demo wait for that line). A home that holds other nodes'
homes under ``nodes/`` (the demo's) shows each of them; ``--node NAME`` picks the one shown first.
No password is asked: the pages show public facts only.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    dash = subparsers.add_parser("dashboard", parents=parents, help="read-only web dashboard on 127.0.0.1")
    dash.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    dash.add_argument("--node", help="in a home with nodes/*: the node shown first")
    dash.add_argument("--account-index", type=int, help="DEVNET: the node's account is Anvil's dev account N")
    dash.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")
    dash.set_defaults(func=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    from node.dashboard.serve import ANNOUNCE, run
    from node.dashboard.source import discover
    from node.errors import ConfigError
    from node.roles.runtime import setup_logging

    setup_logging("warning", debug=args.debug)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port (0 to 65535)")
    sources = discover(args.home, account_index=args.account_index, rpc_url=args.rpc_url, first=args.node)
    run(sources, port=args.port, announce=lambda url: print(f"{ANNOUNCE}{url}", flush=True))
    return 0
