"""Following the chain: one event follower per node, with a persisted cursor, that survives reorgs.

What it guarantees:

* **Confirmations.** Events are delivered only from blocks with ``confirmations`` (``[chain]
  confirmations``; 1 = the head block counts) — the *safe* block is ``head - confirmations + 1``.
* **A cursor that survives restarts.** The last block delivered and its hash live in the node's
  store (``chain_cursor``), with the hashes of earlier cursor positions (``chain_checkpoints``) and
  the raw logs delivered (``chain_logs``); a restarted node resumes where it stopped, not from a
  fixed look-back.
* **Reorgs are detected by block hash.** A poll checks that the cursor's block still has the
  stored hash (free when the new head's parent is the cursor; otherwise on every poll while logs
  delivered in the last REORG_WINDOW blocks could be undone, and every FULL_CHECK_EVERY polls).
  If not, the checkpoints are walked back to the newest one the chain still holds (the fork
  point); every log delivered after it is undone (returned in :attr:`FollowUpdate.dropped`,
  deleted from the store) and the blocks after it are read again. Logs of blocks the reorg did not
  change (same block hash, same index) are neither dropped nor delivered twice.
* **The node's own transactions.** A reorg can drop a block holding one of this node's
  transactions before the cursor ever reached it; the client remembers where its transactions
  were mined and each poll checks those blocks (until ``confirmations`` deep): a lost one is
  reported as a reorg (:attr:`FollowUpdate.fork`) even when no delivered event was undone.
* **Few requests.** A poll that finds no new block costs one request (``eth_getBlockByNumber``);
  a poll that finds some costs two (the head, ``eth_getLogs``), three with the hash check, plus
  one when ``confirmations`` > 1; the head costs nothing when the node's block waiter
  (:class:`node.chain.heads.Heads`) hands it over. While the node has work in flight a poll
  follows every new block as soon as the waiter sees it (a subscription on a WebSocket endpoint,
  else a poll timed by the block time); when idle, every ``max(IDLE_FLOOR_S, 2 blocks)``
  (:meth:`Follower.interval`), and most idle polls are one ``eth_getLogs`` from the cursor to the
  head (:meth:`Follower.quiet`) that reads nothing more when no log came (a full poll, with its
  reorg checks, every IDLE_FULL_EVERY); :meth:`Follower.wake` polls
  at once (after this node's own transaction). The chain id is never asked again (the client
  caches it).

A role consumes updates with :meth:`Follower.run` (trio) and must treat each event as "this
happened on the chain as far as ``confirmations`` can tell" and each dropped event as "this did not
happen after all": undo what it derived and decide its next step from the chain's state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from node.chain.client import BlockHeader, ChainClient
from node.chain.events import DecodedEvent, EventDecoder
from node.chain.heads import Heads
from node.errors import ChainError

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from node.chain.aio import AsyncChain
    from node.store import Store

logger = logging.getLogger(__name__)

#: Seconds between polls of an idle node, at least (a 2 s chain: 10 a minute, most of one request).
IDLE_FLOOR_S = 6.0
#: An idle follower of contracts reads the head (a full poll) only every this many polls, or when
#: the one-request check (:meth:`Follower.quiet`) finds a log after the cursor.
IDLE_FULL_EVERY = 6
#: Seconds between polls on a chain that mines on demand (block time 0): active, idle.
ON_DEMAND_ACTIVE_S, ON_DEMAND_IDLE_S = 0.25, 1.0
#: Checkpoints (earlier cursor positions) kept per follower to find a fork point.
CHECKPOINTS_KEPT = 256
#: Own transactions' blocks further than this below the head are no longer checked.
LANDED_HORIZON = 256
#: Blocks below the cursor in which a delivered log makes every poll check the cursor's hash.
REORG_WINDOW = 16
#: Otherwise the cursor's hash is checked every this many polls (and whenever it is free).
FULL_CHECK_EVERY = 5
#: Most blocks read by one ``eth_getLogs`` (providers cap the range).
MAX_LOG_RANGE = 2_000


@dataclass(frozen=True)
class FollowUpdate:
    """What one poll found: new confirmed events (chain order), events undone by a reorg (newest
    first), the head it saw and the block the cursor now stands on."""

    events: tuple[DecodedEvent, ...]
    dropped: tuple[DecodedEvent, ...]
    head: BlockHeader
    cursor: int
    #: What :meth:`Follower.ack` writes: the fork point to rewind to (if a reorg), the new cursor
    #: and the raw logs delivered.
    fork: tuple[int, str] | None = field(default=None, repr=False)
    cursor_hash: str = field(default="", repr=False)
    logs: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    moved: bool = field(default=False, repr=False)

    @property
    def reorged(self) -> bool:
        return bool(self.dropped)


def _log_json(log: Mapping[str, Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return "0x" + bytes(value).hex()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    keys = ("address", "topics", "data", "blockNumber", "blockHash", "transactionHash", "logIndex")
    return json.dumps({k: plain(log[k]) for k in keys})


def _identity(log: Mapping[str, Any]) -> tuple[str, int]:
    block_hash = log["blockHash"]
    text = "0x" + bytes(block_hash).hex() if isinstance(block_hash, (bytes, bytearray)) else str(block_hash)
    return text.lower(), int(log["logIndex"])


class CursorStore:
    """The follower's rows in the node's store (tables of store migration 5), under one ``name``."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name

    def cursor(self) -> tuple[int, str] | None:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT block, hash FROM chain_cursor WHERE name = ?", (self.name,)).fetchone()
        return (int(row[0]), str(row[1])) if row is not None else None

    def checkpoints(self) -> list[tuple[int, str]]:
        """Earlier cursor positions, newest first."""
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT block, hash FROM chain_checkpoints WHERE name = ? ORDER BY block DESC", (self.name,)
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def advance(self, block: int, block_hash: str, logs: Sequence[Mapping[str, Any]]) -> None:
        """Record delivered ``logs`` and move the cursor to ``block`` — one transaction."""
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO chain_logs (name, block, log_index, log_json) VALUES (?, ?, ?, ?)",
                [(self.name, int(log["blockNumber"]), int(log["logIndex"]), _log_json(log)) for log in logs],
            )
            conn.execute(
                "INSERT OR REPLACE INTO chain_cursor (name, block, hash) VALUES (?, ?, ?)",
                (self.name, block, block_hash),
            )
            conn.execute(
                "INSERT OR REPLACE INTO chain_checkpoints (name, block, hash) VALUES (?, ?, ?)",
                (self.name, block, block_hash),
            )
            conn.execute(
                "DELETE FROM chain_checkpoints WHERE name = ? AND block NOT IN (SELECT block FROM "
                "chain_checkpoints WHERE name = ? ORDER BY block DESC LIMIT ?)",
                (self.name, self.name, CHECKPOINTS_KEPT),
            )

    def has_logs_after(self, block: int) -> bool:
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT 1 FROM chain_logs WHERE name = ? AND block > ? LIMIT 1", (self.name, block)
            ).fetchone()
        return row is not None

    def logs_after(self, block: int) -> list[dict[str, Any]]:
        """The delivered logs of blocks after ``block``, newest first."""
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT log_json FROM chain_logs WHERE name = ? AND block > ? "
                "ORDER BY block DESC, log_index DESC",
                (self.name, block),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def rewind_and_advance(
        self, fork: tuple[int, str] | None, block: int, block_hash: str, logs: Sequence[Mapping[str, Any]]
    ) -> None:
        """Undo everything after the fork point (if any), then :meth:`advance` — one transaction."""
        with self.store.transaction() as conn:
            if fork is not None:
                conn.execute("DELETE FROM chain_logs WHERE name = ? AND block > ?", (self.name, fork[0]))
                conn.execute(
                    "DELETE FROM chain_checkpoints WHERE name = ? AND block > ?", (self.name, fork[0])
                )
            self.advance(block, block_hash, logs)


class Follower:
    """Delivers a deployment's confirmed events in order, undoing those a reorg removed.

    ``start_block`` is where a fresh cursor starts (the deployment block); ``block_time_s`` paces
    the polls (0: a chain that mines on demand).
    """

    def __init__(
        self,
        client: ChainClient,
        decoder: EventDecoder,
        cursor: CursorStore,
        *,
        start_block: int,
        confirmations: int = 1,
        block_time_s: float = 0.0,
    ) -> None:
        if confirmations < 1:
            raise ValueError(f"confirmations must be at least 1, got {confirmations}")
        self.client = client
        self.decoder = decoder
        self.store = cursor
        self.start_block = start_block
        self.confirmations = confirmations
        self.block_time_s = block_time_s
        self.head: BlockHeader | None = None
        self._settled: set[tuple[int, str]] = set()  # own blocks checked deep enough, or reported
        self._polls = 0
        self._wake = trio.Event()

    # -- one poll (blocking; from trio through AsyncChain.run) ------------------------------------

    def poll(self) -> FollowUpdate:
        """:meth:`fetch` and :meth:`ack` at once (for a reader that acts on the update at once)."""
        update = self.fetch()
        self.ack(update)
        return update

    def fetch(self, head: BlockHeader | None = None) -> FollowUpdate:
        """Read the head (unless given: one just seen), find a reorg if there was one, and what
        became confirmed; writes nothing.

        Delivery is at least once: until :meth:`ack`, the same update comes again (after a crash).
        """
        head = self.client.block("latest") if head is None else head
        assert head is not None  # "latest" always exists
        self.head = head
        safe = head.number - self.confirmations + 1
        cursor = self.store.cursor() or (self.start_block - 1, "")
        fork: tuple[int, str] | None = None
        undone: list[dict[str, Any]] = []
        self._polls += 1
        if cursor[1] and self._worth_checking(cursor, head) and not self._still_canonical(cursor, head):
            fork = self._fork_point(cursor)
        lost = self._lost_own_block(head)
        if lost is not None and fork is None:
            # A block with one of this node's transactions is gone: a reorg, even if the cursor's
            # block survived (or was never reached). Rewind below it if it was delivered.
            fork = self._fork_point((lost, "")) if lost <= cursor[0] else cursor
        if fork is not None:
            undone = self.store.logs_after(fork[0])
            cursor = fork
        fresh: list[Mapping[str, Any]] = []
        block, block_hash = cursor
        moved = fork is not None
        if safe > block:
            fresh, block, block_hash = self._read(block + 1, safe, head)
            moved = moved or block != cursor[0]
        undone_ids = {_identity(log) for log in undone}
        fresh_ids = {_identity(log) for log in fresh}
        events = tuple(self.decoder.decode_logs(log for log in fresh if _identity(log) not in undone_ids))
        dropped = tuple(self.decoder.decode_logs(log for log in undone if _identity(log) not in fresh_ids))
        return FollowUpdate(
            events=events,
            dropped=dropped,
            head=head,
            cursor=block,
            fork=fork,
            cursor_hash=block_hash,
            logs=tuple(fresh),
            moved=moved,
        )

    def quiet(self) -> bool:
        """One request: True when no log of the followed contracts came after the cursor (nothing
        to deliver; the cursor stays), False when one did or a full poll is due anyway (no
        contracts, no cursor yet). A reorg is not looked for here: by the next full poll."""
        cursor = self.store.cursor()
        if not self.decoder.addresses or cursor is None:
            return False
        # From the cursor's own block (a range past the head is an error on Anvil), its logs aside.
        params = {"address": list(self.decoder.addresses), "fromBlock": cursor[0], "toBlock": "latest"}
        try:
            logs = self.client.rpc(lambda: self.client.w3.eth.get_logs(params))  # type: ignore[arg-type]
        except ChainError:  # e.g. the chain is now shorter than the cursor: the full poll finds out
            return False
        return not any(int(log["blockNumber"]) > cursor[0] for log in logs)

    def ack(self, update: FollowUpdate) -> None:
        """Persist what ``update`` delivered and undid (one transaction)."""
        if update.moved:
            self.store.rewind_and_advance(update.fork, update.cursor, update.cursor_hash, update.logs)

    def _worth_checking(self, cursor: tuple[int, str], head: BlockHeader) -> bool:
        """Whether to check the cursor's hash in this poll. Free (the head or its parent), or when
        a reorg could undo something: logs delivered in the last REORG_WINDOW blocks; otherwise
        every FULL_CHECK_EVERY polls (an idle node's reorgs undo nothing, so a late notice costs
        only reading those blocks again)."""
        if cursor[0] >= head.number - 1 or self._polls % FULL_CHECK_EVERY == 0:
            return True
        return self.store.has_logs_after(cursor[0] - REORG_WINDOW)

    def _still_canonical(self, cursor: tuple[int, str], head: BlockHeader) -> bool:
        number, block_hash = cursor
        if number == head.number:
            return head.hash == block_hash
        if number == head.number - 1:
            return head.parent_hash == block_hash
        if number > head.number:
            return False  # the chain got shorter than our cursor: a reorg to a shorter branch
        now = self.client.block(number)
        return now is not None and now.hash == block_hash

    def _lost_own_block(self, head: BlockHeader) -> int | None:
        """The lowest block that held a transaction of this client and is no longer canonical.

        Each such block is checked until it is ``confirmations`` deep (then the chain's choice is
        taken as final); the cost is a request per block still shallow, only after this node sent.
        """
        lost: int | None = None
        for number, block_hash in list(self.client.landed):
            if (number, block_hash) in self._settled or number < head.number - LANDED_HORIZON:
                continue
            if number > head.number:
                canonical = False
            elif number == head.number:
                canonical = head.hash == block_hash
            else:
                now = self.client.block(number)
                canonical = now is not None and now.hash == block_hash
            if not canonical:
                lost = number if lost is None else min(lost, number)
                self._settled.add((number, block_hash))  # reported once
            elif head.number - number + 1 >= self.confirmations:
                self._settled.add((number, block_hash))
        return lost

    def _fork_point(self, cursor: tuple[int, str]) -> tuple[int, str]:
        """The newest checkpoint below ``cursor`` that the chain still holds (else before the start)."""
        for number, block_hash in self.store.checkpoints():
            if number >= cursor[0]:
                continue
            now = self.client.block(number)
            if now is not None and now.hash == block_hash:
                return number, block_hash
        return self.start_block - 1, ""

    def _read(
        self, first: int, safe: int, head: BlockHeader
    ) -> tuple[list[Mapping[str, Any]], int, str]:
        """Logs of ``first..safe`` (at most MAX_LOG_RANGE blocks) and the block/hash read up to."""
        last = min(safe, first + MAX_LOG_RANGE - 1)
        logs: list[Mapping[str, Any]] = []
        if self.decoder.addresses:  # a follower without contracts watches its own blocks only
            params = {"address": list(self.decoder.addresses), "fromBlock": first, "toBlock": last}
            logs = list(self.client.rpc(lambda: self.client.w3.eth.get_logs(params)))  # type: ignore[arg-type]
        if last == head.number:
            last_hash = head.hash
        else:
            header = self.client.block(last)
            last_hash = header.hash if header is not None else ""
        # A log of the last block from another branch than its header: read it again next poll.
        if any(int(log["blockNumber"]) == last and _identity(log)[0] != last_hash.lower() for log in logs):
            keep = [log for log in logs if int(log["blockNumber"]) < last]
            previous = self.client.block(last - 1)
            return keep, last - 1, previous.hash if previous is not None else ""
        return logs, last, last_hash

    # -- pacing and the trio loop -----------------------------------------------------------------

    def interval(self, *, active: bool) -> float:
        """Seconds between polls: a block while work is in flight (what a failed wait for a block
        waits before the next poll), else the idle pace (also the longest wait for a block)."""
        if self.block_time_s <= 0:
            return ON_DEMAND_ACTIVE_S if active else ON_DEMAND_IDLE_S
        return self.block_time_s if active else max(IDLE_FLOOR_S, 2 * self.block_time_s)

    def wake(self) -> None:
        """Poll now (call after sending a transaction whose events the node waits for)."""
        self._wake.set()

    async def run(
        self,
        achain: AsyncChain,
        handle: Callable[[FollowUpdate], Awaitable[None]],
        *,
        heads: Heads | None = None,
        active: Callable[[], bool] = lambda: False,
        task_status: TaskStatus[Follower] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Poll forever; ``handle`` each update that has events, dropped events or a reorg (``fork``:
        what a node derived from its own transactions may be gone too), then :meth:`ack`
        it (so the handler must be idempotent: after a crash the same events come again).

        ``heads``: the node's block waiter (one of the follower's own when not given). ``active()``
        says whether the node has work in flight (a poll at every new block) or is idle. A
        chain error (the endpoint down, a bad answer) in a poll or in ``handle`` is logged and the
        poll tried again at the next interval, unacknowledged: the follower outlives an outage.
        """
        heads = heads or Heads.of(self.client, block_time_s=self.block_time_s)
        task_status.started(self)
        head: BlockHeader | None = None
        idle_polls, seen = 0, -1
        while True:
            try:
                idle = head is None and not active()
                idle_polls = idle_polls + 1 if idle else 0
                if idle and idle_polls % IDLE_FULL_EVERY and await achain.run(self.quiet):
                    head = await self._next(heads, seen, active())
                    continue
                update = await achain.run(self.fetch, head)
                seen = update.head.number
                if update.events or update.dropped or update.fork is not None:
                    await handle(update)
                await achain.run(self.ack, update)  # after the handler: a crash in it delivers again
            except ChainError as err:  # the endpoint is down or answered badly: the same poll again later
                logger.warning("chain follower %s: %s; retrying", self.store.name, err)
                seen = -1  # the next poll reads the head itself, after the idle interval
            head = await self._next(heads, seen, active())

    async def _next(self, heads: Heads, seen: int, active: bool) -> BlockHeader | None:
        """Wait for the next poll: a block above ``seen`` while active (that block's header), the
        idle interval otherwise (None: read the head then); :meth:`wake` cuts either short."""
        found: list[BlockHeader] = []
        async with trio.open_nursery() as nursery:

            async def on_block() -> None:
                try:
                    found.append(await heads.next(seen))
                except ChainError as err:  # the endpoint is down: the next poll reads the head again
                    logger.warning("chain follower %s: %s; retrying", self.store.name, err)
                    await trio.sleep(self.interval(active=True))
                nursery.cancel_scope.cancel()

            async def on_wake() -> None:
                await self._wake.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(on_wake)
            if active and seen >= 0:
                nursery.start_soon(on_block)
            # Active or not, the head is read afresh at the idle pace: a reorg to a branch no longer
            # than the old one brings no higher block.
            nursery.cancel_scope.deadline = trio.current_time() + self.interval(active=False)
        self._wake = trio.Event()
        return found[0] if found else None
