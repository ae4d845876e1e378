"""``scripts/bench gas [--json]``: gas per contract operation and per whole job life cycle, as tables.

Runs ``forge test --isolate -vv`` on ``contracts/test/JobMarketGas.t.sol``. With ``--isolate`` every
call from a test is its own transaction (cold storage, 21 000 intrinsic gas included), so the figures
are what a node pays on chain. Each test logs ``op NAME: GAS`` after every market or registry call and
``lifecycle NAME: GAS`` for the sum; this script parses those lines. An operation measured more than
once (a panel's first and later votes) shows its min and max.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.cli._output import table

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
LINE = re.compile(r"^\s*(op|lifecycle) (.+): (\d+)\s*$")


class GasBenchError(RuntimeError):
    """forge is missing, failed, or printed no gas lines."""


def _forge() -> str:
    local = ROOT / ".venv" / "bin" / "forge"
    if local.exists():
        return str(local)
    found = shutil.which("forge")
    if found is None:
        raise GasBenchError("forge not found (run scripts/setup)")
    return found


def run_forge(*, timeout_s: float = 300.0) -> str:
    """Run the gas test suite in isolate mode and return its output."""
    cmd = [_forge(), "test", "--match-contract", "JobMarketGasTest", "--isolate", "-vv"]
    proc = subprocess.run(cmd, cwd=CONTRACTS, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = proc.stdout[-4000:] + proc.stderr[-2000:]
        raise GasBenchError(f"forge test failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def parse(output: str) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Split forge's log lines into per-operation measurements and per-life-cycle totals."""
    ops: dict[str, list[int]] = {}
    cycles: dict[str, int] = {}
    for line in output.splitlines():
        m = LINE.match(line)
        if m is None:
            continue
        kind, name, gas = m.group(1), m.group(2), int(m.group(3))
        if kind == "op":
            ops.setdefault(name, []).append(gas)
        else:
            cycles[name] = gas
    if not ops or not cycles:
        raise GasBenchError("no gas lines in forge output (did JobMarketGas.t.sol change?)")
    return ops, cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    try:
        ops, cycles = parse(run_forge())
    except (GasBenchError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump({"operations": ops, "lifecycles": cycles}, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    op_rows = [[name, min(v), max(v), len(v)] for name, v in sorted(ops.items(), key=lambda kv: kv[0])]
    print("Gas per operation (one transaction each, forge --isolate)")
    print(table(["operation", "min gas", "max gas", "samples"], op_rows))
    print()
    print("Gas per whole life cycle (sum of its transactions)")
    print(table(["life cycle", "gas"], [[name, gas] for name, gas in cycles.items()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
