"""Confirmations in CLI answers: every command that sends transactions waits for them, then says
how many confirmations it saw (text: ``(N confirmations)``; ``--json``: ``"confirmations": N``,
``null`` when the command sent none).

``--confirmations N`` overrides ``[chain] confirmations`` (default 1: on inclusion). The wait is
:func:`node.chain.confirm.wait_receipts` over the transactions this process's chain client sent: a
transaction a reorg dropped makes the command fail (``TxDropped``) instead of answering with what
the chain no longer has.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.config import Config


def add_confirmations_option(parser: argparse.ArgumentParser) -> None:
    """``--confirmations N`` for a command that sends transactions."""
    parser.add_argument(
        "--confirmations",
        type=int,
        metavar="N",
        help="confirmations to wait for before answering (default: [chain] confirmations)",
    )


def confirm_sent(chain: Chain, config: Config, wanted: int | None) -> int | None:
    """Wait until this process's transactions have ``wanted`` (else ``[chain] confirmations``)
    confirmations; the fewest seen, ``None`` when none were sent."""
    from node.chain.confirm import wait_receipts
    from node.errors import ConfigError

    confirmations = config.chain.confirmations if wanted is None else wanted
    if confirmations < 1:
        raise ConfigError(f"--confirmations must be at least 1, got {confirmations}")
    return wait_receipts(
        chain.client,
        list(chain.client.receipts),
        confirmations=confirmations,
        block_time_s=chain.deployment.block_time_s,
    )


def confirmations_text(seen: int | None) -> str:
    """`` (N confirmations)`` for a text answer ('' when no transaction was sent)."""
    if seen is None:
        return ""
    return f" ({seen} confirmation{'' if seen == 1 else 's'})"
