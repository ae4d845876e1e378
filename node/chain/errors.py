"""Errors of the chain client (``node.chain``).

Hierarchy (bases from :mod:`node.errors`)::

    ConfigError
    ├── ArtifactMissingError     a Forge artifact is not built (run scripts/setup)
    ├── DeploymentMissingError   no deployment.json in the home folder (run ccm devnet up)
    ├── KeystoreError            keystore missing, unreadable or wrong password
    └── NotDevnetError           a devnet-only operation (moving time, mining) asked of another chain
    DevnetError
    └── AnvilError               the anvil binary is missing, did not start or did not answer
    ChainError
    ├── RpcError                 the node could not be reached or answered an RPC call with an error
    ├── ContractRevert           a call or transaction reverted; carries the decoded custom error
    ├── TransactionFailed        a transaction was mined but failed without revert data, or timed out
    ├── ChainIdMismatch          the RPC serves another chain than the deployment or signature expects
    ├── NotConfirmed             a transaction did not reach the wanted confirmations (or a reorg dropped it)
    │   └── TxDropped            a reorg removed a mined transaction (gone, or reverted where it landed again)
    └── ChainReset               the deployment's block is gone: the chain was reset or replaced

``str(err)`` is always one line, ready for the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from node.errors import ChainError, ConfigError, DevnetError


class ArtifactMissingError(ConfigError):
    """A compiled contract artifact (``contracts/out/<File>.sol/<Name>.json``) does not exist."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        super().__init__(f"contract artifact {name} not found at {path}: run scripts/setup")


class DeploymentMissingError(ConfigError):
    """The home folder has no (readable) ``deployment.json``."""

    def __init__(self, path: Path, reason: str = "not found") -> None:
        self.path = path
        super().__init__(f"deployment {path} {reason}: run `ccm devnet up` or pass a deployment")


class KeystoreError(ConfigError):
    """An encrypted keystore could not be read or decrypted."""


class NotDevnetError(ConfigError):
    """A devnet-only operation (``what``) was asked of a deployment not marked ``devnet``."""

    def __init__(self, what: str, *, chain_id: int) -> None:
        self.what = what
        self.chain_id = chain_id
        super().__init__(
            f"{what} is a devnet-only operation; chain {chain_id} is not a devnet (its deployment "
            "record is not marked devnet)"
        )


class AnvilError(DevnetError):
    """Anvil is not installed, did not start, or did not answer in time."""


class RpcError(ChainError):
    """The RPC endpoint is unreachable or answered with an error that is not a revert."""


class TransactionFailed(ChainError):
    """A transaction failed without revert data (out of gas, dropped) or its receipt did not come."""

    def __init__(self, message: str, *, tx_hash: str | None = None) -> None:
        self.tx_hash = tx_hash
        super().__init__(message)


class ChainIdMismatch(ChainError):
    """The endpoint's chain id is not the one expected."""

    def __init__(self, *, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"chain id mismatch: expected {expected}, endpoint serves {actual}")


def _fmt_arg(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt_arg(v) for v in value) + "]"
    return str(value)


class ContractRevert(ChainError):
    """A contract call or transaction reverted.

    ``error_name`` is the custom error's name (``"JobMarket_NotProvider"``), ``"Error"`` for a string
    revert, ``"Panic"`` for a panic code, or ``"unknown"`` when the data matched no known ABI (then
    ``error_args`` holds ``{"data": hex}``). ``error_args`` maps the error's input names to decoded
    values (not ``args``: that name belongs to ``Exception``).
    """

    def __init__(
        self,
        contract: str,
        function: str,
        error_name: str,
        args: Mapping[str, Any],
        *,
        tx_hash: str | None = None,
    ) -> None:
        self.contract = contract
        self.function = function
        self.error_name = error_name
        self.error_args = dict(args)
        self.tx_hash = tx_hash
        rendered = ", ".join(f"{k}={_fmt_arg(v)}" for k, v in self.error_args.items())
        super().__init__(f"{contract}.{function} reverted: {error_name}({rendered})")


class NotConfirmed(ChainError):
    """A block did not get ``wanted`` confirmations in time, or a reorg dropped what it held."""

    def __init__(self, message: str, *, block: int, wanted: int, seen: int) -> None:
        self.block = block
        self.wanted = wanted
        self.seen = seen
        super().__init__(message)


class TxDropped(NotConfirmed):
    """A mined transaction (``tx_hash``, once in ``block``) that a reorg removed and the endpoint
    no longer knows, or that was mined again and reverted there: what it did is not on the chain."""

    def __init__(self, message: str, *, tx_hash: str, block: int, wanted: int) -> None:
        self.tx_hash = tx_hash
        super().__init__(message, block=block, wanted=wanted, seen=0)


class ChainReset(ChainError):
    """The endpoint's block at the deployment's ``deploy_block`` is not the recorded one."""

    def __init__(self, *, block: int, expected: str, actual: str) -> None:
        self.block = block
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"block {block} is {actual[:18]}..., the deployment recorded {expected[:18]}...: "
            "the chain was reset or this is another chain (deploy again)"
        )
