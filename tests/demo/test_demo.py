"""The real demo, run once as a subprocess in a temp home, its JSON checked against the chain.

The default form is the multi-process market (3 provider daemons, 3 verifier daemons, consumers as
``ccm`` commands, libp2p on 127.0.0.1). The demo runs with ``--keep`` so that the balances it
reports can be read again, independently, at the block it names; the test then brings the devnet
down with ``ccm devnet down`` and checks that no process the demo started (Anvil, ``ccm`` nodes) is
left. A second run is stopped with SIGTERM once its daemons are up: everything it started goes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from node.chain.artifacts import load_artifact

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600


def _processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line mentions ``text`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append((int(entry.name), cmdline.strip()))
    return found


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path, int]]:
    """Run the demo once; yields (its JSON, its home, Anvil's pid) and always brings the devnet down."""
    home = tmp_path_factory.mktemp("demo-home")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CCM_HOME", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "node.demo", "--home", str(home), "--json", "--keep"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        last = proc.stdout.strip().splitlines()[-1]
        record = json.loads((home / "devnet" / "anvil.json").read_text())
        yield json.loads(last), home, int(record["pid"])
    finally:
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ccm"), "devnet", "down", "--home", str(home)],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )


def _by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in result["participants"]}


def test_json_has_the_documented_shape(demo: tuple[dict[str, Any], Path, int]) -> None:
    result, _, _ = demo
    for key in ("rpc_url", "block", "contracts", "participants", "jobs", "claims", "index"):
        assert key in result, key
    assert result["rpc_url"].startswith("http://127.0.0.1:")
    assert {"ComputeToken", "JobMarket", "CapacityClaims"} <= set(result["contracts"])
    for p in result["participants"]:
        assert p["role"] in ("provider", "verifier", "consumer")
        for money in ("token_balance", "staked", "earned", "slashed"):
            assert isinstance(p[money], int) and p[money] >= 0, (p["name"], money)
    roles = [p["role"] for p in result["participants"]]
    assert roles.count("provider") >= 2 and roles.count("verifier") >= 3 and "consumer" in roles


def test_default_is_the_multi_process_market(demo: tuple[dict[str, Any], Path, int]) -> None:
    result, home, _ = demo
    assert result["mode"] == "market"
    assert any("audits every committed job" in n for n in result["notes"])
    names = {p["name"] for p in result["participants"]}
    assert {"provider-1", "provider-2", "cheater", "verifier-1", "verifier-2", "verifier-3"} <= names
    for daemon in ("provider-1", "provider-2", "cheater", "verifier-1", "verifier-2", "verifier-3"):
        assert (home / "logs" / f"{daemon}.log").is_file(), daemon  # its own process, its own log
        assert (home / "nodes" / daemon / "deployment.json").is_file(), daemon  # and its own home
    submits = sorted(p.name for p in (home / "logs").glob("submit-*.log"))
    assert len(submits) == 8, submits  # the consumer ran each job as its own `ccm job submit`
    stakes = {p["name"]: p["staked"] for p in result["participants"]}
    assert all(stakes[n] > 0 for n in ("provider-1", "provider-2", "verifier-1", "verifier-2", "verifier-3"))


def test_cheater_slashed_and_honest_providers_paid(demo: tuple[dict[str, Any], Path, int]) -> None:
    result, _, _ = demo
    providers = [p for p in result["participants"] if p["role"] == "provider"]
    cheaters = [p for p in providers if p["cheat_fraction"] > 0]
    honest = [p for p in providers if p["cheat_fraction"] == 0]
    assert cheaters and honest
    for c in cheaters:
        assert c["slashed"] > 0, c
        # Its balance fell by more than what it put into stake: it lost money, it did not just stake it.
        assert c["balance_change"] + c["staked"] < 0, c
    for h in honest:
        assert h["earned"] > 0 and h["slashed"] == 0, h
    assert any(p["earned"] > 0 for p in result["participants"] if p["role"] == "verifier")


def test_every_job_audited_with_a_verdict(demo: tuple[dict[str, Any], Path, int]) -> None:
    result, _, _ = demo
    jobs = result["jobs"]
    assert {"matmul", "inference", "train", "llm"} <= {j["kind"] for j in jobs}
    cheaters = {p["address"] for p in result["participants"] if p["cheat_fraction"] > 0}
    for j in jobs:
        assert j["audited"] is True and j["verdict"] in ("pass", "fail"), j
        assert j["status"] == ("completed" if j["verdict"] == "pass" else "slashed"), j
        if j["provider"] not in cheaters:
            assert j["verdict"] == "pass", j
    assert any(j["status"] == "slashed" and j["provider"] in cheaters for j in jobs)
    # The llm job on the demo's random Llama: audited both times, the honest provider paid, the
    # cheater (serving it with a layer dropped) slashed.
    llm = [j for j in jobs if j["kind"] == "llm"]
    assert len(llm) == 2 and all(j["audited"] for j in llm)
    outcomes = {(j["provider"] in cheaters, j["status"]) for j in llm}
    assert outcomes == {(False, "completed"), (True, "slashed")}


def test_claims_add_up(demo: tuple[dict[str, Any], Path, int]) -> None:
    result = demo[0]
    claims, people = result["claims"], _by_name(result)
    held = {h["address"]: h["balance"] for h in claims["holders"]}
    assert claims["minted"] == sum(held.values()) + claims["redeemed"]
    assert claims["sold"] == claims["minted"]  # the reseller took the whole series
    assert claims["resold"] > 0 and claims["redeemed"] > 0
    assert all(b > 0 for b in held.values())
    # The consumer bought lots, resold part and redeemed the rest: it holds none; the claims-buyer
    # holds exactly what the consumer resold; the reseller keeps what nobody bought from it.
    assert people["consumer"]["address"] not in held
    resold_by_consumer = held[people["claims-buyer"]["address"]]
    kept = held[people["reseller"]["address"]]
    bought_by_consumer = claims["redeemed"] + resold_by_consumer
    assert claims["resold"] == (claims["minted"] - kept) + resold_by_consumer
    assert bought_by_consumer == claims["minted"] - kept
    assert claims["region"] == "EU"
    assert claims["ppm_per_gpu"] > 0 and claims["h100e_micro"] == claims["minted"] * claims["ppm_per_gpu"]
    assert any(j["kind"] == "matmul" and j["prepaid"] for j in result["jobs"])


def _chain_fills(result: dict[str, Any]) -> tuple[list[dict[str, Any]], int, Web3]:
    """The series' fills read straight from the node's RPC (web3 and the ABI, none of our readers),
    each with its block time; and the series' ppm per GPU-hour."""
    w3 = Web3(Web3.HTTPProvider(result["rpc_url"]))
    claims = w3.eth.contract(
        address=result["contracts"]["CapacityClaims"], abi=load_artifact("CapacityClaims").abi
    )
    series = result["claims"]["series"]
    logs = claims.events.OrderFilled.get_logs(from_block=result["start_block"], to_block=result["block"])
    fills = [
        {**dict(e["args"]), "time": w3.eth.get_block(e["blockNumber"])["timestamp"]}
        for e in logs
        if int(e["args"]["seriesId"]) == series
    ]
    ppm = int(claims.functions.series(series).call(block_identifier=result["block"])[6])
    return fills, ppm, w3


def test_reseller_bought_all_and_sold_lots_on(demo: tuple[dict[str, Any], Path, int]) -> None:
    result = demo[0]
    people = _by_name(result)
    provider, reseller = people["provider-1"]["address"], people["reseller"]["address"]
    consumer, third = people["consumer"]["address"], people["claims-buyer"]["address"]
    assert people["reseller"]["role"] == "consumer"
    fills, _, _ = _chain_fills(result)
    from_provider = [f for f in fills if f["seller"] == provider]
    assert [(f["buyer"], f["amount"]) for f in from_provider] == [(reseller, result["claims"]["minted"])]
    provider_price = from_provider[0]["payment"] // from_provider[0]["amount"]
    assert provider_price == result["claims"]["price_per_token"]
    lots = [f for f in fills if f["seller"] == reseller]
    assert len(lots) >= 2 and {f["buyer"] for f in lots} == {consumer}
    assert all(f["amount"] < result["claims"]["minted"] for f in lots)  # smaller lots
    assert all(f["payment"] > provider_price * f["amount"] for f in lots)  # at its own, higher prices
    on = [f for f in fills if f["seller"] == consumer]
    assert on and {f["buyer"] for f in on} == {third}
    assert result["claims"]["resold"] == sum(f["amount"] for f in lots + on)


def test_index_matches_the_fills(demo: tuple[dict[str, Any], Path, int]) -> None:
    result = demo[0]
    points = result["index"]["points"]
    assert points and all(p["trades"] > 0 and p["price"] > 0 for p in points)
    fills, ppm, _ = _chain_fills(result)
    assert sum(p["trades"] for p in points) == len(fills)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for f in fills:
        day = datetime.fromtimestamp(f["time"], UTC).date().isoformat()
        by_day.setdefault(day, []).append(f)
    assert {p["day"] for p in points} == set(by_day)
    for p in points:
        group = by_day[p["day"]]
        micro = sum(f["amount"] * ppm for f in group)
        assert p["gpu_class"] == "H100" and p["trades"] == len(group)
        assert p["volume_micro"] == micro
        assert p["price"] == sum(f["payment"] for f in group) * 10**6 // micro  # volume-weighted
    plot = Path(result["index"]["plot"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_balances_match_an_independent_read(demo: tuple[dict[str, Any], Path, int]) -> None:
    result, _, _ = demo
    w3 = Web3(Web3.HTTPProvider(result["rpc_url"]))
    block = result["block"]
    token = w3.eth.contract(
        address=result["contracts"]["ComputeToken"], abi=load_artifact("ComputeToken").abi
    )
    claims = w3.eth.contract(
        address=result["contracts"]["CapacityClaims"], abi=load_artifact("CapacityClaims").abi
    )
    for p in result["participants"]:
        assert token.functions.balanceOf(p["address"]).call(block_identifier=block) == p["token_balance"]
    for h in result["claims"]["holders"]:
        got = claims.functions.balanceOf(h["address"], result["claims"]["series"]).call(
            block_identifier=block
        )
        assert got == h["balance"]


def test_kept_dashboard_shows_the_market(demo: tuple[dict[str, Any], Path, int]) -> None:
    """``--keep`` leaves ``ccm dashboard`` up over the nodes' homes; Chromium reads it."""
    from tests.dashboard.helpers import browser
    from tokenomics.units import units_to_tokens

    result, _, _ = demo
    url = result["dashboard"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    provider = _by_name(result)["provider-1"]
    with browser() as page:
        page.goto(url)  # provider-1 is shown first
        assert page.get_by_test_id("address").inner_text().strip() == provider["address"]
        assert page.get_by_test_id("token-balance").inner_text().strip() == units_to_tokens(
            provider["token_balance"]
        )
        page.goto(url + "market")
        prices = page.get_by_test_id("index-price").all_inner_texts()
        assert prices == [p["price_tokens"] for p in result["index"]["points"]]
        page.goto(url + "jobs?node=consumer")
        assert page.get_by_test_id("job-row").count() == len(result["jobs"])


def test_nothing_is_left_running(demo: tuple[dict[str, Any], Path, int]) -> None:
    _, home, anvil_pid = demo
    assert _pid_alive(anvil_pid)  # --keep
    down = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ccm"), "devnet", "down", "--home", str(home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 10
    while _pid_alive(anvil_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(anvil_pid)
    assert _processes_mentioning(str(home)) == []


def _demo_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.demo", "--home", str(home), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("fraction", ["2", "0", "abc", "1/0"])
def test_bad_cheat_fraction_is_a_clear_usage_error(tmp_path: Path, fraction: str) -> None:
    proc = _demo_cli("--cheat-fraction", fraction, home=tmp_path)
    assert proc.returncode == 2
    assert "--cheat-fraction" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unusable_home_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a folder")
    proc = _demo_cli("--mode", "direct", home=home)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("demo: error: ")
    assert "Traceback" not in proc.stderr


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    """Stopped while its node daemons run, the demo leaves nothing behind and says so in one line."""
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CCM_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.demo", "--home", str(home)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + TIMEOUT_S
        for line in proc.stderr:
            lines.append(line)
            if "verifier-1 (dev account" in line or time.monotonic() > deadline:
                break
        assert any("verifier-1 (dev account" in line for line in lines), "".join(lines)[-2000:]
        assert _processes_mentioning(str(home / "nodes"))  # the daemons are running now
        proc.terminate()
        rest = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 130
    assert rest.strip().splitlines()[-1] == "demo: interrupted (everything it started was stopped)"
    assert "Traceback" not in rest
    assert _processes_mentioning(str(home)) == []
