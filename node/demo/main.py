"""``scripts/demo [--home DIR] [--keep] [--json] [--mode market|direct] [--cheat-fraction F]``.

Brings up a fresh devnet in the home (default ``$CCM_HOME/demo``, else ``~/.ccm/demo``; nothing is
written outside it), runs the market, and prints who was paid, who was slashed and the balances
read back from the chain. Progress goes to stderr; stdout gets the summary, or with ``--json`` one
JSON object on its last line. ``--keep`` leaves the devnet running, with a dashboard of the market's
nodes (``ccm dashboard``; its URL in the JSON's ``dashboard``); ``ccm devnet down --home DIR`` stops both.

Error handling: our errors (and a failed child process) print one line, exit 1; tracebacks only
with ``--debug``; Ctrl-C stops everything the demo started and exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from node.cli import default_home as node_home
from node.cli import run_reporting_errors
from node.demo.report import DemoReport, render


def default_home() -> Path:
    """``demo`` under the node home (``$CCM_HOME``, else ``~/.ccm``)."""
    return node_home() / "demo"


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def _fraction(text: str) -> str:
    try:
        f = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r}") from None
    if not 0 < f <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return str(f)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[1])
    p.add_argument(
        "--home", type=Path, default=None, help="demo home (default: $CCM_HOME/demo or ~/.ccm/demo)"
    )
    p.add_argument("--keep", action="store_true", help="leave the devnet running afterwards")
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.add_argument(
        "--mode",
        choices=("market", "direct"),
        default="market",
        help="market: separate provider/verifier/consumer processes over libp2p (default); "
        "direct: every party played in this process through the chain client",
    )
    p.add_argument(
        "--cheat-fraction", type=_fraction, default="1/2", help="fraction of units the cheater corrupts (1/2)"
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def run(*, home: Path, keep: bool, mode: str, cheat_fraction: str) -> DemoReport:
    """Run the demo; returns the :class:`node.demo.report.DemoReport`."""
    from node.chain import devnet
    from node.chain.accounts import devnet_accounts
    from node.chain.chain import Chain
    from node.demo.report import collect, index_row

    home.mkdir(parents=True, exist_ok=True)
    if devnet.status(home).running:
        say("a devnet from an earlier run is up in this home: restarting it for a clean market")
        devnet.down(home)
    t0 = time.monotonic()
    deployment, _ = devnet.up(home)
    say(f"devnet up at {deployment.rpc_url} (chain id {deployment.chain_id}); contracts deployed")
    say("dev accounts are Anvil's PUBLIC test keys: devnet only")
    try:
        chain = Chain.connect(deployment)
        accounts = [a.account for a in devnet_accounts(devnet=True)]
        start_block = chain.client.block_number() + 1
        notes = ["this devnet deployment audits every committed job (audit probability 100%)"]
        if mode == "direct":
            from node.demo.direct import make_cast, run_direct

            cast = make_cast(accounts, cheat_fraction=cheat_fraction)
            kinds = run_direct(chain, cast, say=say)
            actors = [p.actor for p in cast.everyone]
            notes.append("direct mode: every party played in one process through the chain client")
        else:
            from node.demo.market import run_market

            kinds, actors, extra = run_market(
                home=home, chain=chain, accounts=accounts, cheat_fraction=cheat_fraction, say=say
            )
            notes.extend(extra)
        block = chain.client.block_number()
        report = collect(
            chain, start_block=start_block, block=block, actors=actors, kinds=kinds, mode=mode, notes=notes
        )
        index = index_row(chain, start_block=start_block, gpu_class="H100", plot=home / "index.png")
        say(f"price index: {len(index.points)} point(s) from the chain's fills, drawn to {index.plot}")
        notes.append(
            "the index is priced per H100e-hour: the series' H100e-hours are what the capacity "
            "challenge measured on this machine's CPU, a small fraction of an H100 per GPU-hour, "
            "so one H100e-hour costs far more than one of its GPU-hours"
        )
        report = dataclasses.replace(report, index=index, notes=tuple(notes))
        if keep and mode == "market":
            from node.demo.procs import ChildError

            try:
                url = start_dashboard(home)
            except ChildError as exc:  # the market ran: report it, without a dashboard
                say(f"no dashboard: {exc}")
                notes.append(f"the dashboard did not start: {exc}")
                report = dataclasses.replace(report, notes=tuple(notes))
            else:
                say(f"dashboard of the market's nodes: {url}")
                report = dataclasses.replace(report, dashboard=url)
        say(f"done in {time.monotonic() - t0:.0f} s")
        return report
    finally:
        if keep:
            say(f"devnet left running (stop it with: ccm devnet down --home {home})")
        else:
            devnet.down(home)
            say("devnet stopped")


DASHBOARD_TIMEOUT_S = 60.0


def start_dashboard(home: Path) -> str:
    """Start ``ccm dashboard`` over the demo's node homes, detached and recorded with the devnet
    (``ccm devnet down`` stops it); its URL once it listens."""
    import subprocess

    from node.chain import devnet
    from node.dashboard.serve import ANNOUNCE
    from node.demo.procs import ChildError, ccm_argv

    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = logs / "dashboard.out"
    with out.open("w") as stdout, (logs / "dashboard.log").open("w") as stderr:
        proc = subprocess.Popen(
            ccm_argv(sys.executable, "dashboard", "--home", str(home), "--node", "provider-1"),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    devnet.leave_running(home, "dashboard", proc.pid)
    deadline = time.monotonic() + DASHBOARD_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        for line in out.read_text().splitlines():
            if line.startswith(ANNOUNCE):
                return line[len(ANNOUNCE) :].strip()
        time.sleep(0.1)
    raise ChildError(f"the dashboard did not come up (log {logs / 'dashboard.log'})")


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that every ``finally`` runs: node processes and Anvil stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    home = (args.home or default_home()).expanduser().resolve()

    def body() -> int:
        report = run(home=home, keep=args.keep, mode=args.mode, cheat_fraction=args.cheat_fraction)
        if args.json:
            print(render(report), file=sys.stderr)
            print(report.json_line(), flush=True)
        else:
            print(render(report), flush=True)
        return 0

    return run_reporting_errors(
        "demo", body, debug=args.debug, interrupted="interrupted (everything it started was stopped)"
    )
