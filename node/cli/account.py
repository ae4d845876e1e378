"""``ccm account [--json]``: the node's address, balances, stake by role, duties, and its ledger.

Read without the password: the address is the keystore's public field (or the devnet account of the
home). Figures come from :func:`node.query.account.account_view`: gas and token balances, active and
unbonding stake, when the unbonding tokens can be withdrawn (and what blocks it: the delay or open
audit duties), and earnings / slashes / fees per day from the chain's events, with the full ledger.

Human output prints amounts in tokens; ``--json`` prints every amount as a decimal string of base
units (10**18 per token; gas in wei), because a uint256 does not survive every JSON reader as a number.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from node.cli._output import emit_json, table

LEDGER_ROWS = 20


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    account = subparsers.add_parser(
        "account", parents=parents, help="balances, stake, duties, earnings and slashes of this node"
    )
    add_account_options(account)
    account.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
    account.add_argument(
        "--all", action="store_true", help=f"print the whole ledger (default: the last {LEDGER_ROWS} lines)"
    )
    account.set_defaults(func=_account)


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """``--account-index`` and ``--rpc-url``, as the role commands take them."""
    parser.add_argument("--account-index", type=int, help="DEVNET: use Anvil's PUBLIC dev account N")
    parser.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")


def when(ts: int) -> str:
    """A unix time for people (UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


def _account(args: argparse.Namespace) -> int:
    from node.query.account import account_view
    from node.query.node import open_node
    from tokenomics.units import units_to_tokens as tok

    chain, ident = open_node(args.home, rpc_url=args.rpc_url, account_index=args.account_index)
    view = account_view(chain, ident.address)
    if args.json:
        emit_json({**view.to_json(), "account_source": ident.account_source, "chain_id": ident.chain_id})
        return 0
    roles = ", ".join(view.roles) or "none"
    print(f"account   {view.address} ({ident.account_source}), chain {ident.chain_id}, block {view.block}")
    print(f"peer id   {view.peer_id or '-'}")
    print(f"gas       {tok(view.gas_wei)} ETH")
    print(f"tokens    {tok(view.token_balance)}")
    provider = "eligible" if view.provider_eligible else "not eligible"
    verifier = "drawable" if view.verifier_drawable else "not drawable"
    print(
        f"stake     {tok(view.active_stake)} active (roles: {roles}; provider {provider}, "
        f"min {tok(view.min_provider_stake)}; verifier {verifier}, min {tok(view.min_verifier_stake)})"
    )
    print(
        f"unbonding {tok(view.unbonding)}"
        + (f" until {when(view.unbond_at)}" if view.unbonding else "")
        + f"; withdrawable {tok(view.withdrawable)}"
        + (f" ({view.withdraw_blocked_by})" if view.withdraw_blocked_by else "")
    )
    print(f"duties    {view.duties} open audit / panel duties")
    t = view.totals
    print(f"settled   earned {tok(t.earned)}, slashed {tok(t.slashed)}, fees {tok(t.fees)}")
    if view.days:
        print()
        print(
            table(
                ["day", "earned", "slashed", "fees"],
                [[d.day, tok(d.earned), tok(d.slashed), tok(d.fees)] for d in view.days],
            )
        )
    lines = view.ledger if args.all else view.ledger[-LEDGER_ROWS:]
    if lines:
        print()
        rows: list[list[Any]] = [
            [
                e.block,
                when(e.timestamp),
                e.kind,
                tok(e.amount),
                ("+" if e.delta > 0 else "") + tok(e.delta),
                f"job {e.job_id}"
                if e.job_id is not None
                else (f"series {e.series_id}" if e.series_id else ""),
            ]
            for e in lines
        ]
        print(table(["block", "time", "what", "amount", "wallet", "for"], rows))
        if len(lines) < len(view.ledger):
            print(f"({len(view.ledger) - len(lines)} earlier lines: --all)")
    return 0
