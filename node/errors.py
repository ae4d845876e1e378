"""Errors of the node package.

Hierarchy::

    CcmError                      base of everything the node raises on purpose
    ├── ConfigError               bad or missing configuration, home folder or key
    ├── DevnetError               Anvil could not be started, reached or stopped
    ├── ChainError                an RPC or transaction failure (see node.chain for details)
    ├── JobSpecError              a job spec that fails validation (names the field)
    ├── WorkloadError             a job that cannot run or exceeded its limits
    └── ProtocolError             a peer sent something invalid, too large or too late

Each class carries the fields a caller needs to act on it; ``str(err)`` is one line for the CLI.
Subclasses may be added next to the code that raises them, but must derive from one of these.
"""

from __future__ import annotations


class CcmError(Exception):
    """Base of every error the node raises on purpose; the CLI prints it as one line."""


class ConfigError(CcmError):
    """Configuration, home folder or key material is missing or invalid."""


class DevnetError(CcmError):
    """The local Anvil devnet could not be started, reached or stopped."""


class ChainError(CcmError):
    """An RPC call or transaction failed."""


class JobSpecError(CcmError):
    """A job spec failed validation.

    ``field`` is the dotted path of the offending field (``"inputs.a.blob"``), ``""`` for the whole spec.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class WorkloadError(CcmError):
    """A job could not run, or exceeded one of its limits."""


class ProtocolError(CcmError):
    """A peer sent a message that is malformed, oversized, unexpected or late."""
