"""Serving the dashboard on trio with Hypercorn, on 127.0.0.1 only.

:func:`serve_dashboard` is a trio service (``url = await nursery.start(serve_dashboard, app, port)``):
it binds ``127.0.0.1:port`` (0: a free port), reports the URL once it listens, serves until
cancelled, and closes its sources in ``finally``. :func:`run` is what ``ccm dashboard`` calls; a role
daemon with ``[dashboard] port`` starts :func:`serve_dashboard` in its own nursery
(:func:`node.roles.runtime.run_daemon`). A port that cannot be bound is a :class:`ConfigError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from node.dashboard.app import make_app
from node.dashboard.source import NodeSource
from node.errors import ConfigError

if TYPE_CHECKING:
    from trio_typing import TaskStatus

#: The only address the dashboard binds: it shows a node's finances to whoever can reach it.
HOST = "127.0.0.1"
ANNOUNCE = "dashboard on "
"""What ``ccm dashboard`` and a daemon serving one print before the URL, once it listens."""


async def serve_dashboard(
    sources: Sequence[NodeSource], port: int = 0, *, task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the dashboard of ``sources`` on ``127.0.0.1:port`` until cancelled; reports its URL."""
    config = HypercornConfig()
    config.bind = [f"{HOST}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
    app = make_app(sources)
    try:
        async with trio.open_nursery() as nursery:
            try:
                binds: list[str] = await nursery.start(_serve, app, config)
            except OSError as err:
                reason = err.strerror or err
                raise ConfigError(f"dashboard: cannot listen on {HOST}:{port}: {reason}") from None
            task_status.started(binds[0].rstrip("/") + "/")
    finally:
        for source in sources:
            source.close()


async def _serve(app: object, config: HypercornConfig, *, task_status: TaskStatus[list[str]]) -> None:
    await serve(app, config, task_status=task_status)  # type: ignore[arg-type]


def run(sources: Sequence[NodeSource], *, port: int, announce: Callable[[str], None]) -> None:
    """Serve until Ctrl-C / SIGTERM; ``announce(url)`` once listening (``ccm dashboard``)."""
    from node.roles.runtime import run_trio

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_dashboard, sources, port)
            announce(url)

    run_trio(main)
