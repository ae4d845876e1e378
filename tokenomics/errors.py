"""Errors of the tokenomics library.

Hierarchy::

    TokenomicsError          base
    └── ParameterError       a model parameter is missing or outside its range (``name`` says which)
"""

from __future__ import annotations


class TokenomicsError(Exception):
    """Base of every error the tokenomics library raises on purpose."""


class ParameterError(TokenomicsError):
    """A model parameter is missing or out of range; ``name`` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")
