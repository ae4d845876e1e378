"""``ccm chain deploy`` against Anvils that mine on a clock, ``ccm devnet up --block-time``, and the
refusals: another chain id, a reset chain, dev keys on a foreign chain, an existing record."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.chain import devnet
from node.chain.accounts import PASSWORD_ENV, create_keystore, devnet_account, devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.client import ChainClient
from node.chain.deploy import DeployParams
from node.chain.deployment import Deployment
from node.chain.errors import ChainIdMismatch, ChainReset
from node.chain.params import load_params_file, measure_block_time, production_params
from node.cli import main
from node.config import ConfigKeyError


@pytest.fixture
def clocked_anvil() -> Iterator[AnvilProcess]:
    with AnvilProcess(extra_args=("--block-time", "1")) as anvil:
        yield anvil


def _deploy(home: Path, *args: str) -> int:
    return main(["chain", "deploy", "--home", str(home), *args])


def test_deploy_with_keystore_waits_for_confirmations_and_records_everything(
    tmp_path: Path,
    clocked_anvil: AnvilProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployer = devnet_account(3, devnet=True)
    keystore = tmp_path / "deployer.json"
    create_keystore(keystore, "pw", private_key=bytes(deployer.key))
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    home = tmp_path / "home"
    code = _deploy(
        home,
        "--rpc-url", clocked_anvil.rpc_url,
        "--keystore", str(keystore),
        "--block-time", "1",
        "--confirmations", "3",
        "--json",
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    obj = json.loads(out.out)
    assert obj["chain_id"] == 31337 and obj["confirmations"] >= 3 and obj["devnet"] is False
    record = Deployment.load(home / "deployment.json")
    assert record.params == dataclasses.asdict(production_params(1.0))
    assert record.block_time_s == 1.0 and record.deploy_block_hash.startswith("0x")
    chain = Chain.connect(record)
    assert chain.client.block_number() >= obj["deploy_block"] + 2  # three blocks deep at least
    market = chain.market.params()
    assert market.audit_probability_bps == 1_000 and market.attest_window == 600
    assert chain.capacity.reattest_period() == 7 * 86_400  # a verified figure is re-attested weekly
    assert chain.token.balance_of(deployer.address) == DeployParams().mint_per_holder
    # the record is not overwritten by a second deploy without --force
    assert _deploy(home, "--rpc-url", clocked_anvil.rpc_url, "--keystore", str(keystore)) == 1
    assert "exists" in capsys.readouterr().err


def test_params_file_overrides_the_preset_and_unknown_keys_are_named(tmp_path: Path) -> None:
    good = tmp_path / "params.toml"
    good.write_text('preset = "production"\nblock_time_s = 12\naudit_probability_bps = 2_500\n')
    params, block_time = load_params_file(good, block_time_s=2.0)
    assert block_time == 12.0 and params.audit_probability_bps == 2_500
    assert params.vote_window == 900 and params.attest_window == 600  # 75 and 50 blocks of 12 s
    slow = production_params(30.0)
    assert slow.attest_window == 1_500 and slow.vote_window == 2_250  # the block time wins over the floor
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"audit_probabilty_bps": 10}))
    with pytest.raises(ConfigKeyError) as info:
        load_params_file(bad, block_time_s=2.0)
    assert info.value.key == "audit_probabilty_bps"
    devnet_preset = tmp_path / "dev.toml"
    devnet_preset.write_text('preset = "devnet"\n')
    assert load_params_file(devnet_preset, block_time_s=2.0)[0] == DeployParams()


def test_dev_key_refused_on_a_foreign_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with AnvilProcess(chain_id=4242) as anvil:
        code = _deploy(tmp_path, "--rpc-url", anvil.rpc_url, "--dev-account", "0")
    err = capsys.readouterr().err
    assert code == 1 and "PUBLIC key: refused on chain 4242" in err and err.count("\n") == 1
    assert not (tmp_path / "deployment.json").exists()


def test_deploy_measures_the_block_time(clocked_anvil: AnvilProcess) -> None:
    client = ChainClient(clocked_anvil.rpc_url)
    while client.block_number() < 4:
        client.raw("evm_mine", [])  # mined on demand blocks share the second: the mean stays <= 1
    assert 0.0 <= measure_block_time(client) <= 1.0


def test_node_refuses_a_deployment_of_another_chain_or_a_reset_one(tmp_path: Path) -> None:
    home = tmp_path / "dev"
    try:
        deployment, _ = devnet.up(home, block_time_s=1)
        assert deployment.block_time_s == 1 and deployment.deploy_block_hash
        first = ChainClient(deployment.rpc_url).block_number()
        with pytest.raises(ChainIdMismatch):
            Chain.connect(dataclasses.replace(deployment, chain_id=1))
        with pytest.raises(ChainReset, match="reset"):
            Chain.connect(dataclasses.replace(deployment, deploy_block_hash="0x" + "ab" * 32))
        Chain.connect(deployment)  # the true record connects
        client = ChainClient(deployment.rpc_url)
        while client.block_number() < first + 2:  # the chain moves on its own clock, no transaction
            time.sleep(0.2)
    finally:
        devnet.down(home)


def test_devnet_up_cli_block_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        assert main(["devnet", "up", "--block-time", "2", "--json", "--home", str(tmp_path)]) == 0
        obj = json.loads(capsys.readouterr().out)
        assert obj["block_time_s"] == 2.0
        # a different block time is another devnet: the first is replaced, not reused
        assert main(["devnet", "up", "--json", "--home", str(tmp_path)]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["block_time_s"] == 0.0 and again["rpc_url"] != obj["rpc_url"]
    finally:
        devnet.down(tmp_path)


def test_dev_account_allocation_is_per_chain_not_per_token_address(tmp_path: Path) -> None:
    from node.chain.confirm import deploy_confirmed
    from node.roles.context import devnet_index_for_home

    accounts = [a.account for a in devnet_accounts(devnet=True)]

    def fresh_chain(anvil: AnvilProcess) -> Chain:
        client = ChainClient(anvil.rpc_url)
        holders = [a.address for a in accounts]
        deployment, _ = deploy_confirmed(
            client,
            accounts[0],
            holders=holders,
            params=DeployParams(),
            devnet=True,
            confirmations=1,
            block_time_s=0.0,
        )
        return Chain.connect(deployment)

    with AnvilProcess() as first:
        chain = fresh_chain(first)
        taken = {devnet_index_for_home(tmp_path / f"a{i}", chain) for i in range(10)}
        assert taken == set(range(10))  # every dev account handed out once on this chain
    with AnvilProcess() as second:
        again = fresh_chain(second)  # the same deployer and nonces: the same token address
        assert again.deployment.address("ComputeToken") == chain.deployment.address("ComputeToken")
        assert devnet_index_for_home(tmp_path / "b0", again) == 1  # a new chain: all free again
