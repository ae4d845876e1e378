"""Errors of the capacity package.

Hierarchy (under :class:`node.errors.CcmError`)::

    CapacityError           base
    ├── ProbeError          the probe could not measure the requested device, or a probe
    │                       document (JSON) is malformed (``field`` names the offending key)
    └── ChallengeError      a capacity challenge or answer is malformed or out of range
                            (``field`` names it); a *failed* challenge is a result, not an error
"""

from __future__ import annotations

from node.errors import CcmError


class CapacityError(CcmError):
    """Base of the capacity package's errors."""

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ProbeError(CapacityError):
    """The device cannot be probed, or a probe document is malformed."""


class ChallengeError(CapacityError):
    """A capacity challenge or answer is malformed or out of range."""
