"""Fixtures of the chain tests that need a chain of their own (reorgs, blocks mined by hand)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount

from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.deploy import DeployParams, deploy_all


@pytest.fixture
def own_chain() -> Iterator[Chain]:
    """A fresh Anvil with the contracts deployed (devnet parameters, tokens minted to the ten dev
    accounts): reorgs and hand-mined blocks do not mix with the session Anvil's snapshots."""
    accounts: list[LocalAccount] = [a.account for a in devnet_accounts(devnet=True)]
    with AnvilProcess() as anvil:
        client = ChainClient(anvil.rpc_url)
        deployment = deploy_all(
            client, accounts[0], holders=[a.address for a in accounts], params=DeployParams(), devnet=True
        )
        yield Chain.connect(deployment)
