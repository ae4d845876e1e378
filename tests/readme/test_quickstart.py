"""README's quick start, run exactly as written (the block between the ``quickstart`` markers) in a
fresh ``$HOME``: a devnet, a provider and a verifier, one job bought, audited, paid, outputs written;
the provider's capacity attested, the devnet's clock moved past the dispute window, the attestation
finalized and in force."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tokenomics.units import units_to_tokens

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def quickstart_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- quickstart -->\n```sh\n(.*?)```\n<!-- /quickstart -->", text, re.S)
    assert found, "README.md has no quickstart block"
    return found.group(1)


def test_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCM_")}
    env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", quickstart_block()],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=480)
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the block left running
        except ProcessLookupError:
            pass
        subprocess.run(
            [str(BIN / "ccm"), "devnet", "down", "--home", str(home / ".ccm" / "dev")],
            env=env, capture_output=True, timeout=60,
        )
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (home / ".ccm").glob("*.log"))
    assert proc.returncode == 0, f"{out[-4000:]}\n{logs}"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "completed" and report["outputs_verified"] is True, report
    manifest = json.loads((tmp_path / "outputs" / "manifest.json").read_text())
    assert manifest["root"] == report["root"] and len(manifest["units"]) == report["n_units"] == 8
    price = units_to_tokens(int(report["price"]))
    assert re.search(rf"^price +{re.escape(price)} tokens$", out, re.M), out[-4000:]  # `ccm job status`
    attested = json.loads((tmp_path / "attest.json").read_text())
    assert attested["applied"] is False and attested["provider"] == report["provider"], attested
    assert f"attestation {attested['attestation_id']}: final (in force)" in out, out[-4000:]
    assert f"{report['provider']} H100: 1 GPUs verified" in out, out[-4000:]
