"""Child processes of the demo: started in their own process group, always stopped.

:class:`Supervisor` starts ``ccm`` daemons and one-shot commands, captures stdout (daemons print
``listening on <multiaddr>``), sends stderr to ``<home>/logs/<name>.log``, and in :meth:`close`
(called from ``finally``) sends SIGTERM to each process group, waits, then SIGKILLs what is left —
so an error or Ctrl-C in the demo leaves no orphan. Each child gets its own session, so a Ctrl-C
on the terminal reaches only the demo, which then stops them in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


def ccm_argv(python: str, *args: str) -> list[str]:
    """``ccm ARGS`` run with this interpreter (the venv's), so no PATH lookup is involved."""
    return [python, "-c", "import sys; from node.cli import main; sys.exit(main())", *args]


class Supervisor:
    """Starts and stops the demo's processes (see the module docstring)."""

    def __init__(self, *, logs: Path, python: str, cwd: Path) -> None:
        self.logs = logs
        self.python = python
        self.cwd = cwd
        self.children: list[Child] = []
        logs.mkdir(parents=True, exist_ok=True)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("CCM_HOME", None)  # every child gets --home explicitly
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
