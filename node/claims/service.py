"""Claims orders between nodes: gossip ingest and publish, and two request/response protocols.

A running node starts :class:`ClaimsService` next to its host (``nursery.start(service.run)``). It

* ingests orders gossiped on :data:`~node.p2p.messages.ORDERS_TOPIC` (envelope kind ``order``,
  body an :class:`~node.claims.orders.OrderMessage`): each is judged against the chain
  (:func:`node.claims.book.check_order`) and kept in the book only if live;
* gossips the book's outbox (orders added by ``ccm claims create``/``sell`` on this node, or pushed
  by a peer) under this node's envelope, and re-gossips its own sellers' live orders every
  ``republish_s`` so nodes that join later learn them (a gossip envelope lives at most an hour);
* serves :data:`BOOK` (a peer asks for the live orders, optionally of one series) and
  :data:`SUBMIT` (a peer pushes signed orders; live ones are kept and gossiped from here).

Why SUBMIT: the gossip validator admits envelopes only from staked nodes bound to their peer id
(spam control). A claim holder that is not staked (a consumer reselling) hands its signed order to
a staked node, which vouches for it by relaying; the order's own EIP-712 signature and the chain
decide whether it is live, whoever relays it.

The gossip envelope's signer is the node's account; the order's seller may be anyone.

Resource handling: everything runs in the caller's nursery and stops with it; chain and SQLite
calls run in worker threads. Error handling: a malformed or dead order from a peer is dropped and
counted in :attr:`ClaimsService.dropped`; a peer that breaks the protocol is disconnected by
:func:`node.p2p.reqresp.guard`.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio
from eth_account.signers.local import LocalAccount

from node.chain.aio import AsyncChain
from node.chain.chain import Chain
from node.claims.book import ChainView, OrderBook, OrderState, check_order, judge
from node.claims.orders import OrderMessage
from node.errors import ProtocolError
from node.p2p.codec import SchemaError, from_jsonable, to_jsonable
from node.p2p.gossip import Gossip, Received
from node.p2p.host import Host
from node.p2p.messages import ORDERS_TOPIC
from node.p2p.reqresp import Protocol, request, serve

if TYPE_CHECKING:
    from trio_typing import TaskStatus

logger = logging.getLogger(__name__)

MAX_ORDERS = 256
"""Most orders in one BOOK answer or SUBMIT request."""
ORDER_KIND = "order"


@dataclass(frozen=True)
class BookRequest:
    """Ask a peer for its live orders; ``series_id`` ``"0"`` means every series."""

    series_id: str = "0"

    def __post_init__(self) -> None:
        if not self.series_id.isdigit() or len(self.series_id) > 78:
            raise SchemaError("series_id", "must be a decimal integer")


@dataclass(frozen=True)
class BookResponse:
    """A peer's live orders (each still judged by the receiver against the chain)."""

    orders: tuple[OrderMessage, ...]

    def __post_init__(self) -> None:
        if len(self.orders) > MAX_ORDERS:
            raise SchemaError("orders", f"at most {MAX_ORDERS}")


@dataclass(frozen=True)
class SubmitRequest:
    """Signed orders pushed to a peer for it to keep and gossip."""

    orders: tuple[OrderMessage, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.orders) <= MAX_ORDERS:
            raise SchemaError("orders", f"between 1 and {MAX_ORDERS}")


@dataclass(frozen=True)
class Verdict:
    """What the receiver made of one submitted order: ``reason`` empty when kept."""

    order_hash: str
    reason: str


@dataclass(frozen=True)
class SubmitResponse:
    verdicts: tuple[Verdict, ...]

    def __post_init__(self) -> None:
        if len(self.verdicts) > MAX_ORDERS:
            raise SchemaError("verdicts", f"at most {MAX_ORDERS}")


BOOK = Protocol("/ccm/claims/book/1.0.0", BookRequest, BookResponse, max_response=256 * 1024, timeout=15.0)
SUBMIT = Protocol(
    "/ccm/claims/submit/1.0.0", SubmitRequest, SubmitResponse, max_request=256 * 1024, timeout=30.0
)


class ClaimsService:
    """The claims market of a running node (see the module docstring).

    ``account`` signs gossip envelopes; it must be staked and bound to ``host``'s peer id for peers
    to accept them (without it the service only ingests and serves). ``gossip`` may be ``None``
    (serve the protocols only).
    """

    def __init__(
        self,
        *,
        book: OrderBook,
        chain: Chain,
        host: Host,
        gossip: Gossip | None,
        account: LocalAccount | None,
        achain: AsyncChain | None = None,
        outbox_interval: float = 1.0,
        republish_s: float = 300.0,
    ) -> None:
        self.book = book
        self.chain = chain
        self.achain = achain or AsyncChain(chain)
        self.host = host
        self.gossip = gossip
        self.account = account
        self.outbox_interval = outbox_interval
        self.republish_s = republish_s
        self.dropped: Counter[str] = Counter()
        self.ingested = 0
        self.published = 0
        self._deployment = (chain.deployment.chain_id, chain.claims.address)

    async def run(self, *, task_status: TaskStatus[ClaimsService] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the protocols and, with gossip, ingest and publish orders until cancelled."""
        serve(self.host, BOOK, self._on_book)
        serve(self.host, SUBMIT, self._on_submit)
        async with trio.open_nursery() as nursery:
            if self.gossip is not None:
                nursery.start_soon(self._ingest_loop, self.gossip)
                if self.account is not None:
                    nursery.start_soon(self._publish_loop, self.gossip, self.account)
            task_status.started(self)
            await trio.sleep_forever()

    # --- judging --------------------------------------------------------------------------------

    async def _judge(self, messages: Sequence[OrderMessage]) -> list[OrderState]:
        def run() -> list[OrderState]:
            view = ChainView(self.chain)
            return [check_order(view, m) for m in messages]

        return await self.achain.run(run)

    async def _keep(self, messages: Sequence[OrderMessage], *, source: str, published: bool) -> list[Verdict]:
        """Judge ``messages`` and keep the live ones; one verdict per message, in order."""
        verdicts: list[Verdict] = []
        for state in await self._judge(messages):
            if state.live:
                added = await trio.to_thread.run_sync(
                    functools.partial(
                        self.book.add, state.order_hash, state.message, source=source, published=published
                    )
                )
                if added:
                    self.ingested += 1
            else:
                self.dropped[state.reason] += 1
            verdicts.append(Verdict(order_hash=state.order_hash, reason=state.reason))
        return verdicts

    # --- gossip ---------------------------------------------------------------------------------

    async def _ingest_loop(self, gossip: Gossip) -> None:
        async for received in gossip.messages(ORDERS_TOPIC):
            await self._ingest(received)

    async def _ingest(self, received: Received) -> None:
        env = received.envelope
        if env.kind != ORDER_KIND:
            self.dropped["kind"] += 1
            return
        try:
            message = from_jsonable(OrderMessage, env.body)
        except SchemaError as err:
            self.dropped["malformed"] += 1
            logger.debug("order from %s malformed: %s", env.signer, err)
            return
        if (message.chain_id, message.contract.lower()) != (self._deployment[0], self._deployment[1].lower()):
            self.dropped["wrong-deployment"] += 1
            return
        # Gossip already reached everyone in the mesh: a received order is not ours to re-send.
        await self._keep([message], source="gossip", published=True)

    async def _publish_loop(self, gossip: Gossip, account: LocalAccount) -> None:
        chain_id, contract = self._deployment
        since_republish = 0.0
        while True:
            outbox = await trio.to_thread.run_sync(
                functools.partial(self.book.unpublished, chain_id=chain_id, contract=contract)
            )
            if since_republish >= self.republish_s:
                since_republish = 0.0
                mine = await trio.to_thread.run_sync(
                    functools.partial(self.book.orders, chain_id=chain_id, contract=contract)
                )
                outbox += [s for s in mine if s.source == "local" and s.published_at is not None]
            if outbox:
                states = await self._judge([s.message for s in outbox])
                sent: list[str] = []
                for stored, state in zip(outbox, states, strict=True):
                    if not state.live:
                        continue
                    try:
                        await gossip.publish(
                            account, topic=ORDERS_TOPIC, kind=ORDER_KIND, body=to_jsonable(state.message)
                        )
                    except ProtocolError as err:
                        logger.warning("order %s not gossiped: %s", stored.order_hash, err)
                        continue
                    sent.append(stored.order_hash)
                    self.published += 1
                dead = [s.order_hash for s, st in zip(outbox, states, strict=True) if not st.live]
                await trio.to_thread.run_sync(self.book.mark_published, sent + dead)
            await trio.sleep(self.outbox_interval)
            since_republish += self.outbox_interval

    # --- request/response -----------------------------------------------------------------------

    async def _on_book(self, peer: str, req: BookRequest) -> BookResponse:
        series = int(req.series_id) or None

        def live() -> list[OrderMessage]:
            stored = self.book.orders(
                chain_id=self._deployment[0], contract=self._deployment[1], series_id=series
            )
            return [s.message for s in judge(self.chain, (s.message for s in stored)) if s.live]

        orders = await self.achain.run(live)
        return BookResponse(orders=tuple(orders[:MAX_ORDERS]))

    async def _on_submit(self, peer: str, req: SubmitRequest) -> SubmitResponse:
        verdicts = await self._keep(req.orders, source="peer", published=False)
        return SubmitResponse(verdicts=tuple(verdicts))


# --- client side (one-shot, as the CLI uses it) ---------------------------------------------------


async def fetch_book(host: Host, addr: str, *, series_id: int | None = None) -> tuple[OrderMessage, ...]:
    """The live orders of the peer at full multiaddr ``addr`` (to be judged by the caller)."""
    peer_id = await host.connect(addr)
    answer = await request(host, peer_id, BOOK, BookRequest(series_id=str(series_id or 0)))
    return answer.orders


async def submit_orders(host: Host, addr: str, orders: Sequence[OrderMessage]) -> tuple[Verdict, ...]:
    """Push signed orders to the peer at ``addr``; its verdict on each (empty reason: kept)."""
    peer_id = await host.connect(addr)
    answer = await request(host, peer_id, SUBMIT, SubmitRequest(orders=tuple(orders)))
    return answer.verdicts
