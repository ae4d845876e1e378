"""Progress of long operations (probes, deploys, challenges, runs): a live display on a terminal, plain
lines when stderr is piped to a file or another program.

``with Progress("deploying contracts", total=5) as p: … p.advance() …`` or, for operations that
report steps as text (the probe's ``progress`` callback), ``p.step("fp32 n=2048: 210 GFLOP/s")``;
a :class:`Progress` is itself such a callback (``probe(progress=p)``), and :meth:`Progress.counter`
gives a ``(done, total)`` callback (unit and byte counts; ``unit="bytes"`` shows sizes, for blob
transfers). A total may grow as it becomes known (blobs announce their sizes one by one).

On a terminal there is one live display at a time: a :class:`Progress` entered while another is
live on the same terminal becomes a second bar of that display (``ccm job submit`` following a job
and, inside it, the fetch of its outputs) and is removed when it ends.

On a terminal (``stream.isatty()``) it is a ``rich`` progress bar (spinner, bar, count, elapsed)
with each step printed above it; otherwise one line per step, a line at every tenth of a counted
total, and a closing ``done in N s`` (or ``failed after N s``) line — readable in a log file and
in a CI transcript, with no control characters. Progress always goes to stderr by default: stdout
is for results (``--json``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


class Progress:
    """One long operation's progress (see the module docstring)."""

    _live_bar: object | None = None
    """The rich display on screen, if any (shared by nested :class:`Progress` objects)."""

    def __init__(
        self, description: str, *, total: int | None = None, stream: TextIO | None = None, unit: str = ""
    ) -> None:
        self.description = description
        self.unit = unit
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = 0.0
        self._tenth = 0
        self._rich: object | None = None
        self._task: object | None = None
        self._nested = False

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if self.live and Progress._live_bar is not None:
            from rich.progress import Progress as RichProgress

            bar = Progress._live_bar
            assert isinstance(bar, RichProgress)
            self._task = bar.add_task(self.description, total=self.total)
            self._rich, self._nested = bar, True
        elif self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            bar = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
            )
            bar.start()
            self._task = bar.add_task(self.description, total=self.total)
            self._rich = bar
            Progress._live_bar = bar
        else:
            self._line(f"{self.description}…")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = time.monotonic() - self._started
        if self._rich is not None:
            from rich.progress import Progress as RichProgress

            bar = self._rich
            assert isinstance(bar, RichProgress)
            if self._nested:
                bar.remove_task(self._task)  # type: ignore[arg-type]
            else:
                if kind is None and self.total is not None:
                    bar.update(self._task, completed=self.total)  # type: ignore[arg-type]
                bar.stop()
                Progress._live_bar = None
        verdict = f"done in {elapsed:.1f} s" if kind is None else f"failed after {elapsed:.1f} s"
        if self._rich is None or kind is not None:
            self._line(f"{self.description}: {verdict}")

    def __call__(self, text: str) -> None:
        self.step(text)

    def step(self, text: str) -> None:
        """A step described in words: printed as a line (above the bar on a terminal)."""
        if self._rich is not None:
            from rich.progress import Progress as RichProgress

            assert isinstance(self._rich, RichProgress)
            self._rich.console.print(f"  {text}", markup=False, highlight=False)
        else:
            self._line(f"{self.description}: {text}")

    def advance(self, n: int = 1) -> None:
        """``n`` more of ``total`` done."""
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` of ``total`` (given here or at construction) done."""
        self.done = done
        if total is not None and total != self.total:
            if self.total:  # a grown total (one more blob announced): count its tenths from here
                self._tenth = min(10, done * 10 // total) if total else 0
            self.total = total
        if self._rich is not None:
            from rich.progress import Progress as RichProgress

            assert isinstance(self._rich, RichProgress)
            self._rich.update(self._task, completed=done, total=self.total)  # type: ignore[arg-type]
            return
        if not self.total:
            return
        tenth = min(10, done * 10 // self.total)
        if tenth > self._tenth:
            self._tenth = tenth
            self._line(f"{self.description}: {self._amount(done)}/{self._amount(self.total)} ({tenth * 10}%)")

    def counter(self) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback (``run_job``'s units, ``fetch_blob``'s bytes)."""
        return lambda done, total: self.update(done, total)

    def _amount(self, n: int) -> str:
        if self.unit != "bytes":
            return str(n)
        for size, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if n >= size:
                return f"{n / size:.1f} {name}"
        return f"{n} B"

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
