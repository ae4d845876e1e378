"""Running ``ccm dashboard`` as a real process and a real headless Chromium (Debian's) against it.

* :func:`running_dashboard` — ``ccm dashboard --home H`` in a child process; yields its URL (the
  line it prints once listening) and always stops it;
* :func:`browser` — Playwright driving ``/usr/bin/chromium`` headless (no browser download);
* :func:`screenshots` — one full-page PNG per page, as committed under ``docs/dashboard/``
  (``python -m tests.dashboard.helpers URL OUT_DIR [NODE]`` takes them of any running dashboard).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.dashboard.serve import ANNOUNCE
from node.demo.procs import ccm_argv

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PAGES = ("", "jobs", "audits", "claims", "market")
START_TIMEOUT_S = 60.0


@contextmanager
def running_dashboard(home: Path, *args: str) -> Iterator[str]:
    """Start ``ccm dashboard --home HOME ARGS``; yield its URL; stop it (SIGTERM, then SIGKILL)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CCM_PASSWORD", None)
    proc = subprocess.Popen(
        ccm_argv(sys.executable, "dashboard", "--home", str(home), *args),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith(ANNOUNCE):
            proc.terminate()
            raise AssertionError(
                f"dashboard did not come up: {line!r} {proc.communicate(timeout=15)[1][-2000:]}"
            )
        yield line[len(ANNOUNCE) :].strip()
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str], *, grace_s: float = 15.0) -> None:
    """SIGTERM ``proc``, SIGKILL it after ``grace_s``; its pipes closed."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_s)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@contextmanager
def browser() -> Iterator[Any]:
    """A headless Chromium page (1400 px wide) driven by Playwright; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium.new_page(viewport={"width": 1400, "height": 900})
        finally:
            chromium.close()


def screenshots(
    page: Any, url: str, out: Path, *, node: str | None = None, pages: Sequence[str] = PAGES
) -> list[Path]:
    """A full-page PNG of each page under ``out`` (``node.png``, ``jobs.png``, …)."""
    out.mkdir(parents=True, exist_ok=True)
    query = f"?node={node}" if node else ""
    shots = []
    for name in pages:
        page.goto(url + name + query)
        path = out / f"{name or 'node'}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
    return shots


def devnet_account_record(home: Path, index: int, token: str) -> None:
    """Record ``home``'s devnet account as ``node.roles.context`` does (what the dashboard reads)."""
    (home / "devnet-account.json").write_text(json.dumps({"index": index, "token": token}) + "\n")


if __name__ == "__main__":
    with browser() as page:
        for shot in screenshots(
            page, sys.argv[1], Path(sys.argv[2]), node=sys.argv[3] if len(sys.argv) > 3 else None
        ):
            print(shot)
