"""The one loader of compiled contracts: Forge artifacts under ``contracts/out``.

The contracts folder is found relative to the installed package (the repository root is the
parent of the ``node`` package folder), so the node works from an editable install wherever the
checkout lives. Artifacts are cached per process; a missing one raises
:class:`~node.chain.errors.ArtifactMissingError` telling the user to run ``scripts/setup``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import node
from node.chain.errors import ArtifactMissingError

#: The contracts a deployment holds, by name (file ``<Name>.sol`` in ``contracts/src``).
CONTRACT_NAMES: tuple[str, ...] = (
    "ComputeToken",
    "StakingRegistry",
    "JobMarket",
    "CapacityRegistry",
    "CapacityClaims",
)


def repo_root() -> Path:
    """The checkout's root folder (parent of the ``node`` package)."""
    return Path(node.__file__).resolve().parent.parent


def contracts_dir() -> Path:
    """The Foundry project folder."""
    return repo_root() / "contracts"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode (``0x``-prefixed hex)."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str

    def abi_list(self) -> list[dict[str, Any]]:
        """The ABI as the mutable list web3 expects."""
        return list(self.abi)


@functools.cache
def load_artifact(name: str, *, source_file: str | None = None) -> Artifact:
    """Load ``contracts/out/<source_file>/<name>.json`` (``source_file`` defaults to ``<name>.sol``).

    Raises ArtifactMissingError if the file is absent or has no ABI.
    """
    path = contracts_dir() / "out" / (source_file or f"{name}.sol") / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissingError(name, path) from None
    except json.JSONDecodeError:
        raise ArtifactMissingError(name, path) from None
    abi = raw.get("abi")
    if not isinstance(abi, list):
        raise ArtifactMissingError(name, path)
    bytecode = raw.get("bytecode", {}).get("object", "") or ""
    if bytecode and not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return Artifact(name=name, abi=tuple(abi), bytecode=bytecode)
