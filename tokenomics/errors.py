"""Errors of the tokenomics library.

Hierarchy::

    TokenomicsError          base
    ├── ParameterError       a model parameter is missing or outside its range (``name`` says which)
    └── MarketDataError      the bundled market-data file is missing, malformed, or lacks a GPU class
"""

from __future__ import annotations


class TokenomicsError(Exception):
    """Base of every error the tokenomics library raises on purpose."""


class ParameterError(TokenomicsError):
    """A model parameter is missing or out of range; ``name`` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


class MarketDataError(TokenomicsError):
    """The market-data file cannot be used; ``gpu_class`` names an unknown class when that is the cause."""

    def __init__(self, message: str, *, gpu_class: str | None = None) -> None:
        self.gpu_class = gpu_class
        super().__init__(message)
