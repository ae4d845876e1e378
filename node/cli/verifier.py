"""``ccm verifier start``: the verifier daemon (:mod:`node.roles.verifier`).

In devnet mode it needs no other step (a PUBLIC Anvil dev account, ``--account-index N`` or one
allocated to the home, announced on stderr); it stakes, then prints, flushed,
``listening on <multiaddr>/p2p/<peer id>`` and judges every audit and panel it is drawn for.
"""

from __future__ import annotations

import argparse
from typing import Any

from node.cli._parsers import add_node_options, command_group


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "verifier", parents=parents, help="audit providers for rewards")
    start = sub.add_parser("start", parents=parents, help="run the verifier daemon (stake, watch, audit)")
    add_node_options(start)
    start.add_argument("--device", default="cpu", help="where units are recomputed (default cpu)")
    start.add_argument(
        "--poll", type=float, default=1.0, help="seconds between looks at its records when idle"
    )
    start.set_defaults(func=_start)


def _start(args: argparse.Namespace) -> int:
    from node.roles.context import open_context, say_stderr
    from node.roles.runtime import daemon_dashboard, run_daemon, setup_logging
    from node.roles.verifier import VerifierDaemon

    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url)
    setup_logging(ctx.config.node.log_level, debug=args.debug)
    try:
        daemon = VerifierDaemon(
            ctx, device=args.device, listen=args.listen, bootstrap=args.bootstrap, poll=args.poll
        )
        run_daemon(
            daemon.run, host=daemon.host, say=say_stderr,
            dashboard=daemon_dashboard(ctx, account_index=args.account_index, rpc_url=args.rpc_url),
            announce=f"verifier {ctx.address}, recomputing on {args.device}",
        )
    finally:
        ctx.close()
    return 0
