"""Waking on new blocks: one waiter per node, shared by its chain follower and its roles' loops.

:meth:`Heads.next` returns the first block above a given one, as soon as this node can know of it:

* **Subscription** where the endpoint is a WebSocket URL (``ws://``, ``wss://``; the client sends its
  requests over HTTP to the same host, port and path, as Anvil and Hardhat serve both on one port):
  :meth:`Heads.run` holds an ``eth_subscribe("newHeads")`` and every head wakes the waiters at once,
  for no request. A dropped subscription is opened again with backoff; meanwhile waiters poll.
* **Polling** otherwise, and only while someone waits (an idle node sends nothing here): on a chain
  with a block time the first poll is timed for the next block's expected arrival (the current
  head's, as first seen, plus the block time, less one step; a quarter block earlier each time the
  first look already finds it) and repeated every step (an eighth of the block time) until it
  comes, so a block is seen within a step of its arrival for about two requests; a chain that
  mines on demand (block time 0) is polled every :data:`ON_DEMAND_POLL_S`.

Chain time: a decision that a deadline passed is made on a block's timestamp (the head's), never
on this machine's clock; the timestamp a transaction sent now would land with (to budget work
before a deadline) is :func:`node.roles.settle.next_block_time`, asked of the chain.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from node.chain.aio import AsyncChain
from node.chain.client import BlockHeader, ChainClient
from node.errors import ChainError

if TYPE_CHECKING:
    from trio_typing import TaskStatus

logger = logging.getLogger(__name__)

#: Seconds between polls of a chain that mines on demand, while someone waits.
ON_DEMAND_POLL_S = 0.25
#: Polls per block time once the next block is due (the step is the block time over this).
POLLS_PER_BLOCK = 8
#: Backoff bounds (seconds) for opening the subscription again after it dropped.
RESUBSCRIBE_FIRST_S, RESUBSCRIBE_MAX_S = 1.0, 30.0
SUBSCRIBE = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}


def _header(raw: dict[str, Any]) -> BlockHeader:
    """A ``newHeads`` notification's header (hex quantities)."""
    return BlockHeader(
        number=int(raw["number"], 16),
        hash=str(raw["hash"]),
        parent_hash=str(raw["parentHash"]),
        timestamp=int(raw["timestamp"], 16),
        base_fee=int(raw.get("baseFeePerGas") or "0x0", 16),
    )


class Heads:
    """The chain's newest block as this node learns of it (see the module docstring).

    ``block_time_s``: the deployment's (0: mines on demand). ``ws_url``: subscribe there (else poll).
    """

    def __init__(self, client: ChainClient, *, block_time_s: float = 0.0, ws_url: str = "") -> None:
        self.client = client
        self.block_time_s = block_time_s
        self.ws_url = ws_url
        self.head: BlockHeader | None = None
        self.subscribed = False  # a subscription is live now
        self.pushed = 0  # heads that came by subscription
        self._arrived = 0.0  # trio clock when the current head was first seen
        self._last_poll = -1e9
        self._changed = trio.Event()
        self._poll_lock = trio.Lock()
        self._achain = AsyncChain(client, threads=1)
        self._serving = False

    @classmethod
    def of(cls, client: ChainClient, *, block_time_s: float = 0.0) -> Heads:
        """The waiter for ``client``'s endpoint: by subscription where its URL is a WebSocket."""
        return cls(client, block_time_s=block_time_s, ws_url=client.ws_url)

    # -- what waiters call ------------------------------------------------------------------------

    async def next(self, after: int | None = None) -> BlockHeader:
        """The first head above block ``after`` (default: the head known now; none known: the
        chain's head at once)."""
        if after is None:
            after = self.head.number if self.head is not None else -1
        while True:
            head = self.head
            if head is not None and head.number > after:
                return head
            if self.subscribed:
                changed = self._changed
                # A subscription that went quiet for two blocks' time: look once by polling.
                with trio.move_on_after(max(2 * self.block_time_s, 2.0)):
                    await changed.wait()
                    continue
            await self._poll(after)

    async def wait(
        self, after: int | None, *, at_most: float, kick: trio.Event | None = None
    ) -> BlockHeader | None:
        """:meth:`next`, but None after ``at_most`` seconds (stretched to two block times: a
        chain with a block time brings a block first) or once ``kick`` is set. For loops that look
        again without a new block too: a chain that mines on demand mines nothing until someone
        sends, and a reorg to a branch no longer than the old one brings no higher block."""
        found: list[BlockHeader] = []
        with trio.move_on_after(max(at_most, 2 * self.block_time_s)):
            async with trio.open_nursery() as nursery:

                async def on_block() -> None:
                    found.append(await self.next(after))
                    nursery.cancel_scope.cancel()

                async def on_kick() -> None:
                    assert kick is not None
                    await kick.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(on_block)
                if kick is not None:
                    nursery.start_soon(on_kick)
        return found[0] if found else None

    async def latest(self, *, max_age_s: float = 0.0) -> BlockHeader:
        """The head, read again unless one was seen within ``max_age_s`` seconds."""
        if self.head is not None and trio.current_time() - self._arrived <= max_age_s:
            return self.head
        head = await self._achain.run(self.client.block, "latest")
        assert head is not None  # "latest" always exists
        self._saw(head)
        return self.head or head

    # -- internals --------------------------------------------------------------------------------

    def _saw(self, head: BlockHeader) -> None:
        current = self.head
        if current is None or head.hash != current.hash:  # (a lower one: a reorg to a shorter branch)
            if current is None or head.number > current.number:
                self._arrived = trio.current_time()
            self.head = head
            self._changed.set()
            self._changed = trio.Event()

    def _due(self) -> float:
        """Trio time of the next poll."""
        if self.block_time_s <= 0 or self.head is None:
            return self._last_poll + ON_DEMAND_POLL_S
        step = self.block_time_s / POLLS_PER_BLOCK
        late = trio.current_time() > self._arrived + 2 * self.block_time_s  # the chain stalls
        gap = self.block_time_s if late else step
        return max(self._arrived + self.block_time_s - step, self._last_poll + gap)

    async def _poll(self, after: int) -> None:
        async with self._poll_lock:  # one poll at a time for every waiter
            if self.head is not None and self.head.number > after:
                return
            await trio.sleep_until(self._due())
            first = self._last_poll <= self._arrived  # the first look since the head arrived
            self._last_poll = trio.current_time()
            head = await self._achain.run(self.client.block, "latest")
            if head is not None:
                before = self.head
                self._saw(head)
                if first and before is not None and head.number > before.number and self.block_time_s > 0:
                    # Already there at the first look: it came earlier than "now", so look earlier
                    # next time (the estimate closes in on the chain's phase within a few blocks).
                    self._arrived -= self.block_time_s / 4

    # -- the subscription (a service: ``nursery.start(heads.run)``) -------------------------------

    async def run(self, *, task_status: TaskStatus[Heads] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the ``newHeads`` subscription (when the URL is a WebSocket) until cancelled."""
        task_status.started(self)
        if not self.ws_url or self._serving:
            return  # polling needs no service; two roles of one node share one subscription
        self._serving = True
        try:
            delay = RESUBSCRIBE_FIRST_S
            while True:
                try:
                    async with open_websocket_url(self.ws_url) as ws:
                        await ws.send_message(json.dumps(SUBSCRIBE))
                        while True:
                            message = json.loads(await ws.get_message())
                            if message.get("id") == 1:
                                if "error" in message:
                                    raise ChainError(f"eth_subscribe refused: {message['error']}")
                                self.subscribed, delay = True, RESUBSCRIBE_FIRST_S
                                logger.info("subscribed to new heads at %s", self.ws_url)
                            elif message.get("method") == "eth_subscription":
                                self.pushed += 1
                                self._saw(_header(message["params"]["result"]))
                except (OSError, ConnectionClosed, HandshakeError, ChainError, ValueError, KeyError) as err:
                    logger.warning("new-heads subscription at %s: %s; polling meanwhile", self.ws_url, err)
                finally:
                    self.subscribed = False
                    self._changed.set()  # waiters on a dead subscription go polling
                    self._changed = trio.Event()
                await trio.sleep(delay)
                delay = min(delay * 2, RESUBSCRIBE_MAX_S)
        finally:
            self._serving = False
