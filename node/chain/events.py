"""Event decoding, and one-off scans of a block range (:class:`EventWatcher`, for read models).

Why polling: filters (``eth_newFilter``) vanish when a node restarts and are not offered by every
provider; ``eth_getLogs`` over explicit block ranges works everywhere and is easy to resume from a
stored block number. A node that *acts* on events follows the chain with
:class:`node.chain.follower.Follower` instead (confirmations, a persisted cursor, reorgs undone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_abi import decode as abi_decode
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

from node.chain.artifacts import Artifact
from node.chain.revert import abi_type

if TYPE_CHECKING:
    from node.chain.client import ChainClient


@dataclass(frozen=True)
class DecodedEvent:
    """One log, decoded: which contract, which event, its arguments by name, and where it is."""

    contract: str
    name: str
    args: Mapping[str, Any]
    address: ChecksumAddress
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class _EventSpec:
    contract: str
    name: str
    inputs: tuple[dict[str, Any], ...]


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def _normalise(value: Any, kind: str) -> Any:
    if kind == "address" and isinstance(value, str):
        return to_checksum_address(value)
    if kind == "address[]":
        return tuple(to_checksum_address(v) for v in value)
    return value


class EventDecoder:
    """Decodes logs of known contracts (address → artifact) into :class:`DecodedEvent`."""

    def __init__(self, contracts: Mapping[str, Artifact]) -> None:
        self._specs: dict[tuple[ChecksumAddress, bytes], _EventSpec] = {}
        self.addresses: tuple[ChecksumAddress, ...] = tuple(to_checksum_address(a) for a in contracts)
        for address, artifact in contracts.items():
            for entry in artifact.abi:
                if entry.get("type") != "event" or entry.get("anonymous"):
                    continue
                inputs = tuple(entry.get("inputs", []))
                signature = f"{entry['name']}({','.join(abi_type(i) for i in inputs)})"
                topic = keccak(text=signature)
                self._specs[(to_checksum_address(address), topic)] = _EventSpec(
                    artifact.name, str(entry["name"]), inputs
                )

    def decode(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """Decode one log; None if it is not an event of a known contract."""
        topics = [_as_bytes(t) for t in log["topics"]]
        if not topics:
            return None
        address = to_checksum_address(log["address"])
        spec = self._specs.get((address, topics[0]))
        if spec is None:
            return None
        indexed = [i for i in spec.inputs if i.get("indexed")]
        plain = [i for i in spec.inputs if not i.get("indexed")]
        values: dict[str, Any] = {}
        for entry, topic in zip(indexed, topics[1:], strict=False):
            kind = abi_type(entry)
            if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("):
                values[entry["name"]] = topic  # a hash of the value, by the ABI's rules
            else:
                values[entry["name"]] = _normalise(abi_decode([kind], topic)[0], kind)
        if plain:
            kinds = [abi_type(i) for i in plain]
            decoded = abi_decode(kinds, _as_bytes(log["data"]))
            for entry, kind, value in zip(plain, kinds, decoded, strict=True):
                values[entry["name"]] = _normalise(value, kind)
        ordered = {i["name"]: values[i["name"]] for i in spec.inputs}
        return DecodedEvent(
            contract=spec.contract,
            name=spec.name,
            args=ordered,
            address=address,
            block_number=int(log["blockNumber"]),
            tx_hash=_hex(log["transactionHash"]),
            log_index=int(log["logIndex"]),
        )

    def decode_logs(self, logs: Iterable[Mapping[str, Any]]) -> list[DecodedEvent]:
        return [e for e in (self.decode(log) for log in logs) if e is not None]


@dataclass
class EventWatcher:
    """Polls ``eth_getLogs`` for the decoder's contracts, block range by block range.

    ``next_block`` is the first block not yet reported; store it to resume after a restart.
    Only blocks with at least ``confirmations`` blocks on top are read.
    """

    client: ChainClient
    decoder: EventDecoder
    next_block: int = 0
    confirmations: int = 0
    max_range: int = 2000
    _seen: int = field(default=0, repr=False)

    def poll(self) -> list[DecodedEvent]:
        """Everything new and confirmed since the last poll, in chain order."""
        safe_head = self.client.block_number() - self.confirmations
        found: list[DecodedEvent] = []
        while self.next_block <= safe_head:
            to_block = min(safe_head, self.next_block + self.max_range - 1)
            params = {
                "address": list(self.decoder.addresses),
                "fromBlock": self.next_block,
                "toBlock": to_block,
            }
            logs = self.client.rpc(lambda p=params: self.client.w3.eth.get_logs(p))  # type: ignore[misc]
            found.extend(self.decoder.decode_logs(logs))
            self.next_block = to_block + 1
        self._seen += len(found)
        return found
