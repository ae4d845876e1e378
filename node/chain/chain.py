"""One handle on a deployment: the client plus the typed wrappers.

``Chain.connect(deployment)`` is what roles, the CLI and the demo call; they never bind contracts
themselves. Devnet-only helpers (moving time, mining, snapshots) sit here too and refuse to run
against a deployment that is not marked ``devnet``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from node.chain.artifacts import CONTRACT_NAMES, load_artifact
from node.chain.capacity import CapacityRegistry
from node.chain.claims import Claims
from node.chain.client import ChainClient
from node.chain.contract import BoundContract
from node.chain.deployment import DEPLOYMENT_FILE, Deployment
from node.chain.events import EventDecoder, EventWatcher
from node.chain.market import Market
from node.chain.registry import Registry
from node.chain.token import Token
from node.errors import ConfigError


@dataclass(frozen=True)
class Chain:
    """The client and the bound contracts of one deployment."""

    client: ChainClient
    deployment: Deployment
    token: Token
    registry: Registry
    market: Market
    claims: Claims
    capacity: CapacityRegistry

    @classmethod
    def connect(
        cls, deployment: Deployment, *, rpc_url: str | None = None, client: ChainClient | None = None
    ) -> Chain:
        """Bind every contract of ``deployment``; checks the endpoint serves the recorded chain id."""
        client = client or ChainClient(rpc_url or deployment.rpc_url, expected_chain_id=deployment.chain_id)
        client.chain_id  # noqa: B018 - fail now, not at the first transaction, on a wrong endpoint
        bound = {n: BoundContract.named(client, n, deployment.address(n)) for n in CONTRACT_NAMES}
        token = Token(bound["ComputeToken"])
        market = Market(bound["JobMarket"], token)
        return cls(
            client=client,
            deployment=deployment,
            token=token,
            registry=Registry(bound["StakingRegistry"], token),
            market=market,
            claims=Claims(bound["CapacityClaims"], token, market),
            capacity=CapacityRegistry(bound["CapacityRegistry"], token),
        )

    @classmethod
    def from_home(cls, home: Path, *, rpc_url: str | None = None) -> Chain:
        """Connect to ``<home>/deployment.json`` (``rpc_url`` overrides the recorded endpoint, as
        ``--rpc-url`` does); raises DeploymentMissingError if there is none."""
        return cls.connect(Deployment.load(home / DEPLOYMENT_FILE), rpc_url=rpc_url)

    def event_watcher(self, *, from_block: int | None = None, confirmations: int = 0) -> EventWatcher:
        """A poller for every event of the deployment's contracts, from the deploy block by default."""
        decoder = EventDecoder({self.deployment.address(n): load_artifact(n) for n in CONTRACT_NAMES})
        start = self.deployment.deploy_block if from_block is None else from_block
        return EventWatcher(self.client, decoder, next_block=start, confirmations=confirmations)

    # -- devnet only ----------------------------------------------------------------------------

    def _devnet_only(self, what: str) -> None:
        if not self.deployment.devnet:
            raise ConfigError(f"{what} is a devnet-only operation")

    def increase_time(self, seconds: int, *, mine: bool = True) -> int:
        """Move the devnet clock forward (``evm_increaseTime``) and mine a block; the new timestamp."""
        self._devnet_only("increase_time")
        self.client.raw("evm_increaseTime", [seconds])
        if mine:
            self.client.raw("evm_mine", [])
        return self.client.timestamp()

    def mine(self, blocks: int = 1) -> int:
        """Mine ``blocks`` empty blocks (``anvil_mine``); the new head."""
        self._devnet_only("mine")
        self.client.raw("anvil_mine", [hex(blocks)])
        return self.client.block_number()

    def snapshot(self) -> str:
        self._devnet_only("snapshot")
        return str(self.client.raw("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> None:
        """Go back to a snapshot; the local nonce counters are dropped (the chain's are authoritative).

        Anvil (1.7.1) also rewinds its clock to the snapshot's: the next blocks then lag the wall
        clock by however long the reverted work took, and a node that reads deadlines against the
        wall clock (``roles.settle.chain_now``) would act early. So a lagging clock is put back on
        the wall clock (a clock moved ahead with ``increase_time`` is left where it is).
        """
        self._devnet_only("revert")
        if not self.client.raw("evm_revert", [snapshot_id]):
            raise ConfigError(f"snapshot {snapshot_id} unknown")
        self.client.nonces.reset()
        now = int(time.time())
        if self.client.timestamp() < now:
            self.client.raw("evm_setTime", [now])
