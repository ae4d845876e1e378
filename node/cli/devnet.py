"""``ccm devnet up|status|down|advance``: a local Anvil with the contracts deployed, for development.

``up`` starts Anvil detached on a free 127.0.0.1 port (mining on demand, or every ``--block-time``
seconds), deploys through the same path as ``ccm chain deploy`` with the devnet defaults (every job
audited, short windows, tokens minted to Anvil's PUBLIC dev accounts) and records the deployment in
``<home>/deployment.json``; run twice, it reports the running devnet instead of starting another.
``status`` says whether it is up; ``down`` stops it (and is happy if nothing was running).
``advance --seconds N`` moves the devnet's chain time N seconds forward and mines a block (a dispute
or audit window ends without waiting); on a chain that is not a devnet it refuses by name.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from node.cli._output import emit_json, table
from node.cli._parsers import command_group

if TYPE_CHECKING:
    from node.chain.deployment import Deployment

# node.chain (web3) is imported inside the handlers: every CLI module is imported for every
# command, and web3 alone costs seconds.


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(
        subparsers, "devnet", parents=parents, help="local Anvil devnet with the contracts", metavar="ACTION"
    )
    up = sub.add_parser("up", parents=parents, help="start Anvil and deploy (idempotent)")
    up.add_argument(
        "--block-time", type=float, default=0.0, help="seconds per block (default 0: mine on demand)"
    )
    up.add_argument("--json", action="store_true", help="print one JSON object")
    up.set_defaults(func=_up)
    st = sub.add_parser("status", parents=parents, help="is the devnet up; block and addresses")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    st.set_defaults(func=_status)
    down = sub.add_parser("down", parents=parents, help="stop the devnet (idempotent)")
    down.set_defaults(func=_down)
    adv = sub.add_parser("advance", parents=parents, help="move chain time forward, mine a block")
    adv.add_argument("--seconds", type=int, required=True, help="seconds to move the chain's clock forward")
    adv.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")
    adv.add_argument("--json", action="store_true", help="print one JSON object")
    adv.set_defaults(func=_advance)


def _object(deployment: Deployment, **extra: Any) -> dict[str, Any]:
    return {
        "rpc_url": deployment.rpc_url,
        "chain_id": deployment.chain_id,
        "contracts": dict(deployment.contracts),
        "deploy_block": deployment.deploy_block,
        "devnet": deployment.devnet,
        "block_time_s": deployment.block_time_s,
        **extra,
    }


def _print_contracts(deployment: Deployment) -> None:
    print(table(["contract", "address"], [[n, a] for n, a in sorted(deployment.contracts.items())]))


def _up(args: argparse.Namespace) -> int:
    from node.chain import devnet
    from node.errors import ConfigError
    from node.progress import Progress

    if args.block_time < 0:
        raise ConfigError(f"--block-time must be at least 0, got {args.block_time:g}")
    if args.json:
        deployment, already = devnet.up(args.home, block_time_s=args.block_time)
    else:
        with Progress("devnet: Anvil and the contracts"):
            deployment, already = devnet.up(args.home, block_time_s=args.block_time)
    if args.json:
        if already:  # stdout stays the same object either way; the note goes to stderr
            print(f"devnet already up at {deployment.rpc_url}", file=sys.stderr)
        emit_json(_object(deployment))
        return 0
    if already:
        print(f"devnet already up at {deployment.rpc_url} (chain id {deployment.chain_id})")
    else:
        print(f"devnet up at {deployment.rpc_url} (chain id {deployment.chain_id})")
        print("dev accounts hold tokens: they are PUBLIC test keys, devnet only")
    _print_contracts(deployment)
    return 0


def _status(args: argparse.Namespace) -> int:
    from node.chain import devnet

    state = devnet.status(args.home)
    if args.json:
        if state.running and state.deployment is not None:
            emit_json(_object(state.deployment, running=True, pid=state.pid, block_number=state.block_number))
        else:
            emit_json({"running": False, "rpc_url": None, "chain_id": None, "contracts": {}})
        return 0
    if not state.running:
        print("devnet is not running (start it with `ccm devnet up`)")
        return 0
    print(f"devnet up at {state.rpc_url}, pid {state.pid}, block {state.block_number}")
    if state.deployment is not None:
        _print_contracts(state.deployment)
    return 0


def _down(args: argparse.Namespace) -> int:
    from node.chain import devnet

    if devnet.down(args.home):
        print("devnet stopped")
    else:
        print("devnet was not running")
    return 0


def _advance(args: argparse.Namespace) -> int:
    from node.chain import devnet
    from node.cli.account import when

    moved = devnet.advance(args.home, args.seconds, rpc_url=args.rpc_url)
    if args.json:
        emit_json({"seconds": moved.seconds, "block": moved.block, "timestamp": moved.timestamp})
    else:
        print(f"chain time moved {moved.seconds} s forward: block {moved.block} at {when(moved.timestamp)}")
    return 0
