"""``ccm token transfer TO AMOUNT``: send tokens from the node's account.

AMOUNT is in tokens (a decimal with at most 18 places). A bad address is refused before anything is
signed (:class:`node.cli.errors.BadAddress`); the token's own refusals (``ERC20InsufficientBalance``,
``ERC20InvalidReceiver``) come back named and explained (:class:`node.cli.errors.Refused`).
"""

from __future__ import annotations

import argparse
from typing import Any

from node.cli._confirm import add_confirmations_option, confirm_sent, confirmations_text
from node.cli._output import emit_json
from node.cli._parsers import command_group
from node.cli.account import add_account_options


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "token", parents=parents, help="move tokens")
    transfer = sub.add_parser("transfer", parents=parents, help="send AMOUNT tokens to address TO")
    transfer.add_argument("to", help="recipient address (0x…)")
    transfer.add_argument("amount", help="tokens (decimal)")
    add_account_options(transfer)
    add_confirmations_option(transfer)
    transfer.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
    transfer.set_defaults(func=_transfer)


def _transfer(args: argparse.Namespace) -> int:
    from eth_utils import is_hex_address, to_checksum_address

    from node.cli.errors import BadAddress
    from node.cli.stake import send, signer
    from tokenomics.units import tokens_to_units
    from tokenomics.units import units_to_tokens as tok

    if not is_hex_address(args.to):
        raise BadAddress("TO", args.to)
    to = to_checksum_address(args.to)
    amount = tokens_to_units(args.amount)
    ctx = signer(args)
    try:
        token = ctx.chain.token
        receipt = send(lambda: token.transfer(ctx.account, to, amount))
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        balance = token.balance_of(ctx.address)
    finally:
        ctx.close()
    if args.json:
        emit_json(
            {
                "from": ctx.address,
                "to": to,
                "amount": str(amount),
                "balance": str(balance),
                "tx_hash": receipt.tx_hash,
                "block": receipt.block_number,
                "confirmations": seen,
                "amounts": "token base units as decimal strings",
            }
        )
        return 0
    print(
        f"sent {tok(amount)} tokens to {to} (tx {receipt.tx_hash}, block {receipt.block_number})"
        + confirmations_text(seen)
    )
    print(f"balance now: {tok(balance)} tokens")
    return 0
