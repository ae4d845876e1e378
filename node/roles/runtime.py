"""What the role commands share at run time: logging, the cached probe, running a trio main.

* :func:`setup_logging` — our loggers at the config's level on stderr, py-libp2p's chatter at
  warnings only (it logs every dial attempt at INFO);
* :func:`cached_probe` — the provider's capacity probe, re-measured only when the one saved in
  ``<home>/probe.json`` is older than ``provider.reprobe_s`` or for another device;
* :func:`run_trio` — ``trio.run`` that turns a nested exception group carrying one of our errors
  into that error (the CLI prints it as one line) instead of a wall of tracebacks;
* :func:`run_daemon` — a role daemon until Ctrl-C or SIGTERM, announcing its ``listening on`` line,
  and serving the node's dashboard on the same event loop when ``[dashboard] port`` is set
  (:func:`daemon_dashboard`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import trio

from node.errors import CcmError
from node.p2p.host import flatten_exceptions

if TYPE_CHECKING:
    from node.capacity.probe import ProbeResult
    from node.dashboard.source import NodeSource
    from node.p2p.host import Host
    from node.roles.context import NodeContext

T = TypeVar("T")
PROBE_FILE = "probe.json"


def setup_logging(level: str = "info", *, debug: bool = False) -> None:
    """Send log records to stderr; the node's loggers at ``level`` (``node.log_level``); quiet
    py-libp2p unless ``debug``."""
    chosen = logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(
        level=chosen, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("node").setLevel(chosen)
    if not debug:
        for noisy in ("libp2p", "multiaddr", "web3", "urllib3", "async_service"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        logging.getLogger("node.p2p").setLevel(logging.WARNING)


def cached_probe(
    home: Path, *, device: str, max_age_s: int, say: Callable[[str], None], quick: bool = True
) -> ProbeResult:
    """The saved probe of ``home`` when fresh enough, else a new (quick) one, saved."""
    from node.capacity.errors import ProbeError
    from node.capacity.probe import ProbeResult, probe

    path = home / PROBE_FILE
    try:
        saved = ProbeResult.from_json(path.read_text(encoding="utf-8"))
        fresh = time.time() - saved.measured_at < max_age_s
        if fresh and (device == "auto" or saved.device == device.split(":")[0]):
            figure = f"{saved.best_gflops()} GFLOP/s fp32"
            say(f"capacity: {saved.device} {saved.device_name}, {figure} (saved probe)")
            return saved
    except (FileNotFoundError, ProbeError, OSError):
        pass
    say("probing this machine's capacity (quick)…")
    result = probe(device=device, quick=quick)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(result.to_json() + "\n", encoding="utf-8")
    tmp.replace(path)
    say(f"capacity: {result.device} {result.device_name}, {result.best_gflops()} GFLOP/s fp32")
    return result


def run_trio(main: Callable[[], Awaitable[T]]) -> T:
    """``trio.run(main)``, re-raising the first of our errors found inside an exception group."""
    try:
        return trio.run(main)
    except BaseExceptionGroup as group:
        leaves = flatten_exceptions(group)
        for leaf in leaves:
            if isinstance(leaf, KeyboardInterrupt):
                raise leaf from None
        for leaf in leaves:
            if isinstance(leaf, CcmError):
                raise leaf from None
        raise


@dataclass(frozen=True)
class DaemonDashboard:
    """The dashboard a role daemon serves on its own event loop: its node and the port."""

    source: NodeSource
    port: int


def daemon_dashboard(
    ctx: NodeContext, *, account_index: int | None = None, rpc_url: str | None = None
) -> DaemonDashboard | None:
    """The dashboard of ``ctx``'s node on ``[dashboard] port`` (127.0.0.1), or ``None`` when it is 0.

    ``account_index`` / ``rpc_url``: as the daemon was started (``--account-index``, ``--rpc-url``).
    """
    port = ctx.config.dashboard.port
    if port == 0:
        return None
    from node.dashboard.source import NodeSource

    source = NodeSource(ctx.home.name or "node", ctx.home, account_index=account_index, rpc_url=rpc_url)
    return DaemonDashboard(source=source, port=port)


def run_daemon(
    start: Callable[..., Awaitable[object]],
    *,
    host: Host,
    announce: str,
    say: Callable[[str], None],
    dashboard: DaemonDashboard | None = None,
) -> None:
    """Run a role daemon's ``start`` (a ``task_status`` service) until cancelled (Ctrl-C / SIGTERM).

    Once it has started: ``say(announce)``, then ``listening on <multiaddr>/p2p/<peer id>`` on stdout,
    flushed, which scripts and the demo wait for; with a ``dashboard``, it is served in the same
    nursery (cancelled with the daemon) and ``dashboard on http://127.0.0.1:PORT/`` follows.
    """

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(start)
            say(announce)
            print(f"listening on {host.addrs[0]}", flush=True)
            if dashboard is not None:
                from node.dashboard.serve import ANNOUNCE, serve_dashboard

                url = await nursery.start(serve_dashboard, [dashboard.source], dashboard.port)
                print(f"{ANNOUNCE}{url}", flush=True)
            await trio.sleep_forever()

    run_trio(main)
