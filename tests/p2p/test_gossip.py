"""Gossip between three real hosts; the validator drops bad offers before they are relayed.

Topology: ``rogue`` ─ ``relay`` ─ ``receiver``. ``rogue`` is a plain py-libp2p gossipsub peer with
no validator, so it can publish anything; ``relay`` and ``receiver`` run the node's
:class:`Gossip`. Whatever ``relay`` drops must never reach ``receiver``: its own validator never
even sees those messages (its drop counter stays at zero).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
import trio
from eth_account import Account
from eth_account.signers.local import LocalAccount
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from node.p2p.codec import encode_message
from node.p2p.gossip import Gossip, GossipDrop, SignedEnvelope, sign_envelope
from node.p2p.host import Host
from node.p2p.messages import OFFERS_TOPIC
from tests.p2p.conftest import new_host, running

if TYPE_CHECKING:
    from trio_typing import TaskStatus

OFFER = {"gpu": "cpu", "tflops_fp32_milli": 1200, "price_per_hour": 10**18}


class Registry:
    """A real in-process staking registry: the set of (address, peer id) pairs that are bound."""

    def __init__(self) -> None:
        self.bound: set[tuple[str, str]] = set()

    def bind(self, address: str, peer_id: str) -> None:
        self.bound.add((address.lower(), peer_id))

    async def is_bound(self, address: str, peer_id: str) -> bool:
        await trio.lowlevel.checkpoint()
        return (address.lower(), peer_id) in self.bound


class RoguePubsub:
    """A plain gossipsub peer with no topic validator: publishes whatever bytes it is given."""

    def __init__(self) -> None:
        self.pubsub: Pubsub | None = None

    async def run(
        self, host: Host, *, task_status: TaskStatus[RoguePubsub] = trio.TASK_STATUS_IGNORED
    ) -> None:
        router = GossipSub(
            protocols=[TProtocol(PROTOCOL_ID_V11)],
            degree=6,
            degree_low=4,
            degree_high=12,
            heartbeat_interval=1,
            max_messages_per_topic_per_second=1000.0,  # its own sends are rate-limited too
        )
        pubsub = Pubsub(host.libp2p, router)
        async with background_trio_service(pubsub), background_trio_service(router):
            await pubsub.wait_until_ready()
            await pubsub.subscribe(OFFERS_TOPIC)
            self.pubsub = pubsub
            task_status.started(self)
            await trio.sleep_forever()


def gossip_of(host: Host) -> Gossip:
    assert isinstance(host.gossip, Gossip)
    return host.gossip


async def test_validator_drops_bad_offers_before_relay() -> None:
    registry = Registry()
    staked: LocalAccount = Account.create()
    unstaked: LocalAccount = Account.create()
    relay_account: LocalAccount = Account.create()
    rogue_pubsub = RoguePubsub()
    rogue = new_host(gossip=rogue_pubsub)
    relay = new_host(gossip=Gossip(is_bound=registry.is_bound))
    receiver = new_host(gossip=Gossip(is_bound=registry.is_bound))
    registry.bind(staked.address, rogue.peer_id)
    registry.bind(relay_account.address, relay.peer_id)

    async with running(rogue, relay, receiver):
        await rogue.connect(relay.addrs[0])
        await receiver.connect(relay.addrs[0])
        await gossip_of(relay).wait_for_peer(rogue.peer_id, OFFERS_TOPIC)
        await gossip_of(relay).wait_for_peer(receiver.peer_id, OFFERS_TOPIC)
        assert rogue_pubsub.pubsub is not None
        await rogue_pubsub.pubsub.wait_for_mesh(ID.from_base58(relay.peer_id), OFFERS_TOPIC, timeout=10)
        assert not receiver.is_connected(rogue.peer_id)  # everything goes through the relay

        now = int(time.time())

        def signed(account: LocalAccount, **changes: Any) -> SignedEnvelope:
            fields: dict[str, Any] = {"topic": OFFERS_TOPIC, "kind": "offer", "body": OFFER,
                                      "peer_id": rogue.peer_id, **changes}
            return sign_envelope(account, **fields)

        good = signed(staked)
        forged = signed(unstaked)
        bad: dict[str, bytes] = {
            "unsigned": encode_message(replace(good, signature=b"\x00" * 65)),
            "mis-signed": encode_message(replace(forged, signer=staked.address)),
            "tampered": encode_message(replace(good, body={**OFFER, "price_per_hour": 1})),
            "expired": encode_message(signed(staked, ttl=60, now=now - 120)),
            "too-far-ahead": encode_message(signed(staked, ttl=10 * 3600)),
            "malformed": b'{"kind": "offer", "body": ',
            "wrong-schema": b'{"topic": "/ccm/offers/1", "kind": "offer"}',
            "unstaked": encode_message(forged),
            "other-peer": encode_message(signed(staked, peer_id=relay.peer_id)),
            "other-topic": encode_message(signed(staked, topic="/ccm/orders/1")),
            "oversized": encode_message(signed(staked, body={"pad": "x" * 70_000})),
        }
        for payload in bad.values():
            await rogue_pubsub.pubsub.publish(OFFERS_TOPIC, payload)
        await rogue_pubsub.pubsub.publish(OFFERS_TOPIC, encode_message(good))
        own = await gossip_of(relay).publish(relay_account, topic=OFFERS_TOPIC, kind="offer", body=OFFER)

        with trio.fail_after(10):
            while len(gossip_of(receiver).delivered(OFFERS_TOPIC)) < 2:
                await trio.sleep(0.05)
        await trio.sleep(0.5)  # room for any straggler that should not come

    got = [r.envelope for r in gossip_of(receiver).delivered(OFFERS_TOPIC)]
    assert sorted(got, key=lambda e: e.signer) == sorted([good, own], key=lambda e: e.signer)
    assert gossip_of(receiver).dropped == {}  # nothing bad was relayed for it even to look at
    dropped = gossip_of(relay).dropped
    assert sum(dropped.values()) == len(bad)
    assert dropped == {"signature": 3, "expired": 2, "malformed": 3, "unstaked": 1, "peer": 1, "oversized": 1}


async def test_publishing_unstaked_or_unknown_topic_fails_locally() -> None:
    registry = Registry()
    host = new_host(gossip=Gossip(is_bound=registry.is_bound))
    account: LocalAccount = Account.create()
    async with running(host):
        with pytest.raises(GossipDrop, match="unstaked"):
            await gossip_of(host).publish(account, topic=OFFERS_TOPIC, kind="offer", body=OFFER)
        registry.bind(account.address, host.peer_id)
        env = await gossip_of(host).publish(account, topic=OFFERS_TOPIC, kind="offer", body=OFFER)
        assert env.signer == account.address and env.peer_id == host.peer_id
        with pytest.raises(Exception, match="not a gossip topic"):
            await gossip_of(host).publish(account, topic="/other/1", kind="offer", body=OFFER)


async def test_rate_limit_is_set_deliberately() -> None:
    host = new_host(gossip=Gossip(is_bound=Registry().is_bound, max_per_second=7.0))
    async with running(host):
        router = gossip_of(host).pubsub.router
        assert isinstance(router, GossipSub)
        assert router.max_messages_per_topic_per_second == 7.0
        assert router.heartbeat_interval == 1
