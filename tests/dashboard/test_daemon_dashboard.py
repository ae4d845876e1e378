"""The dashboard served by a running daemon (``[dashboard] port``): a real ``ccm verifier start``
process on the session's Anvil, its pages loaded in Debian's headless Chromium, gone with the daemon."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from node.chain.accounts import devnet_accounts
from node.chain.chain import Chain
from node.dashboard.serve import ANNOUNCE
from node.demo.procs import ccm_argv
from node.roles.runtime import daemon_dashboard
from tests.dashboard.helpers import ROOT, browser, stop
from tests.roles.conftest import Nodes
from tokenomics.units import units_to_tokens as tok

VERIFIER_INDEX = 3
START_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    return proc.stdout.readline() if ready else ""


def test_a_running_verifier_serves_its_dashboard_on_the_configured_port(chain: Chain, nodes: Nodes) -> None:
    home = nodes.home("verifier")
    port = _free_port()
    (home / "config.toml").write_text(f"[dashboard]\nport = {port}\n", encoding="utf-8")
    proc = subprocess.Popen(
        ccm_argv(
            sys.executable, "verifier", "start", "--home", str(home), "--account-index", str(VERIFIER_INDEX)
        ),
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        lines = [_read_line(proc, deadline), _read_line(proc, deadline)]
        if not lines[1].startswith(ANNOUNCE):
            proc.terminate()
            pytest.fail(f"no dashboard line: {lines} {proc.communicate(timeout=15)[1][-3000:]}")
        assert lines[0].startswith("listening on /ip4/127.0.0.1/"), lines
        url = lines[1][len(ANNOUNCE) :].strip()
        assert url == f"http://127.0.0.1:{port}/"
        with browser() as page:
            page.goto(url)
            shown = page.get_by_test_id("address").inner_text().strip()
            staker = chain.registry.staker(shown)
            assert shown == devnet_accounts(devnet=True)[VERIFIER_INDEX].address
            assert chain.registry.is_verifier(shown)  # the daemon staked and registered it on start
            assert page.get_by_test_id("active-stake").inner_text().strip() == tok(staker.active)
            for name in ("jobs", "audits", "claims", "market"):
                response = page.goto(url + name)
                assert response is not None and response.status == 200, name
    finally:
        stop(proc, grace_s=20)
    with pytest.raises(urllib.error.URLError):  # the dashboard lived in the daemon: gone with it
        urllib.request.urlopen(url, timeout=5)


def test_the_dashboard_key_is_off_by_default(nodes: Nodes) -> None:
    quiet = nodes("quiet", 4)
    assert daemon_dashboard(quiet) is None
    (nodes.home("served") / "config.toml").write_text("[dashboard]\nport = 8765\n", encoding="utf-8")
    served = daemon_dashboard(nodes("served", 5), account_index=5)
    assert served is not None and served.port == 8765 and served.source.home == nodes.home("served")
    assert served.source.account_index == 5
