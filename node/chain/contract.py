"""A deployed contract bound to a :class:`~node.chain.client.ChainClient`.

:class:`BoundContract` encodes calls from the ABI, runs views (``call``) and sends transactions
(``transact``) through the client, so reverts come back as ``ContractRevert`` labelled with this
contract's name and the function. The typed wrappers (token, registry, market, claims) build on it;
nothing else should touch web3 contract objects.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3.contract import Contract

from node.chain.artifacts import Artifact, load_artifact
from node.chain.client import ChainClient, Receipt
from node.chain.events import DecodedEvent, EventDecoder
from node.chain.revert import abi_type


class BoundContract:
    """One contract instance: name (for messages), address, ABI, and the client it talks through."""

    def __init__(self, client: ChainClient, artifact: Artifact, address: str) -> None:
        self.client = client
        self.name = artifact.name
        self.artifact = artifact
        self.address: ChecksumAddress = to_checksum_address(address)
        self._contract: Contract = client.w3.eth.contract(address=self.address, abi=artifact.abi_list())
        self.events = EventDecoder({self.address: artifact})
        client.register_abi(artifact.abi)

    @classmethod
    def named(cls, client: ChainClient, name: str, address: str) -> BoundContract:
        """Bind the artifact ``name`` at ``address``."""
        return cls(client, load_artifact(name), address)

    def encode(self, function: str, *args: Any) -> str:
        """ABI-encoded calldata for ``function(*args)``."""
        return str(self._contract.encode_abi(function, args=list(args)))

    def call(self, function: str, *args: Any, sender: str | None = None, block: int | str = "latest") -> Any:
        """Run a view (or simulate a write) and return its decoded result (a tuple if several)."""
        fn = self._contract.get_function_by_name(function)(*args)
        tx: dict[str, Any] = {"to": self.address, "data": self.encode(function, *args)}
        if sender is not None:
            tx["from"] = to_checksum_address(sender)
        raw = self.client.call(self.name, function, tx, block)  # type: ignore[arg-type]
        outputs = fn.abi.get("outputs", [])
        types = [abi_type(o) for o in outputs]
        decoded = self.client.w3.codec.decode(types, raw)
        return decoded[0] if len(decoded) == 1 else tuple(decoded)

    def transact(
        self, account: LocalAccount, function: str, *args: Any, value: int = 0, gas: int | None = None
    ) -> Receipt:
        """Sign and send ``function(*args)`` from ``account``; raises ContractRevert on revert."""
        return self.client.send(
            account,
            self.name,
            function,
            to=self.address,
            data=self.encode(function, *args),
            value=value,
            gas=gas,
        )

    def receipt_events(self, receipt: Receipt, name: str | None = None) -> list[DecodedEvent]:
        """This contract's events in a receipt, optionally only those called ``name``."""
        decoded = self.events.decode_logs(receipt.logs)
        return [e for e in decoded if name is None or e.name == name]
