"""Errors of the verifier library.

Hierarchy::

    VerifierError            base
    ├── InvalidArgument      a caller passed a value outside its documented range (``name`` says which)
    └── CommitmentError      malformed commitment data (hash lengths, indices out of range, bad proofs)
"""

from __future__ import annotations


class VerifierError(Exception):
    """Base of every error the verifier library raises on purpose."""


class InvalidArgument(VerifierError):
    """An argument is outside its documented range; ``name`` is the argument's name."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


class CommitmentError(VerifierError):
    """Commitment data is malformed: wrong hash length, index out of range, inconsistent proof."""
