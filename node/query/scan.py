"""One pass over a deployment's events, with the times of their blocks.

An :class:`EventScan` reads every event of the deployment's contracts from ``from_block`` (the deploy
block by default) up to the head once, through :meth:`node.chain.chain.Chain.event_watcher`, and
answers the read models' questions from that list: events by name, events that name an account,
block times (fetched once per block). Build one per page or command: it is a snapshot, not a cache
that follows the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eth_utils import to_checksum_address

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.chain.events import DecodedEvent

ZERO_ADDRESS = "0x" + "0" * 40


@dataclass
class EventScan:
    """The events of a deployment up to ``block`` (see the module docstring)."""

    chain: Chain
    block: int
    events: list[DecodedEvent]
    _by_name: dict[str, list[DecodedEvent]] = field(default_factory=dict, repr=False)
    _times: dict[int, int] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, chain: Chain, *, from_block: int | None = None, to_block: int | None = None) -> EventScan:
        """Every event from ``from_block`` (default: the deploy block) to ``to_block`` (default: the head)."""
        watcher = chain.event_watcher(from_block=from_block)
        head = chain.client.block_number() if to_block is None else to_block
        events: list[DecodedEvent] = []
        while watcher.next_block <= head:
            events.extend(e for e in watcher.poll() if e.block_number <= head)
        by_name: dict[str, list[DecodedEvent]] = defaultdict(list)
        for event in events:
            by_name[event.name].append(event)
        return cls(chain=chain, block=head, events=events, _by_name=dict(by_name))

    def named(self, *names: str) -> list[DecodedEvent]:
        """The events called one of ``names``, in chain order."""
        if len(names) == 1:
            return list(self._by_name.get(names[0], ()))
        wanted = set(names)
        return [e for e in self.events if e.name in wanted]

    def for_job(self, job_id: int) -> list[DecodedEvent]:
        """Every ``JobMarket`` event of ``job_id`` (and ``Redeemed`` opening it), in chain order."""
        return [
            e
            for e in self.events
            if e.contract in ("JobMarket", "CapacityClaims") and _int(e.args.get("jobId")) == job_id
        ]

    def timestamp(self, block: int) -> int:
        """The unix time of ``block`` (one RPC per block, remembered)."""
        if block not in self._times:
            self._times[block] = self.chain.client.timestamp(block)
        return self._times[block]

    def job_ids(self) -> list[int]:
        """Every job posted or opened for a redeemed claim, ascending."""
        return sorted({int(e.args["jobId"]) for e in self.named("JobPosted", "PrepaidJobOpened")})


def same(a: object, b: str) -> bool:
    """Whether address ``a`` (any case) is ``b``."""
    return isinstance(a, str) and a.lower() == b.lower()


def checksum(value: object) -> str:
    return to_checksum_address(str(value))


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


def involving(events: Iterable[DecodedEvent], address: str, *fields: str) -> list[DecodedEvent]:
    """The events whose argument in one of ``fields`` is ``address``."""
    return [e for e in events if any(same(e.args.get(f), address) for f in fields)]
