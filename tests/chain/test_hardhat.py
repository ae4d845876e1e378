"""A second EVM implementation: Hardhat 3's node (EDR), pinned in package-lock.json, run with the
Node.js 22 that npm installs. The deploy path, the follower and revert decoding behave as on Anvil."""

from __future__ import annotations

import time
from pathlib import Path

from node.chain.accounts import devnet_accounts
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.confirm import deploy_confirmed
from node.chain.deploy import DeployParams
from node.chain.hardhat import HardhatProcess
from node.store import Store
from tests.chain.test_fees import _overdraw


def test_hardhat_refuses_a_revert_at_send_and_the_client_names_it() -> None:
    accounts = tuple(a.account for a in devnet_accounts(devnet=True))
    with HardhatProcess() as hardhat:
        # Hardhat answers eth_sendRawTransaction with code 3 (Anvil mines the failure): same error
        assert _overdraw(hardhat.rpc_url, accounts) == "ERC20InsufficientBalance"


def test_deploy_and_follow_on_hardhat_with_a_block_time(tmp_path: Path) -> None:
    accounts = tuple(a.account for a in devnet_accounts(devnet=True))
    with HardhatProcess(block_time_s=1) as hardhat:
        client = ChainClient(hardhat.rpc_url, block_time_s=1)
        deployment, seen = deploy_confirmed(
            client,
            accounts[0],
            holders=[a.address for a in accounts],
            params=DeployParams(),
            devnet=True,
            confirmations=2,
            block_time_s=1,
        )
        assert seen >= 2 and deployment.deploy_block_hash
        chain = Chain.connect(deployment)
        with Store.open(tmp_path / "node.db") as store:
            follower = chain.follower(store, confirmations=2)
            follower.poll()
            receipt = chain.token.transfer(accounts[1], accounts[2].address, 3)
            events = list(follower.poll().events)
            while follower.head is None or follower.head.number < receipt.block_number + 1:
                time.sleep(0.2)  # the chain mines every second: two confirmations come by themselves
                events += follower.poll().events
            found = [e for e in events if e.name == "Transfer" and e.args["value"] == 3]
            assert len(found) == 1 and found[0].block_number == receipt.block_number
