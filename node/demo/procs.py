"""Child processes of the demo: started in their own process group, always stopped.

:class:`Supervisor` starts ``ccm`` daemons and one-shot commands, captures stdout (daemons print
``listening on <multiaddr>``), sends stderr to ``<home>/logs/<name>.log``, and in :meth:`close`
(called from ``finally``) sends SIGTERM to each process group, waits, then SIGKILLs what is left —
so an error or Ctrl-C in the demo leaves no orphan. Each child gets its own session, so a Ctrl-C
on the terminal reaches only the demo, which then stops them in order.

:class:`KeyRing`: on a chain whose accounts are not Anvil's public dev keys (``scripts/demo
--rpc-url URL --mnemonic PHRASE`` or ``--keystore-dir DIR``), each node home gets its account as an
encrypted keystore, and the children read the password from a file (``$CCM_PASSWORD_FILE``).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from node.errors import CcmError

CCM = ("python", "-m", "node.cli")


class ChildError(CcmError):
    """A child process failed or did not come up; the message names it and its log file."""


@dataclass
class Child:
    """A started process, its captured stdout lines and its log file."""

    name: str
    popen: subprocess.Popen[str]
    log: Path
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def tail(self, n: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-n:])


@dataclass(frozen=True)
class KeyRing:
    """The demo's accounts (by cast index) for node homes that sign with a keystore, and the file
    holding the password the demo made up for them (0600, in the demo home)."""

    accounts: tuple[LocalAccount, ...]
    password_file: Path

    @classmethod
    def create(cls, home: Path, accounts: Sequence[LocalAccount]) -> KeyRing:
        path = home / "node-password"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
        return cls(tuple(accounts), path)

    def install(self, node_home: Path, index: int) -> None:
        """Write account ``index`` as the keystore of ``node_home`` (the config's ``chain.keystore``)."""
        from node.chain.accounts import create_keystore
        from node.config import load_config

        password = self.password_file.read_text().splitlines()[0]
        create_keystore(load_config(node_home).keystore_path, password, private_key=self.accounts[index].key)

    def env(self) -> dict[str, str]:
        """What the children need to open their keystores."""
        from node.keys import PASSWORD_FILE_ENV

        return {PASSWORD_FILE_ENV: str(self.password_file)}


def signer_args(node_home: Path, index: int) -> list[str]:
    """How a ``ccm`` child picks its account: the home's keystore when it has one, else Anvil's
    PUBLIC dev account ``index``."""
    from node.config import load_config

    return [] if load_config(node_home).keystore_path.exists() else ["--account-index", str(index)]


def ccm_argv(python: str, *args: str) -> list[str]:
    """``ccm ARGS`` run with this interpreter (the venv's), so no PATH lookup is involved."""
    return [python, "-c", "import sys; from node.cli import main; sys.exit(main())", *args]


class Supervisor:
    """Starts and stops the demo's processes (see the module docstring)."""

    def __init__(self, *, logs: Path, python: str, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.logs = logs
        self.python = python
        self.cwd = cwd
        self.extra_env = dict(env or {})
        self.children: list[Child] = []
        logs.mkdir(parents=True, exist_ok=True)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("CCM_HOME", None)  # every child gets --home explicitly
        env.update(self.extra_env)
        return env

    def start(self, name: str, args: Sequence[str], *, module: str | None = None) -> Child:
        """Start ``ccm ARGS`` (or ``python -m MODULE ARGS``) as a daemon; its stdout is read line by
        line in a thread."""
        log = self.logs / f"{name}.log"
        handle = log.open("w")
        try:
            popen = subprocess.Popen(
                [self.python, "-m", module, *args] if module else ccm_argv(self.python, *args),
                cwd=self.cwd,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
                start_new_session=True,
            )
        finally:
            handle.close()
        child = Child(name, popen, log)
        self.children.append(child)

        def read() -> None:
            assert popen.stdout is not None
            for line in popen.stdout:
                child.lines.append(line.rstrip("\n"))

        child.reader = threading.Thread(target=read, name=f"demo-{name}-stdout", daemon=True)
        child.reader.start()
        return child

    def wait_for_line(self, child: Child, prefix: str, *, timeout: float) -> str:
        """The first stdout line of ``child`` starting with ``prefix`` (ChildError on exit/timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in child.lines:
                if line.startswith(prefix):
                    return line
            if child.popen.poll() is not None:
                raise ChildError(
                    f"{child.name} exited with code {child.popen.returncode} before it was up "
                    f"(log {child.log}: {child.tail()})"
                )
            time.sleep(0.1)
        raise ChildError(f"{child.name} not up after {timeout:g} s (log {child.log}: {child.tail()})")

    def run(self, name: str, args: Sequence[str], *, timeout: float) -> str:
        """Run ``ccm ARGS`` to completion; its stdout (ChildError on failure or timeout)."""
        child = self.start(name, args)
        try:
            child.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._stop(child)
            raise ChildError(f"{name} did not finish within {timeout:g} s (log {child.log})") from None
        if child.reader is not None:
            child.reader.join(timeout=5)
        self.children.remove(child)
        if child.popen.returncode != 0:
            raise ChildError(f"{name} failed with code {child.popen.returncode}: {child.tail(2)}")
        return "\n".join(child.lines)

    def alive(self) -> list[Child]:
        return [c for c in self.children if c.popen.poll() is None]

    def _stop(self, child: Child, *, grace: float = 5.0) -> None:
        if child.popen.poll() is None:
            try:
                os.killpg(child.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            child.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.popen.wait(timeout=5)
        if child.popen.stdout is not None:
            child.popen.stdout.close()

    def close(self) -> None:
        """Stop every child (SIGTERM to its group, SIGKILL after a grace period); idempotent."""
        for child in reversed(self.children):
            self._stop(child)
        self.children.clear()
