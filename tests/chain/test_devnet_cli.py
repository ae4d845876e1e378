"""``ccm devnet up|status|down|advance`` as a user runs it: separate processes, a temporary home."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from node.chain import devnet
from node.chain.anvil import is_answering, pid_alive
from node.chain.chain import Chain
from node.chain.deployment import Deployment
from node.cli import main

CCM = [sys.executable, "-c", "import sys; from node.cli import main; sys.exit(main())"]


def _ccm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CCM, *args, "--home", str(home)], capture_output=True, text=True, timeout=90)


def test_devnet_up_status_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pid = None
    try:
        up = _ccm(home, "devnet", "up", "--json")
        assert up.returncode == 0, up.stderr
        obj = json.loads(up.stdout)
        assert obj["chain_id"] == 31337
        assert obj["rpc_url"].startswith("http://127.0.0.1:")
        assert set(obj["contracts"]) >= {"ComputeToken", "JobMarket", "CapacityClaims", "StakingRegistry"}
        record = json.loads((home / "devnet" / "anvil.json").read_text())
        pid = int(record["pid"])
        assert pid_alive(pid) and is_answering(obj["rpc_url"])
        saved = Deployment.load(home / "deployment.json")
        assert (
            saved.devnet and saved.contracts == obj["contracts"] and saved.deploy_block == obj["deploy_block"]
        )

        again = _ccm(home, "devnet", "up", "--json")
        assert again.returncode == 0 and json.loads(again.stdout) == obj
        assert "already up" in again.stderr
        assert json.loads((home / "devnet" / "anvil.json").read_text())["pid"] == pid  # no second Anvil

        status = _ccm(home, "devnet", "status", "--json")
        state = json.loads(status.stdout)
        assert (
            state["running"] is True and state["contracts"] == obj["contracts"] and state["block_number"] >= 6
        )

        down = _ccm(home, "devnet", "down")
        assert down.returncode == 0 and "stopped" in down.stdout
        assert not pid_alive(pid)
        assert not (home / "deployment.json").exists()
        down_again = _ccm(home, "devnet", "down")
        assert down_again.returncode == 0 and "not running" in down_again.stdout
        assert devnet.status(home).running is False
    finally:
        if pid is not None and pid_alive(pid):
            subprocess.run([*CCM, "devnet", "down", "--home", str(home)], timeout=30, check=False)


def test_devnet_status_with_corrupt_record_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "devnet").mkdir()
    (tmp_path / "devnet" / "anvil.json").write_text("{not json")
    assert main(["devnet", "status", "--home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ccm: error: devnet record") and err.count("\n") == 1
    assert "Traceback" not in err


def test_devnet_down_when_nothing_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devnet", "down", "--home", str(tmp_path)]) == 0
    assert "not running" in capsys.readouterr().out
    assert main(["devnet", "status", "--home", str(tmp_path)]) == 0
    assert "not running" in capsys.readouterr().out


def test_devnet_advance_moves_chain_time_and_refuses_a_chain_that_is_not_a_devnet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], chain: Chain
) -> None:
    dev, real = tmp_path / "dev", tmp_path / "real"
    dev.mkdir()
    real.mkdir()
    chain.deployment.save(dev / "deployment.json")
    Deployment(**{**chain.deployment.to_json(), "devnet": False}).save(real / "deployment.json")
    before, block = chain.client.timestamp(), chain.client.block_number()

    assert main(["devnet", "advance", "--seconds", "3600", "--home", str(dev), "--json"]) == 0
    moved = json.loads(capsys.readouterr().out)
    assert moved["seconds"] == 3600 and moved["block"] == block + 1 == chain.client.block_number()
    assert moved["timestamp"] == chain.client.timestamp() >= before + 3600

    assert main(["devnet", "advance", "--seconds", "60", "--home", str(dev)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"chain time moved 60 s forward: block {block + 2} at ") and out.endswith("UTC\n")

    head = chain.client.block_number()
    for home, seconds, said in [
        (real, "60", "moving chain time is a devnet-only operation; chain 31337 is not a devnet"),
        (dev, "0", "seconds must be at least 1, got 0"),
    ]:
        assert main(["devnet", "advance", "--seconds", seconds, "--home", str(home)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"ccm: error: {said}") and err.count("\n") == 1, err
    assert chain.client.block_number() == head  # nothing was sent for either refusal
