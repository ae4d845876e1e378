"""``ccm audit …``: audit planning from the command line.

``ccm audit plan --units N --min-cheat-fraction F --confidence C [--json]`` prints the smallest
number of units k to sample so that a provider who corrupted at least ceil(F·N) of N units is
caught with probability ≥ C (exact hypergeometric, :func:`verifier.detection.plan_samples`, the
same function verifiers and the economics use). ``ccm audit table`` prints k for common sizes.

Error handling: every value is taken as a string and validated here, so a bad value (``abc``,
``nan``, ``1e400``, a negative number, a missing option) is one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from node.cli._output import emit_json
from node.cli._parsers import command_group
from verifier.detection import plan_samples, plan_table
from verifier.errors import InvalidArgument

_INT = re.compile(r"\d{1,30}")

# plan_samples names its arguments in Python; the CLI user knows the flags.
_FLAG = {
    "n_units": "--units",
    "min_cheat_fraction": "--min-cheat-fraction",
    "confidence": "--confidence",
}


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command group."""
    sub = command_group(subparsers, "audit", parents=parents, help="plan spot-check audits")

    plan = sub.add_parser(
        "plan",
        parents=parents,
        help="how many units to sample to catch a cheater with a given probability",
        description="Smallest k such that a provider who corrupted at least ceil(F*N) of N units "
        "is caught with probability >= C (sampling without replacement, exact).",
    )
    plan.add_argument("--units", metavar="N", help="number of units in the job (integer >= 1)")
    plan.add_argument(
        "--min-cheat-fraction", metavar="F", help="smallest fraction of corrupted units to catch, 0 < F <= 1"
    )
    plan.add_argument("--confidence", metavar="C", help="detection probability to reach, 0 < C < 1")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.set_defaults(func=_plan)

    table = sub.add_parser("table", parents=parents, help="print k for common job sizes and cheat fractions")
    table.add_argument("--confidence", metavar="C", default="0.99", help="detection probability (0.99)")
    table.set_defaults(func=_table)


def _require(value: str | None, flag: str) -> str:
    if value is None:
        raise InvalidArgument(flag, "is required")
    return value


def _parse_units(text: str) -> int:
    if not _INT.fullmatch(text.strip()):
        raise InvalidArgument("--units", f"must be an integer >= 1, got {text!r}")
    n = int(text.strip())
    if n < 1:
        raise InvalidArgument("--units", f"must be an integer >= 1, got {text!r}")
    return n


def _plan(args: argparse.Namespace) -> int:
    units = _parse_units(_require(args.units, "--units"))
    fraction = _require(args.min_cheat_fraction, "--min-cheat-fraction")
    confidence = _require(args.confidence, "--confidence")
    try:
        plan = plan_samples(n_units=units, min_cheat_fraction=fraction, confidence=confidence)
    except InvalidArgument as exc:
        flag = _FLAG.get(exc.name, exc.name)
        raise InvalidArgument(flag, str(exc).removeprefix(f"{exc.name}: ")) from None
    if args.json:
        emit_json(
            {
                "k": plan.k,
                "detection_probability": plan.detection_probability,
                "n_units": plan.n_units,
                "n_bad": plan.n_bad,
                "min_cheat_fraction": args.min_cheat_fraction.strip(),
                "confidence": args.confidence.strip(),
            }
        )
        return 0
    print(
        f"Sample k = {plan.k} of {plan.n_units:,} units ({100 * plan.k / plan.n_units:.3g}%).\n"
        f"A provider who corrupted at least {plan.n_bad:,} unit(s) (F = {args.min_cheat_fraction.strip()}) "
        f"is caught with probability {plan.detection_probability:.6f} (target {args.confidence.strip()})."
    )
    return 0


def _table(args: argparse.Namespace) -> int:
    try:
        text = plan_table(confidence=args.confidence.strip())
    except InvalidArgument as exc:
        raise InvalidArgument("--confidence", str(exc).removeprefix(f"{exc.name}: ")) from None
    print(text)
    return 0
