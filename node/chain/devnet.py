"""The devnet behind ``ccm devnet up|status|down|advance``: a detached Anvil plus a fresh deployment.

Files in the home folder:

* ``devnet/anvil.json`` — pid, rpc_url and chain id of the running Anvil (written after it answers);
* ``devnet/anvil.log``  — Anvil's output;
* ``deployment.json``   — the addresses (see :mod:`node.chain.deployment`), ``devnet: true``;
* ``devnet/left-running.json`` — other processes left running on this devnet (the demo's dashboard
  after ``--keep``; :func:`leave_running`), each stopped by ``down``.

``up`` deploys through the same path as ``ccm chain deploy``
(:func:`node.chain.confirm.deploy_confirmed`); ``block_time_s`` > 0 starts Anvil with
``--block-time`` (a chain that mines on a clock, as a real one does) instead of mining on demand.

``advance`` moves the chain's clock forward (``evm_increaseTime`` + ``evm_mine``), so a window
(a capacity dispute, an attestation's) ends now instead of in minutes; it refuses a deployment not
marked ``devnet`` (:class:`~node.chain.errors.NotDevnetError`) before sending anything to it.

``up`` is idempotent: with a live Anvil recorded and a deployment that matches it, it reports
"already up" and returns the same deployment. ``down`` is idempotent too. A failed deploy stops the
Anvil it started, so no orphan process is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from node.chain.accounts import devnet_accounts
from node.chain.anvil import DEVNET_CHAIN_ID, is_answering, pid_alive, start_detached, stop_pid
from node.chain.client import ChainClient
from node.chain.confirm import deploy_confirmed
from node.chain.deploy import DeployParams
from node.chain.deployment import DEPLOYMENT_FILE, Deployment
from node.chain.errors import DeploymentMissingError, NotDevnetError
from node.errors import DevnetError


@dataclass(frozen=True)
class DevnetState:
    """What ``status`` reports: whether Anvil is up, where, the head block, and the deployment."""

    running: bool
    pid: int | None
    rpc_url: str | None
    block_number: int | None
    deployment: Deployment | None


def _dir(home: Path) -> Path:
    return home / "devnet"


def _record_path(home: Path) -> Path:
    return _dir(home) / "anvil.json"


def _read_record(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads(_record_path(home).read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise DevnetError(f"devnet record {_record_path(home)} unreadable ({type(exc).__name__})") from None
    return data if isinstance(data, dict) else None


def _live(record: dict[str, object] | None) -> tuple[int, str] | None:
    if record is None:
        return None
    pid, rpc_url = record.get("pid"), record.get("rpc_url")
    if not isinstance(pid, int) or not isinstance(rpc_url, str):
        return None
    if not pid_alive(pid) or not is_answering(rpc_url):
        return None
    return pid, rpc_url


def up(
    home: Path, *, params: DeployParams | None = None, block_time_s: float = 0.0, confirmations: int = 1
) -> tuple[Deployment, bool]:
    """Start Anvil and deploy, or find it running. Returns ``(deployment, already_up)``.

    A running devnet is reused only when it was started with the same ``block_time_s``.
    """
    home.mkdir(parents=True, exist_ok=True)
    live = _live(_read_record(home))
    if live is not None:
        try:
            deployment = Deployment.load(home / DEPLOYMENT_FILE)
        except DeploymentMissingError:
            deployment = None
        if (
            deployment is not None
            and deployment.devnet
            and deployment.rpc_url == live[1]
            and deployment.block_time_s == block_time_s
        ):
            return deployment, True
        stop_pid(live[0])  # an Anvil without its deployment (or another block time): start over
    extra = ("--block-time", f"{block_time_s:g}") if block_time_s > 0 else ()
    anvil = start_detached(log_path=_dir(home) / "anvil.log", chain_id=DEVNET_CHAIN_ID, extra_args=extra)
    try:
        client = ChainClient(anvil.rpc_url, expected_chain_id=DEVNET_CHAIN_ID)
        accounts = devnet_accounts(devnet=True)
        deployment, _seen = deploy_confirmed(
            client,
            accounts[0].account,
            holders=[a.address for a in accounts],
            params=params or DeployParams(),
            devnet=True,
            confirmations=confirmations,
            block_time_s=block_time_s,
        )
        record = {"pid": anvil.pid, "rpc_url": anvil.rpc_url, "chain_id": anvil.chain_id}
        tmp = _record_path(home).with_suffix(".tmp")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, _record_path(home))
        deployment.save(home / DEPLOYMENT_FILE)
    except BaseException:
        stop_pid(anvil.pid)
        raise
    return deployment, False


def status(home: Path) -> DevnetState:
    """Is the devnet up? Never raises for "not running"; raises DevnetError for a corrupt record."""
    live = _live(_read_record(home))
    try:
        deployment: Deployment | None = Deployment.load(home / DEPLOYMENT_FILE)
    except DeploymentMissingError:
        deployment = None
    if live is None:
        return DevnetState(False, None, None, None, deployment)
    pid, rpc_url = live
    block = ChainClient(rpc_url).block_number()
    return DevnetState(True, pid, rpc_url, block, deployment)


def leave_running(home: Path, name: str, pid: int) -> None:
    """Record that process ``pid`` (``name``) stays up with this devnet, so that :func:`down` stops it.

    Only a process whose command line names ``home`` is ever signalled (a recycled pid is not).
    """
    path = _dir(home) / "left-running.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = []
    entries.append({"name": name, "pid": pid})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries) + "\n")
    os.replace(tmp, path)


def _stop_left_running(home: Path, *, grace: float = 5.0) -> None:
    path = _dir(home) / "left-running.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = []
    marker = str(home.resolve()).encode()
    for entry in entries if isinstance(entries, list) else []:
        pid = entry.get("pid") if isinstance(entry, dict) else None
        if not isinstance(pid, int) or not _names(pid, marker):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _names(pid, marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _names(pid, marker):
            os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)


def _names(pid: int, marker: bytes) -> bool:
    """Whether ``pid`` is a live process whose command line contains ``marker``."""
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child: collect it once it has exited
    except ChildProcessError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X") and marker in cmdline


def down(home: Path) -> bool:
    """Stop the devnet's Anvil and every process left running with it. Returns False if no Anvil
    was running. The deployment file is removed only if it belongs to the devnet (a real chain's
    deployment is never touched)."""
    _stop_left_running(home)
    record = _read_record(home)
    stopped = False
    if record is not None and isinstance(record.get("pid"), int):
        stopped = stop_pid(int(record["pid"]))  # type: ignore[call-overload]
    _record_path(home).unlink(missing_ok=True)
    try:
        deployment = Deployment.load(home / DEPLOYMENT_FILE)
    except DeploymentMissingError:
        deployment = None
    if deployment is not None and deployment.devnet:
        (home / DEPLOYMENT_FILE).unlink(missing_ok=True)
    return stopped


@dataclass(frozen=True)
class Advanced:
    """Where ``advance`` left the chain: the block it mined and that block's timestamp."""

    seconds: int
    block: int
    timestamp: int


def advance(home: Path, seconds: int, *, rpc_url: str | None = None) -> Advanced:
    """Move the chain time of ``home``'s deployment ``seconds`` forward and mine a block.

    ``home`` is the devnet's home or any node home holding its ``deployment.json``. Raises
    :class:`NotDevnetError` for a deployment not marked devnet (nothing is sent to that chain),
    ``DevnetError`` for ``seconds`` < 1.
    """
    from node.chain.chain import Chain

    if seconds < 1:
        raise DevnetError(f"seconds must be at least 1, got {seconds}")
    deployment = Deployment.load(home / DEPLOYMENT_FILE)
    if not deployment.devnet:
        raise NotDevnetError("moving chain time", chain_id=deployment.chain_id)
    chain = Chain.connect(deployment, rpc_url=rpc_url)
    timestamp = chain.increase_time(seconds)
    return Advanced(seconds=seconds, block=chain.client.block_number(), timestamp=timestamp)
