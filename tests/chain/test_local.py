"""Pieces of the chain client that need no deployment: artifacts, accounts and keystores, Anvil's
lifecycle, the deployment record, and the trio facade."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import trio
from eth_account.signers.local import LocalAccount

from node.chain import artifacts
from node.chain.accounts import (
    DEVNET_MNEMONIC,
    create_keystore,
    devnet_account,
    devnet_accounts,
    load_keystore,
    load_signer,
)
from node.chain.aio import AsyncChain
from node.chain.anvil import AnvilProcess, is_answering, pid_alive, stop_pid
from node.chain.chain import Chain
from node.chain.deployment import Deployment
from node.chain.errors import ArtifactMissingError, ChainIdMismatch, DeploymentMissingError, KeystoreError
from node.chain.events import DecodedEvent
from node.chain.follower import FollowUpdate
from node.errors import ConfigError
from node.store import Store


def test_artifact_loads_abi_and_bytecode() -> None:
    art = artifacts.load_artifact("ComputeToken")
    assert art.bytecode.startswith("0x6") and any(e.get("name") == "permit" for e in art.abi)


def test_missing_artifact_says_run_setup() -> None:
    with pytest.raises(ArtifactMissingError, match="run scripts/setup") as info:
        artifacts.load_artifact("NoSuchContract")
    assert info.value.path == artifacts.contracts_dir() / "out" / "NoSuchContract.sol" / "NoSuchContract.json"


def test_devnet_accounts_are_refused_outside_devnet() -> None:
    with pytest.raises(ConfigError, match="devnet"):
        devnet_accounts(devnet=False)
    with pytest.raises(ConfigError, match="out of range"):
        devnet_account(10, devnet=True)
    first = devnet_accounts(devnet=True)[0]
    assert first.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # Anvil's account 0
    assert "PUBLIC TEST KEY" in first.label and "junk" in DEVNET_MNEMONIC


def test_keystore_round_trip_and_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keystore.json"
    account = create_keystore(path, "correct horse")
    assert path.stat().st_mode & 0o077 == 0  # private to the owner
    assert load_keystore(path, "correct horse").address == account.address
    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(path, "x")
    with pytest.raises(KeystoreError, match="wrong password"):
        load_keystore(path, "wrong")
    with pytest.raises(KeystoreError, match="not found"):
        load_keystore(tmp_path / "none.json", "x")
    (tmp_path / "junk.json").write_text("{]")
    with pytest.raises(KeystoreError, match="unreadable"):
        load_keystore(tmp_path / "junk.json", "x")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(KeystoreError, match="not an eth-account keystore"):
        load_keystore(tmp_path / "other.json", "x")
    monkeypatch.setenv("CCM_PASSWORD", "correct horse")
    assert load_signer(devnet=False, keystore=path).address == account.address
    monkeypatch.delenv("CCM_PASSWORD")
    with pytest.raises(KeystoreError, match="CCM_PASSWORD"):
        load_signer(devnet=False, keystore=path)  # stdin is not a TTY under pytest
    with pytest.raises(ConfigError, match="devnet"):
        load_signer(devnet=False, keystore=path, devnet_index=0)


def test_anvil_process_stops_and_leaves_nothing_running(tmp_path: Path) -> None:
    with AnvilProcess(log_path=tmp_path / "anvil.log") as anvil:
        pid, url = anvil.pid, anvil.rpc_url
        assert anvil.running() and is_answering(url) and pid_alive(pid)
    assert not pid_alive(pid) and not is_answering(url)
    assert stop_pid(pid) is False  # idempotent


def test_deployment_record_validation(tmp_path: Path, deployment: Deployment) -> None:
    path = tmp_path / "deployment.json"
    deployment.save(path)
    assert Deployment.load(path) == deployment
    with pytest.raises(DeploymentMissingError, match="ccm devnet up"):
        Deployment.load(tmp_path / "absent.json")
    broken = deployment.to_json()
    broken["contracts"]["JobMarket"] = "0x1234"
    path.write_text(json.dumps(broken))
    with pytest.raises(DeploymentMissingError, match="no valid address for JobMarket"):
        Deployment.load(path)
    path.write_text("[]")
    with pytest.raises(DeploymentMissingError, match="not a JSON object"):
        Deployment.load(path)


def test_wrong_chain_id_is_refused(deployment: Deployment) -> None:
    wrong = Deployment(**{**deployment.to_json(), "chain_id": 1})
    with pytest.raises(ChainIdMismatch, match="expected 1, endpoint serves 31337"):
        Chain.connect(wrong)


def test_devnet_helpers_refuse_a_real_deployment(deployment: Deployment) -> None:
    real = Chain.connect(Deployment(**{**deployment.to_json(), "devnet": False}))
    with pytest.raises(ConfigError, match="devnet-only"):
        real.increase_time(10)


async def test_async_facade_runs_calls_and_follows_events(
    chain: Chain, dev_accounts: tuple[LocalAccount, ...], tmp_path: Path
) -> None:
    achain = AsyncChain(chain)
    sender, receiver = dev_accounts[4], dev_accounts[9]
    got: list[DecodedEvent] = []
    done = trio.Event()

    async def handle(update: FollowUpdate) -> None:
        got.extend(e for e in update.events if e.name == "Transfer" and e.args["to"] == receiver.address)
        if len(got) >= 3:
            done.set()

    with Store.open(tmp_path / "node.db") as store:
        follower = chain.follower(store)
        await achain.run(follower.poll)  # the deployment's history first
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(follower.run, achain, handle))
            async with trio.open_nursery() as senders:  # concurrent transactions from trio tasks
                for _ in range(3):
                    senders.start_soon(achain.run, chain.token.transfer, sender, receiver.address, 1)
            follower.wake()
            with trio.fail_after(10):
                await done.wait()
            nursery.cancel_scope.cancel()
    assert [e.args["value"] for e in got] == [1, 1, 1]
    assert await achain.run(chain.token.balance_of, receiver.address) == chain.token.balance_of(
        receiver.address
    )
