"""Shared fixtures: one real Anvil per test session with the contracts deployed, snapshots per test.

* ``anvil`` (session) — an Anvil child process on a free 127.0.0.1 port, always stopped at the end.
* ``deployment`` (session) — the four contracts deployed once with the devnet defaults
  (:class:`node.chain.deploy.DeployParams`); tokens minted to Anvil's 10 PUBLIC dev accounts.
* ``chain`` (function) — a :class:`node.chain.chain.Chain` on that deployment inside an
  ``evm_snapshot`` taken before the test and reverted after it, so every test starts from the
  freshly deployed state (block, time, balances) whatever the previous one did.
* ``dev_accounts`` (session) — the dev accounts as eth-account ``LocalAccount`` objects;
  index 0 deployed the contracts.

* ``nodes`` (function) — node homes on that chain (:class:`tests.roles.conftest.Nodes`), closed after.
* ``probe_result`` (session) — one tiny CPU probe for every provider (the advert is what matters).
* ``book`` (function) — a claims order book in a temp node store.

``--slow`` also runs the tests marked ``slow`` (skipped otherwise; ``scripts/test --slow``).

Tests that need the chain but not the contracts can use ``anvil`` and ``chain_snapshot`` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from node.capacity.probe import ProbeResult, probe
from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.deploy import DeployParams, deploy_all
from node.chain.deployment import Deployment
from node.claims.book import OrderBook
from tests.claims.helpers import open_book
from tests.roles.conftest import Nodes


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the tests marked slow (job lifecycles on Hardhat and on clocked chains)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run only with ``--slow`` (``scripts/test --slow``)."""
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with scripts/test --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilProcess]:
    process = AnvilProcess()
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def dev_accounts() -> tuple[LocalAccount, ...]:
    return tuple(a.account for a in devnet_accounts(devnet=True))


@pytest.fixture(scope="session")
def deploy_params() -> DeployParams:
    return DeployParams()


@pytest.fixture(scope="session")
def deployment(
    anvil: AnvilProcess, dev_accounts: tuple[LocalAccount, ...], deploy_params: DeployParams
) -> Deployment:
    client = ChainClient(anvil.rpc_url)
    return deploy_all(
        client,
        dev_accounts[0],
        holders=[a.address for a in dev_accounts],
        params=deploy_params,
        devnet=True,
    )


@pytest.fixture(scope="session")
def session_client(anvil: AnvilProcess) -> ChainClient:
    """One client for the session (its nonce counters are reset by ``chain_snapshot``)."""
    return ChainClient(anvil.rpc_url)


@pytest.fixture
def chain_snapshot(session_client: ChainClient, deployment: Deployment) -> Iterator[ChainClient]:
    """Take an EVM snapshot before the test and revert to it afterwards (nonces and clock resynced)."""
    chain = Chain.connect(deployment, client=session_client)
    snapshot_id = chain.snapshot()
    try:
        yield session_client
    finally:
        chain.revert(snapshot_id)


@pytest.fixture
def chain(deployment: Deployment, chain_snapshot: ChainClient) -> Chain:
    return Chain.connect(deployment, client=chain_snapshot)


@pytest.fixture(scope="session")
def probe_result() -> ProbeResult:
    """One tiny CPU probe for every provider in the session (the advert is what matters here)."""
    return probe(device="cpu", quick=True, sizes=(64,), dtypes=("float32",), budget_s=0.3)


@pytest.fixture
def nodes(tmp_path: Path, chain: Chain) -> Iterator[Nodes]:
    made = Nodes(tmp_path, chain)
    try:
        yield made
    finally:
        for ctx in made.opened:
            ctx.close()


@pytest.fixture
def book(tmp_path: Path) -> Iterator[OrderBook]:
    with open_book(tmp_path / "book") as (_store, opened):
        yield opened
