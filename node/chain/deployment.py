"""The deployment record (``<home>/deployment.json``): which chain, which addresses, since which block.

Written by ``ccm devnet up`` and ``ccm chain deploy``, read by every role to bind the contracts.
JSON so that other tools (a wallet, ``cast``) can read it too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from node.chain.artifacts import CONTRACT_NAMES
from node.chain.errors import DeploymentMissingError

DEPLOYMENT_FILE = "deployment.json"


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live.

    ``contracts`` maps contract name (``ComputeToken``, ``StakingRegistry``, ``JobMarket``,
    ``CapacityClaims``) to its checksummed address; ``deploy_block`` is where event scans start;
    ``devnet`` marks a local Anvil (dev accounts allowed); ``params`` records the deploy parameters;
    ``block_time_s`` is the chain's block time the deployment was made for (0: mines on demand), which
    paces the node's polls; ``deploy_block_hash`` is the hash of ``deploy_block``: it tells this
    chain from another one that happens to have the same id and addresses (a fresh devnet);
    ``instance`` is a random id given at deployment, shared by every home that copies the record
    (two devnets started in the same second can even share block hashes).
    """

    chain_id: int
    rpc_url: str
    contracts: dict[str, str]
    deploy_block: int
    devnet: bool
    params: dict[str, Any] = field(default_factory=dict)
    block_time_s: float = 0.0
    deploy_block_hash: str = ""
    instance: str = ""

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentMissingError(Path(DEPLOYMENT_FILE), f"has no contract {name}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "rpc_url": self.rpc_url,
            "contracts": dict(self.contracts),
            "deploy_block": self.deploy_block,
            "devnet": self.devnet,
            "params": dict(self.params),
            "block_time_s": self.block_time_s,
            "deploy_block_hash": self.deploy_block_hash,
            "instance": self.instance,
        }

    @classmethod
    def from_json(cls, data: Any, *, path: Path) -> Deployment:
        """Validate and build; raises DeploymentMissingError naming what is wrong."""
        if not isinstance(data, dict):
            raise DeploymentMissingError(path, "is not a JSON object")
        try:
            contracts = data["contracts"]
            if not isinstance(contracts, dict):
                raise TypeError("contracts")
            for name in CONTRACT_NAMES:
                if not is_address(contracts.get(name)):
                    raise DeploymentMissingError(path, f"has no valid address for {name}")
            return cls(
                chain_id=int(data["chain_id"]),
                rpc_url=str(data["rpc_url"]),
                contracts={str(k): to_checksum_address(v) for k, v in contracts.items()},
                deploy_block=int(data.get("deploy_block", 0)),
                devnet=bool(data.get("devnet", False)),
                params=dict(data.get("params", {})),
                block_time_s=float(data.get("block_time_s", 0.0)),
                deploy_block_hash=str(data.get("deploy_block_hash", "")),
                instance=str(data.get("instance", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeploymentMissingError(path, f"is malformed ({type(exc).__name__}: {exc})") from None

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise DeploymentMissingError(path) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise DeploymentMissingError(path, f"is unreadable ({type(exc).__name__})") from None
        return cls.from_json(data, path=path)
