"""Gossip of capacity offers and claim orders, signed by Ethereum keys, validated before relay.

Topics :data:`~node.p2p.messages.OFFERS_TOPIC` and :data:`~node.p2p.messages.ORDERS_TOPIC` carry
one :class:`SignedEnvelope` per message (canonical JSON). The envelope names the topic, the
origin's libp2p peer id, its Ethereum address and an expiry, and is signed with that address's key
(EIP-191 ``personal_sign`` over the canonical JSON of every other field, via eth-account's
``encode_defunct``). The topic validator registered for each topic drops, before the message is
delivered or relayed:

* ``oversized``   more than :data:`MAX_ENVELOPE` bytes;
* ``malformed``   not a valid envelope (JSON, schema), or for another topic;
* ``peer``        the envelope's peer id is not the libp2p origin of the message;
* ``expired``     past its expiry, or with an expiry further ahead than :data:`MAX_TTL`;
* ``signature``   no valid signature, or one that recovers to a different address;
* ``unstaked``    ``is_bound(address, peer_id)`` says the address is not staked for that peer.

``is_bound`` is supplied by the caller: the chain client's check against the staking registry in
the node, a set in tests. Drops are counted in :attr:`Gossip.dropped` and logged at debug level.

Rate limit: gossipsub drops a forwarder's messages beyond ``max_per_second`` per topic (py-libp2p's
default is 10). Offers are re-advertised every few tens of seconds and orders come in bursts when a
series is listed, so the node allows :data:`DEFAULT_RATE` per peer per topic: enough for a relay
carrying a busy market, low enough that one peer cannot flood everyone.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_keys.exceptions import ValidationError as KeysValidationError
from eth_utils.exceptions import ValidationError as UtilsValidationError
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from node.errors import ProtocolError
from node.p2p.codec import SchemaError, canonical_json, decode_message, encode_message, to_jsonable
from node.p2p.messages import OFFERS_TOPIC, ORDERS_TOPIC

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from node.p2p.host import Host

logger = logging.getLogger(__name__)

MAX_ENVELOPE = 64 * 1024
MAX_TTL = 3600
DEFAULT_TTL = 300
DEFAULT_RATE = 50.0
KINDS = ("offer", "order")

IsBound = Callable[[str, str], Awaitable[bool]]
"""``async is_bound(eth_address, peer_id) -> bool``: is this address staked and bound to this peer?"""


@dataclass(frozen=True)
class SignedEnvelope:
    """One gossip message: ``body`` (an offer or an order) signed by ``signer`` for ``peer_id``."""

    topic: str
    kind: str
    body: dict[str, Any]
    peer_id: str
    signer: str
    issued: int
    expires: int
    signature: bytes

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SchemaError("kind", f"must be one of {list(KINDS)}")
        if len(self.signature) != 65:
            raise SchemaError("signature", f"must be 65 bytes, got {len(self.signature)}")
        if self.expires <= self.issued:
            raise SchemaError("expires", "must be after issued")

    def signing_payload(self) -> bytes:
        """The bytes the signature covers: canonical JSON of every field except the signature."""
        fields = to_jsonable(self)
        del fields["signature"]
        return canonical_json(fields)


def sign_envelope(
    account: LocalAccount,
    *,
    topic: str,
    kind: str,
    body: dict[str, Any],
    peer_id: str,
    ttl: int = DEFAULT_TTL,
    now: int | None = None,
) -> SignedEnvelope:
    """Build and sign an envelope that expires ``ttl`` seconds from ``now`` (default: the clock)."""
    issued = int(time.time()) if now is None else now
    unsigned = SignedEnvelope(
        topic=topic,
        kind=kind,
        body=body,
        peer_id=peer_id,
        signer=account.address,
        issued=issued,
        expires=issued + ttl,
        signature=b"\x00" * 65,
    )
    signature = account.sign_message(encode_defunct(primitive=unsigned.signing_payload())).signature
    return SignedEnvelope(**{**unsigned.__dict__, "signature": bytes(signature)})


def recover_signer(envelope: SignedEnvelope) -> str | None:
    """The address that signed ``envelope``, or ``None`` if the signature is not valid at all."""
    try:
        return str(
            Account.recover_message(
                encode_defunct(primitive=envelope.signing_payload()), signature=envelope.signature
            )
        )
    except (ValueError, BadSignature, KeysValidationError, UtilsValidationError):
        return None


class GossipDrop(ProtocolError):
    """Why a gossip message was dropped; ``reason`` is one of the names in the module docstring."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class Received:
    """A validated gossip message as delivered to the node: the envelope and who relayed it."""

    envelope: SignedEnvelope
    forwarder: str


@dataclass
class _TopicState:
    send: trio.MemorySendChannel[Received]
    receive: trio.MemoryReceiveChannel[Received]
    delivered: deque[Received] = field(default_factory=lambda: deque(maxlen=1024))


class Gossip:
    """The gossipsub service of a :class:`~node.p2p.host.Host` (pass it as ``Host(gossip=...)``).

    ``is_bound`` checks staking; ``clock`` returns unix seconds (tests may fix it);
    ``max_per_second`` is the per-peer, per-topic rate limit; ``heartbeat`` the mesh upkeep
    interval in seconds (py-libp2p defaults to 120 s, far too slow for a market).
    """

    def __init__(
        self,
        *,
        is_bound: IsBound,
        topics: Sequence[str] = (OFFERS_TOPIC, ORDERS_TOPIC),
        max_per_second: float = DEFAULT_RATE,
        heartbeat: int = 1,
        clock: Callable[[], float] = time.time,
        buffer: int = 256,
    ) -> None:
        self.is_bound = is_bound
        self.topics = tuple(topics)
        self.max_per_second = max_per_second
        self.heartbeat = heartbeat
        self.clock = clock
        self.dropped: Counter[str] = Counter()
        self._topics: dict[str, _TopicState] = {}
        for topic in self.topics:
            send, receive = trio.open_memory_channel[Received](buffer)
            self._topics[topic] = _TopicState(send, receive)
        self._pubsub: Pubsub | None = None
        self._host: Host | None = None

    # --- validation -----------------------------------------------------------------------------

    async def check(self, topic: str, origin_peer: str, data: bytes) -> SignedEnvelope:
        """Validate one message as the topic validator does; raise :class:`GossipDrop` if it fails."""
        if len(data) > MAX_ENVELOPE:
            raise GossipDrop("oversized", f"{len(data)} bytes > {MAX_ENVELOPE}")
        try:
            env = decode_message(SignedEnvelope, data)
        except SchemaError as err:
            raise GossipDrop("malformed", str(err)) from None
        if env.topic != topic:
            raise GossipDrop("malformed", f"envelope for topic {env.topic!r} sent on {topic!r}")
        if env.peer_id != origin_peer:
            raise GossipDrop("peer", f"envelope names {env.peer_id}, origin is {origin_peer}")
        now = self.clock()
        if env.expires <= now:
            raise GossipDrop("expired", f"expired {now - env.expires:.0f} s ago")
        if env.expires - now > MAX_TTL:
            raise GossipDrop("expired", f"expiry {env.expires - now:.0f} s ahead exceeds {MAX_TTL} s")
        signer = recover_signer(env)
        if signer is None or signer.lower() != env.signer.lower():
            raise GossipDrop("signature", f"signature does not recover to {env.signer}")
        if not await self.is_bound(signer, origin_peer):
            raise GossipDrop("unstaked", f"{signer} is not staked for peer {origin_peer}")
        return env

    async def _validator(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        topic = msg.topicIDs[0] if len(msg.topicIDs) == 1 else ""
        try:
            if not topic:
                raise GossipDrop("malformed", f"message on {len(msg.topicIDs)} topics")
            await self.check(topic, ID(msg.from_id).to_base58(), msg.data)
        except GossipDrop as drop:
            self.dropped[drop.reason] += 1
            logger.debug("gossip from %s dropped: %s", forwarder, drop)
            return False
        return True

    # --- service --------------------------------------------------------------------------------

    async def run(self, host: Host, *, task_status: TaskStatus[Gossip] = trio.TASK_STATUS_IGNORED) -> None:
        """Attach gossipsub to ``host``'s running libp2p host and pump messages until cancelled."""
        router = GossipSub(
            protocols=[TProtocol(PROTOCOL_ID_V11), TProtocol(PROTOCOL_ID)],
            degree=6,
            degree_low=4,
            degree_high=12,
            heartbeat_interval=self.heartbeat,
            max_messages_per_topic_per_second=self.max_per_second,
        )
        pubsub = Pubsub(host.libp2p, router, max_inbound_rpc_size=4 * MAX_ENVELOPE)
        for topic in self.topics:
            pubsub.set_topic_validator(topic, self._validator, is_async_validator=True)
        async with background_trio_service(pubsub), background_trio_service(router):
            await pubsub.wait_until_ready()
            self._pubsub = pubsub
            self._host = host
            try:
                async with trio.open_nursery() as nursery:
                    for topic in self.topics:
                        subscription = await pubsub.subscribe(topic)
                        nursery.start_soon(self._pump, topic, subscription)
                    task_status.started(self)
                    await trio.sleep_forever()
            finally:
                self._pubsub = None
                self._host = None

    async def _pump(self, topic: str, subscription: Any) -> None:
        state = self._topics[topic]
        async for msg in subscription:
            # Messages were validated before delivery; decoding again cannot fail for them.
            env = decode_message(SignedEnvelope, msg.data)
            item = Received(envelope=env, forwarder=ID(msg.from_id).to_base58())
            state.delivered.append(item)
            try:
                state.send.send_nowait(item)
            except trio.WouldBlock:
                logger.warning("gossip reader on %s is behind; dropped a message from %s", topic, env.signer)

    @property
    def pubsub(self) -> Pubsub:
        """The running py-libp2p pubsub (only while running)."""
        if self._pubsub is None:
            raise ProtocolError("gossip is not running")
        return self._pubsub

    # --- use ------------------------------------------------------------------------------------

    async def publish(
        self, account: LocalAccount, *, topic: str, kind: str, body: dict[str, Any], ttl: int = DEFAULT_TTL
    ) -> SignedEnvelope:
        """Sign ``body`` with ``account`` and gossip it on ``topic``; return the envelope sent.

        The message passes through this node's own validator first, so an unstaked account or a
        body that does not fit the schema is caught here rather than by every peer.
        """
        if topic not in self._topics:
            raise ProtocolError(f"not a gossip topic of this node: {topic}")
        if self._host is None:
            raise ProtocolError("gossip is not running")
        peer_id = self._host.peer_id
        now = int(self.clock())
        env = sign_envelope(account, topic=topic, kind=kind, body=body, peer_id=peer_id, ttl=ttl, now=now)
        data = encode_message(env)
        await self.check(topic, self._host.peer_id, data)
        await self.pubsub.publish(topic, data)
        return env

    def messages(self, topic: str) -> trio.MemoryReceiveChannel[Received]:
        """The channel of validated messages received on ``topic`` (one consumer)."""
        return self._topics[topic].receive

    def delivered(self, topic: str) -> list[Received]:
        """The last 1024 validated messages delivered on ``topic`` (for inspection and tests)."""
        return list(self._topics[topic].delivered)

    async def wait_for_peer(self, peer_id: str, topic: str, *, timeout: float = 10.0) -> None:
        """Wait until ``peer_id`` is subscribed to ``topic`` and in this node's mesh for it."""
        pid = ID.from_base58(peer_id)
        try:
            await self.pubsub.wait_for_subscription(pid, topic, timeout=timeout)
            await self.pubsub.wait_for_mesh(pid, topic, timeout=timeout)
        except trio.TooSlowError:
            raise ProtocolError(f"peer {peer_id} did not join {topic} within {timeout:g} s") from None
