"""``ccm init [--devnet] [--json]``: create the node's keys (see :mod:`node.keys`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from node.cli._output import emit_json


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("init", parents=parents, help="create this node's account and libp2p identity")
    p.add_argument(
        "--devnet",
        action="store_true",
        default=None,
        help="devnet mode: no keystore (PUBLIC Anvil dev accounts are used); default: the home's deployment",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    from node.keys import init_node
    from node.roles.context import password_from_env

    result = init_node(args.home, password=password_from_env(), devnet=args.devnet)
    if result.devnet:
        print(
            "DEVNET MODE: no keystore made; roles sign with Anvil's PUBLIC dev accounts (devnet only)",
            file=sys.stderr,
        )
    doc = {
        "home": str(result.home),
        "devnet": result.devnet,
        "address": result.address,
        "peer_id": result.peer_id,
        "keystore": str(result.keystore) if result.keystore else None,
        "identity": str(result.identity),
        "config": str(result.config),
    }
    if args.json:
        emit_json(doc)
    else:
        for key, value in doc.items():
            print(f"{key}: {value}")
    return 0
