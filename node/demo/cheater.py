"""``python -m node.demo.cheater --home H --account-index I --fraction F [--bootstrap ADDR …]``.

The demo's cheating provider: the production provider daemon (:class:`~node.roles.provider.ProviderDaemon`)
given a :class:`~node.roles.strategies.Corrupting` compute strategy and told not to contest a fail.
Its cheats come from each kind's own cheat models (:data:`DEMO_CHEATS`; ``corrupt`` for the rest).
The ``ccm`` command line has no switch for this; only the demo (devnet) starts it. Like
``ccm provider start`` it prints, flushed, ``listening on <multiaddr>/p2p/<peer id>`` once it serves.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

DEMO_CHEATS = (("llm", "drop_layer"),)
"""Per kind, the cheat the demo's cheater uses (an llm served by a cheaper model: its last layer dropped)."""


def _fraction(text: str) -> str:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="node.demo.cheater", description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="the cheater's node home")
    parser.add_argument(
        "--account-index", type=int, help="Anvil's PUBLIC dev account N (default: the home's keystore)"
    )
    parser.add_argument("--fraction", type=_fraction, required=True, help="fraction of units to corrupt")
    parser.add_argument("--bootstrap", action="append", default=[], help="a peer's full multiaddr")
    args = parser.parse_args(argv)

    from node.cli import run_reporting_errors

    return run_reporting_errors("node.demo.cheater", lambda: _run(args), debug=False)


def _run(args: argparse.Namespace) -> int:
    from node.errors import ConfigError
    from node.roles.context import open_context, say_stderr
    from node.roles.provider import ProviderDaemon
    from node.roles.runtime import cached_probe, run_daemon, setup_logging
    from node.roles.strategies import Corrupting
    from tokenomics.units import units_to_tokens

    setup_logging("warning")
    ctx = open_context(args.home, account_index=args.account_index)
    try:
        if not ctx.devnet:
            raise ConfigError("the demo's cheater runs on a devnet only")
        device, max_age = ctx.config.provider.device, ctx.config.provider.reprobe_s
        probe = cached_probe(args.home, device=device, max_age_s=max_age, say=say_stderr)
        daemon = ProviderDaemon(
            ctx, probe=probe, compute=Corrupting(args.fraction, by_kind=DEMO_CHEATS), contest_fails=False,
            device=device,
            bootstrap=args.bootstrap,
        )
        cheats = ", ".join(f"{kind}: {name}" for kind, name in DEMO_CHEATS)
        say_stderr(
            f"DEMO CHEATER: corrupting {float(Fraction(args.fraction)):.0%} of every job's units ({cheats})"
        )
        run_daemon(
            daemon.run, host=daemon.host, say=say_stderr,
            announce=(
                f"provider {ctx.address}, price {units_to_tokens(daemon.price_per_unit)} tokens per unit"
                " (cheating)"
            ),
        )
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
