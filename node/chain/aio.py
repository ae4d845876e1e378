"""The trio face of the chain client: every blocking call runs in a worker thread.

Why: web3's async provider is asyncio-only and fails under ``trio.run`` ("trio.run received
unrecognized yield message"); the synchronous ``Web3`` called through ``trio.to_thread.run_sync``
works. This module is the only place that bridges the two, so the choice can be revisited in one
spot. A capacity limiter bounds the number of threads one node spends on RPC.

Usage::

    achain = AsyncChain(chain)
    balance = await achain.run(chain.token.balance_of, address)
    await nursery.start(follower.run, achain, handle)   # node.chain.follower: events as they confirm

Cancellation: a cancelled ``run`` abandons nothing — the thread finishes its RPC call (which has
its own timeout) before the cancellation is delivered, so a half-sent transaction is never lost
track of by the nonce manager.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import trio

T = TypeVar("T")

#: Worker threads one AsyncChain uses at most (RPC calls are short; more would only queue at the node).
DEFAULT_THREADS = 8


class AsyncChain:
    """Runs synchronous chain calls from trio tasks.

    ``target`` is any object (usually :class:`node.chain.chain.Chain`), kept for the caller's
    convenience as ``achain.sync``.
    """

    def __init__(self, target: Any = None, *, threads: int = DEFAULT_THREADS) -> None:
        self.sync = target
        self._limiter = trio.CapacityLimiter(threads)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; its exceptions propagate unchanged."""
        call = functools.partial(fn, *args, **kwargs)
        return await trio.to_thread.run_sync(call, limiter=self._limiter)
