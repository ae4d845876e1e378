"""``ccm stake add AMOUNT | unbond AMOUNT | withdraw``: move the node's stake in the registry.

AMOUNT is in tokens (a decimal with at most 18 places: ``100``, ``12.5``). ``add`` approves the
registry when the allowance is short, then stakes (roles and bindings are the daemons' business:
``ccm provider start`` / ``ccm verifier start`` register them). ``unbond`` moves active stake to
unbonding, withdrawable after the registry's delay (a new request restarts the delay for everything
unbonding). ``withdraw`` sends the unbonding tokens back once the delay has passed and no audit or
panel duty is open.

Every refusal is the contract's own custom error, named and explained in one line
(:class:`node.cli.errors.Refused`), exit code 1; ``--json`` prints the transaction and the new stake.
"""

from __future__ import annotations

import argparse
from typing import Any

from node.cli._confirm import add_confirmations_option, confirm_sent, confirmations_text
from node.cli._output import emit_json
from node.cli._parsers import command_group
from node.cli.account import add_account_options


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "stake", parents=parents, help="add, unbond or withdraw stake")
    add = sub.add_parser("add", parents=parents, help="stake AMOUNT more tokens")
    add.add_argument("amount", help="tokens (decimal)")
    unbond = sub.add_parser("unbond", parents=parents, help="start unbonding AMOUNT tokens of active stake")
    unbond.add_argument("amount", help="tokens (decimal)")
    withdraw = sub.add_parser("withdraw", parents=parents, help="take back the unbonded tokens")
    for p in (add, unbond, withdraw):
        add_account_options(p)
        add_confirmations_option(p)
        p.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
        p.set_defaults(func=_stake)


def signer(args: argparse.Namespace) -> Any:
    """The node's context (the one place that decides which key signs), opened quietly."""
    from node.roles.context import open_context, say_stderr

    return open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=say_stderr)


def send(call: Any) -> Any:
    """Run one transaction; a contract's refusal becomes :class:`node.cli.errors.Refused`."""
    from node.chain.errors import ContractRevert
    from node.cli.errors import refusal

    try:
        return call()
    except ContractRevert as exc:
        raise refusal(exc) from None


def _stake(args: argparse.Namespace) -> int:
    from tokenomics.units import tokens_to_units
    from tokenomics.units import units_to_tokens as tok

    action = args.stake_command
    amount = tokens_to_units(args.amount) if action != "withdraw" else 0
    ctx = signer(args)
    try:
        registry = ctx.chain.registry
        before = registry.staker(ctx.address)
        if action == "add":
            receipt = send(lambda: registry.stake(ctx.account, amount))
        elif action == "unbond":
            receipt = send(lambda: registry.request_unbond(ctx.account, amount))
        else:
            amount = before.unbonding
            receipt = send(lambda: registry.withdraw(ctx.account))
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        after = registry.staker(ctx.address)
    finally:
        ctx.close()
    if args.json:
        emit_json(
            {
                "action": action,
                "address": ctx.address,
                "amount": str(amount),
                "tx_hash": receipt.tx_hash,
                "block": receipt.block_number,
                "confirmations": seen,
                "active_stake": str(after.active),
                "unbonding": str(after.unbonding),
                "unbond_at": after.unbond_at,
                "amounts": "token base units as decimal strings",
            }
        )
        return 0
    verb = {"add": "staked", "unbond": "unbonding", "withdraw": "withdrew"}[action]
    print(
        f"{verb} {tok(amount)} tokens (tx {receipt.tx_hash}, block {receipt.block_number})"
        + confirmations_text(seen)
    )
    print(f"stake now: {tok(after.active)} active, {tok(after.unbonding)} unbonding", end="")
    if after.unbonding:
        from node.cli.account import when

        print(f" until {when(after.unbond_at)}")
    else:
        print()
    return 0
