"""Decoding revert data into custom error names and arguments.

Every ``error`` entry of every ABI we know is indexed by its 4-byte selector; a revert's data is
looked up there and its arguments decoded with eth-abi. ``Error(string)`` and ``Panic(uint256)`` are
built in. Unknown selectors decode to ``("unknown", {"data": hex})`` rather than failing, so a
revert from a contract we have no ABI for still reaches the caller as a :class:`ContractRevert`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from node.chain.errors import ContractRevert

PANIC_REASONS: Mapping[int, str] = {
    0x01: "assert failed",
    0x11: "arithmetic overflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


def abi_type(entry: Mapping[str, Any]) -> str:
    """The canonical ABI type of one input, expanding tuples (``(uint256,address)[]``)."""
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in entry.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True)
class ErrorSpec:
    """One custom error: name, input names and their canonical types."""

    name: str
    input_names: tuple[str, ...]
    input_types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.input_types)})"

    @property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]


_BUILTIN = (
    ErrorSpec("Error", ("message",), ("string",)),
    ErrorSpec("Panic", ("code",), ("uint256",)),
)


def _normalise(value: Any, kind: str) -> Any:
    if kind == "address" and isinstance(value, str):
        return to_checksum_address(value)
    if isinstance(value, tuple):
        return tuple(_normalise(v, "") for v in value)
    return value


class ErrorDecoder:
    """Selector → error table built from any number of ABIs (duplicates collapse)."""

    def __init__(self, abis: Iterable[Iterable[Mapping[str, Any]]] = ()) -> None:
        self._by_selector: dict[bytes, ErrorSpec] = {spec.selector: spec for spec in _BUILTIN}
        for abi in abis:
            self.add_abi(abi)

    def add_abi(self, abi: Iterable[Mapping[str, Any]]) -> None:
        for entry in abi:
            if entry.get("type") != "error":
                continue
            inputs = entry.get("inputs", [])
            spec = ErrorSpec(
                name=str(entry["name"]),
                input_names=tuple(str(i.get("name") or f"arg{n}") for n, i in enumerate(inputs)),
                input_types=tuple(abi_type(i) for i in inputs),
            )
            self._by_selector.setdefault(spec.selector, spec)

    def known(self, name: str) -> bool:
        return any(spec.name == name for spec in self._by_selector.values())

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """``(error_name, {arg: value})`` for raw revert data."""
        if len(data) < 4:
            return ("unknown", {"data": "0x" + data.hex()}) if data else ("empty", {})
        spec = self._by_selector.get(data[:4])
        if spec is None:
            return "unknown", {"data": "0x" + data.hex()}
        try:
            values = abi_decode(list(spec.input_types), data[4:])
        except (DecodingError, ValueError, OverflowError):
            return spec.name, {"data": "0x" + data[4:].hex()}
        args = {
            n: _normalise(v, t) for n, v, t in zip(spec.input_names, values, spec.input_types, strict=True)
        }
        if spec.name == "Panic":
            args["reason"] = PANIC_REASONS.get(int(args["code"]), "unknown panic")
        return spec.name, args

    def revert(
        self, contract: str, function: str, data: bytes, *, tx_hash: str | None = None
    ) -> ContractRevert:
        """Build the :class:`ContractRevert` for this revert data."""
        name, args = self.decode(data)
        return ContractRevert(contract, function, name, args, tx_hash=tx_hash)


def revert_data(raw: object) -> bytes | None:
    """Extract revert bytes from what web3 puts in an exception's ``data`` (hex str or dict)."""
    if isinstance(raw, dict):
        raw = raw.get("data")
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    if isinstance(raw, str) and raw.startswith("0x"):
        try:
            return bytes.fromhex(raw[2:])
        except ValueError:
            return None
    return None
