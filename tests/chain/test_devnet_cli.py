"""``ccm devnet up|status|down`` as a user runs it: separate processes, a temporary home."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from node.chain import devnet
from node.chain.anvil import is_answering, pid_alive
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
