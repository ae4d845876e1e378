"""``scripts/demo [--home DIR] [--keep] [--json] [--mode market|direct] [--cheat-fraction F]
[--rpc-url URL (--mnemonic [PHRASE] | --keystore-dir DIR) [--deployment FILE] [--block-time S]]``.

Brings up a fresh devnet in the home (default ``$CCM_HOME/demo``, else ``~/.ccm/demo``; nothing is
written outside it), runs the market, and prints who was paid, who was slashed and the balances
read back from the chain. Progress goes to stderr; stdout gets the summary, or with ``--json`` one
JSON object on its last line. ``--keep`` leaves the devnet running, with a dashboard of the market's
nodes (``ccm dashboard``; its URL in the JSON's ``dashboard``); ``ccm devnet down --home DIR`` stops both.

``--rpc-url URL`` runs the demo on a chain that is already up instead: a development chain whose
clock the demo may move (Anvil, Hardhat: ``evm_increaseTime``). Its ten accounts (0 deploys, 1-9
play the cast) come from ``--mnemonic PHRASE`` (without PHRASE: Anvil's and Hardhat's PUBLIC test
mnemonic) or from the first ten keystore files of ``--keystore-dir DIR`` (password from
``$CCM_PASSWORD`` / ``$CCM_PASSWORD_FILE``); each needs gas. The contracts are deployed with the
one deploy path (:func:`node.chain.confirm.deploy_confirmed`, devnet parameters, tokens minted to
the ten) unless ``--deployment FILE`` names a development deployment already on that chain (its
accounts must hold tokens). Node homes sign with keystores of those accounts unless they are the
public dev keys. Nothing is started or stopped but the demo's own node processes.

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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from eth_account.signers.local import LocalAccount

from node.chain.accounts import DEVNET_MNEMONIC
from node.chain.deployment import DEPLOYMENT_FILE, Deployment
from node.cli import default_home as node_home
from node.cli import run_reporting_errors
from node.demo.report import DemoReport, render
from node.errors import ConfigError

#: Accounts the demo needs on an existing chain: 0 deploys, 1-9 are the cast.
CAST_ACCOUNTS = 10


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


@dataclass(frozen=True)
class ExistingChain:
    """``--rpc-url`` and what goes with it (see the module docstring)."""

    rpc_url: str
    mnemonic: str | None = None
    keystore_dir: Path | None = None
    deployment: Path | None = None
    block_time_s: float | None = None


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
    p.add_argument("--rpc-url", help="run on this existing development chain instead of a fresh devnet")
    accounts = p.add_mutually_exclusive_group()
    accounts.add_argument(
        "--mnemonic",
        nargs="?",
        const=DEVNET_MNEMONIC,
        metavar="PHRASE",
        help="with --rpc-url: accounts 0-9 of this mnemonic (no PHRASE: the PUBLIC test mnemonic; "
        "a phrase given here is visible to ps: development chains only)",
    )
    accounts.add_argument(
        "--keystore-dir", type=Path, help="with --rpc-url: the first ten keystores here (sorted by name)"
    )
    p.add_argument(
        "--deployment", type=Path, help="with --rpc-url: use this deployment record, do not deploy"
    )
    p.add_argument(
        "--block-time", type=float, help="with --rpc-url: the chain's block time in s (default: measured)"
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def existing_chain(args: argparse.Namespace) -> ExistingChain | None:
    """The ``--rpc-url`` choice, or ``None`` for a fresh devnet; ConfigError for a bad mix."""
    extras = [
        flag
        for flag, value in (
            ("--mnemonic", args.mnemonic),
            ("--keystore-dir", args.keystore_dir),
            ("--deployment", args.deployment),
            ("--block-time", args.block_time),
        )
        if value is not None
    ]
    if args.rpc_url is None:
        if extras:
            raise ConfigError(f"{extras[0]} goes with --rpc-url (the devnet uses its own accounts)")
        return None
    if args.mnemonic is None and args.keystore_dir is None:
        raise ConfigError("--rpc-url needs the accounts: --mnemonic [PHRASE] or --keystore-dir DIR")
    if args.keep:
        raise ConfigError("--keep keeps a devnet the demo started: with --rpc-url the chain is yours already")
    return ExistingChain(args.rpc_url, args.mnemonic, args.keystore_dir, args.deployment, args.block_time)


def _accounts(target: ExistingChain) -> tuple[LocalAccount, ...]:
    from node.chain.accounts import load_keystore, mnemonic_accounts, read_password
    from node.keys import take_password

    if target.mnemonic is not None:
        return mnemonic_accounts(target.mnemonic, CAST_ACCOUNTS)
    assert target.keystore_dir is not None
    files = (
        sorted(p for p in target.keystore_dir.iterdir() if p.is_file())
        if target.keystore_dir.is_dir()
        else []
    )
    if len(files) < CAST_ACCOUNTS:
        raise ConfigError(
            f"--keystore-dir {target.keystore_dir}: {len(files)} files, {CAST_ACCOUNTS} keystores needed"
        )
    password = take_password() or read_password()
    return tuple(load_keystore(path, password) for path in files[:CAST_ACCOUNTS])


def connect_existing(home: Path, target: ExistingChain) -> tuple[Deployment, tuple[LocalAccount, ...]]:
    """Deploy to (or take the ``--deployment`` on) the chain at ``target.rpc_url``; the record is
    written to ``<home>/deployment.json``. Returns it and the ten accounts."""
    from node.chain.client import ChainClient
    from node.chain.confirm import check_deploy_block, deploy_confirmed
    from node.chain.deploy import DeployParams
    from node.chain.params import measure_block_time

    accounts = _accounts(target)
    client = ChainClient(target.rpc_url)
    chain_id = client.chain_id
    for n, account in enumerate(accounts):
        if client.eth_balance(account.address) == 0:
            raise ConfigError(f"account {n} ({account.address}) has no gas on chain {chain_id}")
    if target.deployment is not None:
        deployment = Deployment.load(target.deployment)
        if deployment.chain_id != chain_id:
            raise ConfigError(
                f"{target.deployment} is for chain {deployment.chain_id}, {target.rpc_url} is {chain_id}"
            )
        if not deployment.devnet:
            raise ConfigError(
                f"{target.deployment} is not a development deployment (the demo moves its clock)"
            )
        check_deploy_block(client, deployment)  # a reset chain at the same URL is refused
        deployment = dataclasses.replace(deployment, rpc_url=target.rpc_url)
        say(f"using the deployment of {target.deployment} on chain {chain_id}")
    else:
        block_time = measure_block_time(client) if target.block_time_s is None else target.block_time_s
        deployment, seen = deploy_confirmed(
            client,
            accounts[0],
            holders=[a.address for a in accounts],
            params=DeployParams(),
            devnet=True,
            confirmations=1,
            block_time_s=block_time,
        )
        say(f"contracts deployed to chain {chain_id} at {target.rpc_url} ({seen} confirmation(s))")
    deployment.save(home / DEPLOYMENT_FILE)
    return deployment, accounts


def run(
    *, home: Path, keep: bool, mode: str, cheat_fraction: str, target: ExistingChain | None = None
) -> DemoReport:
    """Run the demo (on a fresh devnet, or on ``target``); returns the
    :class:`node.demo.report.DemoReport`."""
    from node.chain import devnet
    from node.chain.accounts import devnet_accounts
    from node.chain.chain import Chain
    from node.demo.procs import KeyRing
    from node.demo.report import collect, index_row

    home.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    keyring: KeyRing | None = None
    if target is None:
        if devnet.status(home).running:
            say("a devnet from an earlier run is up in this home: restarting it for a clean market")
            devnet.down(home)
        deployment, _ = devnet.up(home)
        say(f"devnet up at {deployment.rpc_url} (chain id {deployment.chain_id}); contracts deployed")
        say("dev accounts are Anvil's PUBLIC test keys: devnet only")
        accounts = [a.account for a in devnet_accounts(devnet=True)]
    else:
        deployment, found = connect_existing(home, target)
        accounts = list(found)
        public = [a.address for a in devnet_accounts(devnet=True)]
        if [a.address for a in accounts] != public and mode == "market":
            keyring = KeyRing.create(home, accounts)  # the nodes sign with keystores of these keys
    try:
        chain = Chain.connect(deployment)
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
                home=home,
                chain=chain,
                accounts=accounts,
                cheat_fraction=cheat_fraction,
                say=say,
                keyring=keyring,
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
        if target is not None:
            say(f"the chain at {target.rpc_url} is left as it is")
        elif keep:
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
        report = run(
            home=home,
            keep=args.keep,
            mode=args.mode,
            cheat_fraction=args.cheat_fraction,
            target=existing_chain(args),
        )
        if args.json:
            print(render(report), file=sys.stderr)
            print(report.json_line(), flush=True)
        else:
            print(render(report), flush=True)
        return 0

    return run_reporting_errors(
        "demo", body, debug=args.debug, interrupted="interrupted (everything it started was stopped)"
    )
