"""The ``ccm`` command line.

Each module of this package that defines ``register(subparsers, parents)`` adds one command group
(``ccm devnet …``, ``ccm audit …``); they are discovered, so adding a group touches no other file.
Handlers take the parsed ``argparse.Namespace`` and return an exit code.

Error handling: an error raised on purpose by any of our packages (``CcmError``, ``VerifierError``,
``TokenomicsError``) becomes one line on stderr and exit code 1; a bad command line exits 2 (argparse).
Tracebacks only with ``--debug``. Ctrl-C exits 130 without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from node.errors import CcmError
from tokenomics.errors import TokenomicsError
from verifier.errors import VerifierError

_OUR_ERRORS = (CcmError, VerifierError, TokenomicsError)


def default_home() -> Path:
    """The node's home folder: ``$CCM_HOME``, else ``~/.ccm``."""
    env = os.environ.get("CCM_HOME")
    return Path(env).expanduser() if env else Path.home() / ".ccm"


def _common_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the same options sit on the top parser and on every subcommand; a default on the
    # subcommand would overwrite a value given before it (``ccm --home X devnet up``).
    parent.add_argument(
        "--home",
        type=Path,
        default=argparse.SUPPRESS,
        help="node home folder (default: $CCM_HOME, then ~/.ccm)",
    )
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parent = _common_parent()
    parser = argparse.ArgumentParser(
        prog="ccm",
        description="Node for a decentralized GPU compute market.",
        parents=[parent],
    )
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers, [parent])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.home = getattr(args, "home", None) or default_home()
    args.debug = getattr(args, "debug", False)
    return run_reporting_errors("ccm", lambda: int(args.func(args) or 0), debug=args.debug)


def run_reporting_errors(
    prog: str, body: Callable[[], int], *, debug: bool, interrupted: str = "interrupted"
) -> int:
    """Run ``body`` as a command: our errors and OS errors become one line on stderr (exit 1),
    Ctrl-C exits 130, a closed stdout pipe (``… | head``) 141; tracebacks only with ``debug``."""
    try:
        return body()
    except _OUR_ERRORS as exc:
        if debug:
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:  # an unusable home folder, a missing binary: one line, not a traceback
        if debug:
            raise
        print(f"{prog}: error: {exc.strerror or exc} ({exc.filename or 'no file'})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
