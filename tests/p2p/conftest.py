"""Fixtures for the P2P tests: real libp2p hosts on 127.0.0.1, always closed in ``finally``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from node.p2p.host import Host, flatten_exceptions
from node.p2p.identity import generate_key_pair


@asynccontextmanager
async def running(*hosts: Host, timeout: float = 20.0) -> AsyncIterator[tuple[Host, ...]]:
    """Run ``hosts`` for the duration of the block; every host is closed when it ends.

    A single error out of the block or a host is re-raised as itself, not as a one-leaf group.
    """
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(timeout):
                    for host in hosts:
                        await nursery.start(host.run)
                yield hosts
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        leaves = flatten_exceptions(group)
        if len(leaves) == 1:
            raise leaves[0] from None
        raise


def new_host(**options: object) -> Host:
    """A host with a fresh Ed25519 identity listening on a free loopback port."""
    return Host(generate_key_pair(), **options)  # type: ignore[arg-type]
