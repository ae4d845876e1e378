"""``scripts/demo --rpc-url URL``: the demo on a chain that is already up (a separate Anvil started
here, not through ``ccm devnet up``), its accounts from a mnemonic that is not Anvil's public one.

The direct mode runs twice (every party in the demo's process through the chain client): deployed
by the demo with a mnemonic's accounts, then on that deployment (``--deployment``) with the same
accounts as keystore files (``--keystore-dir``); 35-70 s in all on this 2-core machine. The
multi-process market on an existing chain (node homes signing with keystores:
:class:`node.demo.procs.KeyRing`) takes about 230 s: ``slow`` (``scripts/test --slow``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from node.chain.accounts import create_keystore, mnemonic_accounts
from node.chain.anvil import AnvilProcess
from node.chain.client import ChainClient
from node.chain.deployment import DEPLOYMENT_FILE, Deployment
from node.config import load_config
from node.demo.procs import KeyRing, signer_args

ROOT = Path(__file__).resolve().parents[2]
#: A valid BIP-39 phrase (the standard test vector), not Anvil's "test … junk".
MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _demo(home: Path, *argv: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    env.pop("CCM_HOME", None)
    if password is not None:
        env["CCM_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "node.demo", "--home", str(home), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc


def test_the_demo_runs_on_an_existing_chain_by_its_url(tmp_path: Path) -> None:
    accounts = mnemonic_accounts(MNEMONIC, 10)
    with AnvilProcess(extra_args=("--mnemonic", MNEMONIC)) as anvil:
        home = tmp_path / "demo"
        result = _report(
            _demo(home, "--rpc-url", anvil.rpc_url, "--mnemonic", MNEMONIC, "--mode", "direct", "--json")
        )
        assert (result["rpc_url"], result["chain_id"]) == (anvil.rpc_url, anvil.chain_id)
        assert not (home / "devnet").exists()  # no devnet of its own was started
        deployment = Deployment.load(home / DEPLOYMENT_FILE)  # deployed by the one deploy path
        assert deployment.contracts == result["contracts"] and deployment.deploy_block_hash
        cast = {p["address"] for p in result["participants"]}
        assert cast <= {a.address for a in accounts[1:]}  # the mnemonic's accounts play the parts
        by_status = {j["status"] for j in result["jobs"]}
        assert by_status == {"completed", "slashed"}
        client = ChainClient(anvil.rpc_url)
        assert client.block_number() >= result["block"]  # the chain is left running, as it was

        # Again on the same contracts (--deployment), the same accounts now from keystore files:
        # nothing is deployed, the market carries on.
        keys = tmp_path / "keys"
        for n, account in enumerate(accounts):
            create_keystore(keys / f"{n:02d}.json", "pw", private_key=account.key)
        again = _report(
            _demo(
                tmp_path / "again",
                *("--rpc-url", anvil.rpc_url, "--keystore-dir", str(keys), "--mode", "direct", "--json"),
                *("--deployment", str(home / DEPLOYMENT_FILE)),
                password="pw",
            )
        )
        assert again["contracts"] == result["contracts"] and again["start_block"] > result["block"]
        assert {j["status"] for j in again["jobs"]} == {"completed", "slashed"}


@pytest.mark.slow
def test_the_market_runs_on_an_existing_chain_with_keystore_homes(tmp_path: Path) -> None:
    """The multi-process market by URL: every node home signs with a keystore of the mnemonic's
    account (225 s on this 2-core machine at load 3.6)."""
    accounts = mnemonic_accounts(MNEMONIC, 10)
    with AnvilProcess(extra_args=("--mnemonic", MNEMONIC)) as anvil:
        home = tmp_path / "demo"
        result = _report(_demo(home, "--rpc-url", anvil.rpc_url, "--mnemonic", MNEMONIC, "--json"))
        assert result["mode"] == "market" and result["rpc_url"] == anvil.rpc_url
        for p in result["participants"]:
            node_home = home / "nodes" / p["name"]
            keystore = load_config(node_home).keystore_path
            assert keystore.is_file(), p["name"]  # signed with its keystore, not a public dev key
            assert p["address"] in {a.address for a in accounts[1:]}
        assert {j["status"] for j in result["jobs"]} == {"completed", "slashed"}
        assert result["claims"]["redeemed"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mnemonic"], "--mnemonic goes with --rpc-url"),
        (["--rpc-url", "http://127.0.0.1:1"], "--rpc-url needs the accounts"),
        (["--rpc-url", "http://127.0.0.1:1", "--mnemonic", "--keep"], "--keep keeps a devnet"),
        (["--rpc-url", "http://127.0.0.1:1", "--mnemonic", "not a phrase"], "not a usable BIP-39 mnemonic"),
    ],
)
def test_a_bad_mix_of_options_is_one_line(tmp_path: Path, argv: list[str], message: str) -> None:
    proc = _demo(tmp_path, *argv)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_node_homes_sign_with_keystores_of_the_chosen_accounts(tmp_path: Path) -> None:
    accounts = mnemonic_accounts(MNEMONIC, 3)
    ring = KeyRing.create(tmp_path, accounts)
    assert oct(ring.password_file.stat().st_mode & 0o777) == "0o600"
    node_home = tmp_path / "node"
    node_home.mkdir()
    assert signer_args(node_home, 2) == ["--account-index", "2"]  # no keystore: the public dev key
    ring.install(node_home, 2)
    assert signer_args(node_home, 2) == []  # the keystore decides
    from node.chain.accounts import load_keystore

    password = ring.password_file.read_text().splitlines()[0]
    assert load_keystore(load_config(node_home).keystore_path, password).address == accounts[2].address
    assert ring.env() == {"CCM_PASSWORD_FILE": str(ring.password_file)}
