"""Anvil, the local devnet, managed by the node.

Two ways to run it, sharing the same start/wait/stop code:

* :class:`AnvilProcess` — a child process owned by the caller (tests, the demo), a context manager
  that always stops it.
* :func:`start_detached` / :func:`stop_pid` — a process that outlives the command which started it
  (``ccm devnet up``), recorded by pid and log file in the home folder.

Resource handling: Anvil listens on 127.0.0.1 only, on a free port. Stopping sends SIGTERM, waits,
then SIGKILL; a process is never left running by a failed start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from node.chain.artifacts import repo_root
from node.chain.errors import AnvilError

#: Anvil's default chain id; the devnet keeps it so wallets recognise it.
DEVNET_CHAIN_ID = 31337
HOST = "127.0.0.1"


def find_anvil() -> Path:
    """Locate the anvil binary: ``.venv/bin/anvil``, then ``anvil`` on PATH, then node_modules."""
    root = repo_root()
    candidates = [root / ".venv" / "bin" / "anvil"]
    on_path = shutil.which("anvil")
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(root / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise AnvilError("anvil not found (.venv/bin, PATH, node_modules): run scripts/setup")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rpc_chain_id(rpc_url: str, *, timeout: float = 2.0) -> int:
    """``eth_chainId`` over plain HTTP (no web3), raising OSError/ValueError if it does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(rpc_url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    return int(answer["result"], 16)


def is_answering(rpc_url: str) -> bool:
    """True if an Ethereum RPC answers at ``rpc_url``."""
    try:
        rpc_chain_id(rpc_url, timeout=1.0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def _anvil_args(binary: Path, port: int, chain_id: int, extra: tuple[str, ...]) -> list[str]:
    return [
        str(binary),
        "--host",
        HOST,
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--accounts",
        "10",
        *extra,
    ]


def wait_answering(
    proc: subprocess.Popen[bytes], rpc_url: str, log_path: Path | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AnvilError(
                f"anvil exited with code {proc.returncode} before answering{_log_tail(log_path)}"
            )
        if is_answering(rpc_url):
            return
        time.sleep(0.05)
    raise AnvilError(f"anvil did not answer at {rpc_url} within {timeout:.0f}s{_log_tail(log_path)}")


def _log_tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    lines = log_path.read_text(errors="replace").strip().splitlines()
    return f" (log: {lines[-1][:200]})" if lines else ""


def _start(
    *,
    chain_id: int,
    log_path: Path | None,
    detached: bool,
    extra_args: tuple[str, ...],
    timeout: float,
    attempts: int = 3,
) -> tuple[subprocess.Popen[bytes], str]:
    binary = find_anvil()
    last_error: AnvilError | None = None
    for _ in range(attempts):  # a port can be taken between free_port() and anvil's bind
        port = free_port()
        rpc_url = f"http://{HOST}:{port}"
        log: IO[bytes] | int = subprocess.DEVNULL
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "wb")
        try:
            proc = subprocess.Popen(
                _anvil_args(binary, port, chain_id, extra_args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detached,
            )
        finally:
            if not isinstance(log, int):
                log.close()
        try:
            wait_answering(proc, rpc_url, log_path, timeout)
        except AnvilError as exc:
            terminate(proc)
            last_error = exc
            continue
        return proc, rpc_url
    assert last_error is not None
    raise last_error


def terminate(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


class AnvilProcess:
    """An Anvil child process on a free 127.0.0.1 port, stopped on :meth:`stop` or context exit.

    ``extra_args`` go to anvil verbatim (``("--block-time", "1")``).
    """

    def __init__(
        self,
        *,
        chain_id: int = DEVNET_CHAIN_ID,
        log_path: Path | None = None,
        extra_args: tuple[str, ...] = (),
        start_timeout: float = 20.0,
    ) -> None:
        self.chain_id = chain_id
        self.log_path = log_path
        self._extra_args = extra_args
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.rpc_url = ""

    def start(self) -> AnvilProcess:
        """Start Anvil and wait until its RPC answers. Raises AnvilError."""
        if self._proc is not None:
            raise AnvilError("anvil already started by this object")
        self._proc, self.rpc_url = _start(
            chain_id=self.chain_id,
            log_path=self.log_path,
            detached=False,
            extra_args=self._extra_args,
            timeout=self._start_timeout,
        )
        return self

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise AnvilError("anvil not started")
        return self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; idempotent."""
        if self._proc is not None:
            terminate(self._proc)
            self._proc = None

    def __enter__(self) -> AnvilProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class DetachedAnvil:
    """An Anvil that outlives its starter: where to reach it and how to stop it."""

    pid: int
    rpc_url: str
    chain_id: int
    log_path: Path


def start_detached(
    *,
    log_path: Path,
    chain_id: int = DEVNET_CHAIN_ID,
    extra_args: tuple[str, ...] = (),
    timeout: float = 20.0,
) -> DetachedAnvil:
    """Start Anvil in its own session (it survives this process) and wait until it answers."""
    proc, rpc_url = _start(
        chain_id=chain_id, log_path=log_path, detached=True, extra_args=extra_args, timeout=timeout
    )
    # The child is deliberately not waited for: it must keep running after this command exits.
    proc.returncode = 0  # silences Popen's "still running" ResourceWarning at interpreter exit
    return DetachedAnvil(pid=proc.pid, rpc_url=rpc_url, chain_id=chain_id, log_path=log_path)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) anvil process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        return False
    program = cmdline.split(b"\0", 1)[0]
    return program.endswith(b"anvil")


def stop_pid(pid: int, *, grace: float = 5.0) -> bool:
    """Stop the anvil with this pid (SIGTERM, then SIGKILL). Returns False if it was not running.

    The pid is checked to be an anvil first, so a recycled pid of another program is never signalled.
    """
    if not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, grace):
        return True
    os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pid, grace):
        raise AnvilError(f"anvil pid {pid} did not stop after SIGKILL")
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def _reap(pid: int) -> None:
    # If we happen to be the parent (start_detached in this process), collect the zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
