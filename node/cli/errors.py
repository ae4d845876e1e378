"""Errors of the account commands (``ccm stake``, ``ccm token``).

Hierarchy (bases from :mod:`node.errors`)::

    ChainError
    └── Refused        the chain refused the transaction: the contract's custom error, explained
    ConfigError
    └── BadAddress     an argument that is not an Ethereum address

A refusal keeps the contract's error name and arguments (decoded by :mod:`node.chain.revert`) and
adds one sentence a person can act on, so ``str(err)`` reads
``refused: StakingRegistry_StillBonded(unbondAt=…): the stake unbonds at 2026-12-06 17:00 UTC``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from node.errors import ChainError, ConfigError


class BadAddress(ConfigError):
    """``value`` given for ``field`` is not a 20-byte hex address."""

    def __init__(self, field: str, value: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: not an Ethereum address: {value!r}")


class Refused(ChainError):
    """The chain refused: ``error_name`` / ``error_args`` as the contract raised them; ``reason``
    says it for people."""

    def __init__(self, error_name: str, error_args: Mapping[str, Any], reason: str) -> None:
        self.error_name = error_name
        self.error_args = dict(error_args)
        self.reason = reason
        rendered = ", ".join(f"{k}={v}" for k, v in self.error_args.items())
        super().__init__(f"refused: {error_name}({rendered}): {reason}")


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _tok(units: int) -> str:
    from tokenomics.units import units_to_tokens

    return units_to_tokens(int(units)) + " tokens"


#: What each refusal means for the person who asked, by the contract's error name.
REASONS: Mapping[str, Any] = {
    "StakingRegistry_ZeroAmount": lambda a: "the amount must be more than zero",
    "StakingRegistry_InsufficientStake": lambda a: (
        f"only {_tok(a['active'])} are actively staked, {_tok(a['requested'])} were asked to unbond"
    ),
    "StakingRegistry_NothingToWithdraw": lambda a: (
        "nothing is unbonding: run `ccm stake unbond AMOUNT` first"
    ),
    "StakingRegistry_StillBonded": lambda a: f"the stake unbonds at {_when(a['unbondAt'])}",
    "StakingRegistry_OpenDuties": lambda a: (
        f"{a['openDuties']} audit or panel duties are still open; withdraw once those jobs have ended"
    ),
    "ERC20InsufficientBalance": lambda a: f"the balance is {_tok(a['balance'])}, {_tok(a['needed'])} needed",
    "ERC20InsufficientAllowance": lambda a: f"allowance {_tok(a['allowance'])}, {_tok(a['needed'])} needed",
    "ERC20InvalidReceiver": lambda a: f"tokens cannot be sent to {a['receiver']}",
}


def refusal(exc: Any) -> Refused:
    """A :class:`Refused` from a :class:`node.chain.errors.ContractRevert` (its name kept, explained)."""
    explain = REASONS.get(exc.error_name)
    reason = explain(exc.error_args) if explain else f"{exc.contract}.{exc.function} reverted"
    return Refused(exc.error_name, exc.error_args, reason)
