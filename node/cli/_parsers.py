"""Argument-parser pieces the command groups share, so that every group is built the same way.

* :func:`command_group` — ``ccm NAME SUBCOMMAND …``: a group whose subcommand is required;
* :func:`add_node_options` — the options of every command that runs a role on the network
  (account, chain endpoint, libp2p addresses).
"""

from __future__ import annotations

import argparse
from typing import Any


def command_group(
    subparsers: Any,
    name: str,
    *,
    parents: list[argparse.ArgumentParser],
    help: str,
    metavar: str = "SUBCOMMAND",
) -> Any:
    """Add ``ccm NAME`` with a required subcommand (stored as ``args.<NAME>_command``); returns its
    sub-parsers, to which each subcommand is added with ``parents=parents``."""
    group = subparsers.add_parser(name, parents=parents, help=help)
    sub = group.add_subparsers(dest=f"{name}_command", metavar=metavar)
    sub.required = True
    return sub


def add_node_options(parser: argparse.ArgumentParser) -> None:
    """Options every long-running role command takes (account, chain endpoint, libp2p addresses)."""
    parser.add_argument("--account-index", type=int, help="DEVNET: use Anvil's PUBLIC dev account N")
    parser.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")
    parser.add_argument("--listen", action="append", help="multiaddr to listen on (repeatable)")
    parser.add_argument("--bootstrap", action="append", help="full multiaddr of a peer to dial (repeatable)")
