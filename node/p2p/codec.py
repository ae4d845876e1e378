"""The one wire codec of the node: length-prefixed frames, canonical JSON, schema-checked messages.

Frame layout (every message on every /ccm/ stream)::

    +--------+----------------------+------------------+
    | kind 1 | length 4 (big-endian)| payload (length) |
    +--------+----------------------+------------------+

``kind`` is :data:`FRAME_JSON` (a control message: canonical JSON of a frozen dataclass),
:data:`FRAME_DATA` (raw bytes: blob chunks, tensor data) or :data:`FRAME_ERROR` (JSON
``{"code", "message"}``: the peer refuses the request). Every frame carries its length, so a peer
that dies mid-message (which yamux reports as a clean EOF) is detected as truncation, and a length
over the reader's cap is refused before a byte of the payload is read.

Canonical JSON: sorted keys, no whitespace, UTF-8, no NaN/Infinity, no duplicate keys; ``bytes``
fields travel as ``0x``-prefixed lowercase hex. Decoding into a dataclass checks every field's
presence and type against the class's annotations and rejects unknown fields, raising
:class:`SchemaError` that names the offending field (``"units[2].shape[0]"``).

Error handling: everything a peer can get wrong surfaces as a subclass of
:class:`node.errors.ProtocolError`; nothing from here lets a ``KeyError`` or ``JSONDecodeError``
escape.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import struct
import types
import typing
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import trio
from libp2p.io.exceptions import IOException

from node.errors import ProtocolError

FRAME_JSON = 0x01
FRAME_DATA = 0x02
FRAME_ERROR = 0x03
_KINDS = {FRAME_JSON: "json", FRAME_DATA: "data", FRAME_ERROR: "error"}

_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size

DEFAULT_MAX_FRAME = 1 << 20
"""Default cap on one frame's payload (1 MiB); protocols set their own."""

DEFAULT_TIMEOUT = 30.0
"""Default seconds to wait for one whole frame."""

T = TypeVar("T")


# --- errors ------------------------------------------------------------------------------------


class FrameTooLargeError(ProtocolError):
    """A frame announced more bytes than the protocol allows; ``size`` and ``limit`` in bytes."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")


class TruncatedFrameError(ProtocolError):
    """The stream ended (or was reset) before a frame was complete; ``received`` of ``expected``."""

    def __init__(self, received: int, expected: int, reason: str = "stream ended") -> None:
        self.received = received
        self.expected = expected
        super().__init__(f"{reason} after {received} of {expected} bytes of a frame")


class StreamClosedError(ProtocolError):
    """The stream ended cleanly between frames when another frame was expected."""


class FrameTimeoutError(ProtocolError):
    """A frame did not arrive within ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"no complete frame within {timeout:g} s")


class UnexpectedFrameError(ProtocolError):
    """A frame of the wrong kind (or an unknown kind byte) arrived."""


class SchemaError(ProtocolError):
    """A message failed schema validation; ``field`` is the dotted path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"invalid message field {field or '<root>'}: {message}")


class RemoteError(ProtocolError):
    """The peer answered with an error frame; ``code`` is machine-readable (``"not_found"``)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"peer refused: {code}: {message}")


@dataclass(frozen=True)
class ErrorMessage:
    """Payload of an error frame."""

    code: str
    message: str


# --- canonical JSON ----------------------------------------------------------------------------


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes of a JSON-compatible value (sorted keys, compact, no NaN)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays/objects accepted; CPython's JSON parser can crash the process (a C
stack overflow, not an exception) on input nested ~100,000 deep, which fits in a 100 KB frame."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(payload: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests ``[``/``{`` deeper than ``limit`` (brackets in strings ignored)."""
    if payload.count(b"[") + payload.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest > limit


def parse_json(payload: bytes) -> Any:
    """Parse strict JSON (UTF-8, no NaN/Infinity, no duplicate keys) or raise :class:`SchemaError`.

    Nesting deeper than :data:`MAX_JSON_DEPTH` is refused before the parser sees it.
    """
    if json_too_deep(payload):
        raise SchemaError("", f"not valid JSON: nested deeper than {MAX_JSON_DEPTH}")
    try:
        return json.loads(
            payload.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise SchemaError("", f"not valid JSON: {str(err)[:120]}") from None


def to_jsonable(value: Any) -> Any:
    """Turn a message dataclass (and what it contains) into JSON-compatible values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite float cannot be encoded")
    return value


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def from_jsonable(cls: type[T], obj: Any, *, path: str = "") -> T:
    """Check ``obj`` against dataclass ``cls`` field by field and build it.

    Missing, unknown or mistyped fields raise :class:`SchemaError` naming the field. A
    ``ValueError`` raised by the class's ``__post_init__`` (range checks) becomes a SchemaError too.
    """
    if not isinstance(obj, dict):
        raise SchemaError(path, f"expected an object, got {_type_name(obj)}")
    hints = _hints(typing.cast(Any, cls))
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise SchemaError(_join(path, unknown[0]), "unknown field")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in obj:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise SchemaError(_join(path, name), "missing field")
        kwargs[name] = _convert(hints[name], obj[name], _join(path, name))
    try:
        return cls(**kwargs)
    except SchemaError as err:
        if path and err.field:
            raise SchemaError(_join(path, err.field), err.message) from None
        raise
    except (ValueError, TypeError) as err:
        raise SchemaError(path, str(err)[:200]) from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors: list[SchemaError] = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except SchemaError as err:
                errors.append(err)
        raise errors[0] if len(errors) == 1 else SchemaError(path, f"unexpected {_type_name(value)}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp) or isinstance(value, bool) != any(
            isinstance(a, bool) for a in typing.get_args(tp)
        ):
            raise SchemaError(path, f"must be one of {list(typing.get_args(tp))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise SchemaError(path, f"expected a list, got {_type_name(value)}")
        args = typing.get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise SchemaError(path, f"expected {len(args)} items, got {len(value)}")
            pairs = enumerate(zip(args, value, strict=True))
            return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in pairs)
        item = args[0] if args else Any
        items = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(path, f"expected an object, got {_type_name(value)}")
        _, vt = typing.get_args(tp)
        return {k: _convert(vt, v, _join(path, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_jsonable(tp, value, path=path)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(path, f"expected a boolean, got {_type_name(value)}")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise SchemaError(path, f"expected an integer, got {_type_name(value)}")
        return value
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise SchemaError(path, f"expected a number, got {_type_name(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(path, f"expected a string, got {_type_name(value)}")
        return value
    if tp is bytes:
        if not isinstance(value, str) or not value.startswith("0x"):
            raise SchemaError(path, "expected 0x-prefixed hex bytes")
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            raise SchemaError(path, "invalid hex") from None
    raise TypeError(f"codec cannot handle the annotation {tp!r} at {path}")


def encode_message(msg: Any) -> bytes:
    """Canonical JSON bytes of a message dataclass (no frame header)."""
    return canonical_json(to_jsonable(msg))


def decode_message(cls: type[T], payload: bytes) -> T:
    """Parse and schema-check canonical JSON bytes into ``cls``."""
    return from_jsonable(cls, parse_json(payload))


# --- frames ------------------------------------------------------------------------------------


def encode_frame(kind: int, payload: bytes) -> bytes:
    """One frame: kind byte, 4-byte big-endian length, payload."""
    if kind not in _KINDS:
        raise ValueError(f"unknown frame kind {kind}")
    if len(payload) >= 1 << 32:
        raise ValueError("payload too large for a frame")
    return _HEADER.pack(kind, len(payload)) + payload


@dataclass(frozen=True)
class Frame:
    """One decoded frame."""

    kind: int
    payload: bytes


class ByteStream(Protocol):
    """What the codec needs of a stream (a libp2p ``INetStream`` fits)."""

    async def read(self, n: int | None = None) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


class FrameStream:
    """Reads and writes frames on one stream, with a size cap and a timeout on every read.

    ``max_frame`` caps any frame's payload; ``read_*`` methods may lower it per call. ``timeout``
    bounds how long one whole frame may take to arrive (a slow-loris peer trickling bytes is cut off).
    """

    def __init__(
        self, stream: ByteStream, *, max_frame: int = DEFAULT_MAX_FRAME, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.stream = stream
        self.max_frame = max_frame
        self.timeout = timeout

    async def _read_exactly(self, n: int, *, at_boundary: bool) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = await self.stream.read(n - len(buf))
            except (IOException, EOFError) as err:
                if at_boundary and not buf and isinstance(err, EOFError):
                    raise StreamClosedError("stream closed by peer") from None
                eof = isinstance(err, EOFError)
                reason = "stream ended" if eof else f"stream failed ({type(err).__name__})"
                raise TruncatedFrameError(len(buf), n, reason) from None
            if not chunk:
                if at_boundary and not buf:
                    raise StreamClosedError("stream closed by peer")
                raise TruncatedFrameError(len(buf), n)
            buf += chunk
        return bytes(buf)

    async def read_frame(self, *, max_size: int | None = None, timeout: float | None = None) -> Frame:
        """Read one frame; raise if it is too large, truncated, late or of an unknown kind."""
        limit = self.max_frame if max_size is None else min(max_size, self.max_frame)
        seconds = self.timeout if timeout is None else timeout
        try:
            with trio.fail_after(seconds):
                header = await self._read_exactly(HEADER_SIZE, at_boundary=True)
                kind, size = _HEADER.unpack(header)
                if kind not in _KINDS:
                    raise UnexpectedFrameError(f"unknown frame kind byte 0x{kind:02x}")
                if size > limit:
                    raise FrameTooLargeError(size, limit)
                payload = await self._read_exactly(size, at_boundary=False) if size else b""
        except trio.TooSlowError:
            raise FrameTimeoutError(seconds) from None
        return Frame(kind, payload)

    async def read_message(
        self, cls: type[T], *, max_size: int | None = None, timeout: float | None = None
    ) -> T:
        """Read a JSON frame into ``cls``; an error frame raises :class:`RemoteError`."""
        frame = await self.read_frame(max_size=max_size, timeout=timeout)
        if frame.kind == FRAME_ERROR:
            err = decode_message(ErrorMessage, frame.payload)
            raise RemoteError(err.code[:64], err.message[:500])
        if frame.kind != FRAME_JSON:
            raise UnexpectedFrameError(f"expected a json frame, got a {_KINDS[frame.kind]} frame")
        return decode_message(cls, frame.payload)

    async def read_data(self, *, max_size: int | None = None, timeout: float | None = None) -> bytes:
        """Read a data frame's bytes; an error frame raises :class:`RemoteError`."""
        frame = await self.read_frame(max_size=max_size, timeout=timeout)
        if frame.kind == FRAME_ERROR:
            err = decode_message(ErrorMessage, frame.payload)
            raise RemoteError(err.code[:64], err.message[:500])
        if frame.kind != FRAME_DATA:
            raise UnexpectedFrameError(f"expected a data frame, got a {_KINDS[frame.kind]} frame")
        return frame.payload

    async def write_message(self, msg: Any) -> None:
        """Send a message dataclass as a JSON frame."""
        await self.stream.write(encode_frame(FRAME_JSON, encode_message(msg)))

    async def write_data(self, data: bytes) -> None:
        """Send raw bytes as one data frame."""
        await self.stream.write(encode_frame(FRAME_DATA, data))

    async def write_error(self, code: str, message: str) -> None:
        """Tell the peer its request is refused, in one error frame."""
        await self.stream.write(encode_frame(FRAME_ERROR, encode_message(ErrorMessage(code, message))))

