"""The role commands as a user runs them: ``ccm init`` keys, and clear one-line errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CCM = str(Path(sys.executable).parent / "ccm")


def _ccm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "CCM_PASSWORD"}
    full_env.update(env or {})
    return subprocess.run(
        [CCM, *args], capture_output=True, text=True, timeout=60, env=full_env, stdin=subprocess.DEVNULL
    )


def test_init_creates_encrypted_keys_once(tmp_path: Path) -> None:
    home = tmp_path / "node"
    done = _ccm("init", "--home", str(home), "--json", env={"CCM_PASSWORD": "correct horse"})
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["address"].startswith("0x") and doc["peer_id"].startswith("12D3Koo")
    keystore = json.loads((home / "keystore.json").read_text())
    identity = json.loads((home / "p2p" / "identity.json").read_text())
    assert "crypto" in keystore and identity["encrypted"] is True
    # Nothing secret in plain text: neither file holds the identity's seed or a private key field.
    assert "seed" not in identity and "privateKey" not in keystore
    again = _ccm("init", "--home", str(home), env={"CCM_PASSWORD": "correct horse"})
    assert again.returncode == 1 and "already initialised" in again.stderr
    assert "Traceback" not in again.stderr


def test_init_without_password_is_one_line_error(tmp_path: Path) -> None:
    done = _ccm("init", "--home", str(tmp_path / "node"))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "CCM_PASSWORD" in done.stderr


def test_provider_start_without_deployment_is_one_line_error(tmp_path: Path) -> None:
    done = _ccm("provider", "start", "--home", str(tmp_path / "empty"))
    assert done.returncode == 1
    assert "deployment" in done.stderr and "Traceback" not in done.stderr


def test_submit_with_invalid_spec_names_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text('{"version": 1, "kind": "matmul"}')
    done = _ccm("job", "submit", str(spec), "--home", str(tmp_path / "c"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "ccm: error:" in done.stderr


def test_building_the_command_line_imports_no_heavy_library() -> None:
    # Every node/cli module is imported at start-up (``ccm --help`` included): torch, matplotlib
    # (tokenomics.plots), libp2p, web3, trio and the roles must wait for the handler that needs them.
    code = (
        "import sys; from node.cli import build_parser; build_parser(); "
        "print(','.join(sorted(m for m in ('torch', 'matplotlib', 'tokenomics.plots', 'libp2p', 'web3', "
        "'trio', 'eth_account', 'node.roles', 'node.workloads', 'node.chain', 'node.p2p', "
        "'node.query.index') if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
