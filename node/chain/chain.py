"""One handle on a deployment: the client plus the typed wrappers.

``Chain.connect(deployment)`` is what roles, the CLI and the demo call; they never bind contracts
themselves. Devnet-only helpers (moving time, mining, snapshots) sit here too and refuse to run
against a deployment that is not marked ``devnet``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from node.chain.artifacts import CONTRACT_NAMES, load_artifact
from node.chain.capacity import CapacityRegistry
from node.chain.claims import Claims
from node.chain.client import ChainClient
from node.chain.confirm import check_deploy_block
from node.chain.contract import BoundContract
from node.chain.deployment import DEPLOYMENT_FILE, Deployment
from node.chain.errors import NotDevnetError
from node.chain.events import EventDecoder, EventWatcher
from node.chain.follower import CursorStore, Follower
from node.chain.market import Market
from node.chain.registry import Registry
from node.chain.token import Token
from node.errors import ConfigError

if TYPE_CHECKING:
    from node.config import ChainSection
    from node.store import Store


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
        cls,
        deployment: Deployment,
        *,
        rpc_url: str | None = None,
        client: ChainClient | None = None,
        settings: ChainSection | None = None,
    ) -> Chain:
        """Bind every contract of ``deployment``; checks the endpoint serves the recorded chain id
        (ChainIdMismatch) and still holds the recorded deploy block (ChainReset).

        The endpoint: ``rpc_url``, else ``settings.rpc_url`` (the node's ``[chain] rpc_url``) when
        set, else the one in the record. ``settings`` also gives the fee cap and replacement policy.
        """
        if client is None:
            url = rpc_url or (settings.rpc_url if settings is not None else "") or deployment.rpc_url
            expected, block_time = deployment.chain_id, deployment.block_time_s
            if settings is not None:
                client = ChainClient.from_config(
                    settings, rpc_url=url, expected_chain_id=expected, block_time_s=block_time
                )
            else:
                client = ChainClient(url, expected_chain_id=expected, block_time_s=block_time)
        client.chain_id  # noqa: B018 - fail now, not at the first transaction, on a wrong endpoint
        check_deploy_block(client, deployment)
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

    def follower(
        self, store: Store, *, name: str = "events", confirmations: int = 1, events: bool = True
    ) -> Follower:
        """The node's follower of every event of the deployment's contracts, its cursor in ``store``
        under ``name``, paced by the deployment's block time (see :mod:`node.chain.follower`).
        ``events=False``: no events, only reorgs (of the head and of this node's own transactions)."""
        contracts = CONTRACT_NAMES if events else ()
        decoder = EventDecoder({self.deployment.address(n): load_artifact(n) for n in contracts})
        return Follower(
            self.client,
            decoder,
            CursorStore(store, name),
            start_block=self.deployment.deploy_block,
            confirmations=confirmations,
            block_time_s=self.deployment.block_time_s,
        )

    # -- devnet only ----------------------------------------------------------------------------

    def _devnet_only(self, what: str) -> None:
        if not self.deployment.devnet:
            raise NotDevnetError(what, chain_id=self.deployment.chain_id)

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
