"""Request/response over libp2p streams: one request frame, one response frame, caps and timeouts.

A :class:`Protocol` names a versioned protocol id, its request and response dataclasses, a size cap
for each and a timeout. :func:`serve` plugs an ``async (peer_id, request) -> response`` handler into
a :class:`~node.p2p.host.Host`; :func:`request` is the client side (one new stream per call on the
existing connection).

Protocols that stream more than one frame (blob transfer, audit answers) use :func:`guard` directly:
it gives the handler a :class:`FrameStream` and applies the same error policy.

Error handling (server side, in :func:`guard`):

* the handler raises :class:`RequestRefused` → the peer gets an error frame with its code;
* the peer breaks the protocol (garbage, oversized frame, bad schema, timeout: any
  :class:`ProtocolError`) → it gets a short error frame if it is still listening, and is
  disconnected and logged through :meth:`Host.punish`;
* the stream dies under us → logged at debug level (the peer went away; nothing to do);
* a bug in the handler → logged with its traceback, the peer gets ``internal``; the host lives on
  (py-libp2p would otherwise let the exception take the whole connection down).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import trio
from libp2p.abc import INetStream
from libp2p.exceptions import BaseLibp2pError

from node.errors import CcmError, ProtocolError
from node.p2p.codec import DEFAULT_TIMEOUT, FrameStream
from node.p2p.host import Host, StreamHandler

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")

DEFAULT_MAX_REQUEST = 64 * 1024
DEFAULT_MAX_RESPONSE = 1 << 20


class RequestRefused(CcmError):
    """Raised by a handler to refuse a request politely; ``code`` is sent to the peer."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Protocol(Generic[Req, Resp]):
    """A request/response protocol: id, message types, size caps (bytes), timeout (seconds)."""

    protocol_id: str
    request_type: type[Req]
    response_type: type[Resp]
    max_request: int = DEFAULT_MAX_REQUEST
    max_response: int = DEFAULT_MAX_RESPONSE
    timeout: float = DEFAULT_TIMEOUT


def remote_peer(stream: INetStream) -> str:
    """Base58 peer id at the other end of ``stream``."""
    return str(stream.muxed_conn.peer_id.to_base58())


async def close_quietly(stream: INetStream) -> None:
    """Close ``stream``, ignoring a stream that is already dead (bounded to 2 s)."""
    with trio.move_on_after(2):
        try:
            await stream.close()
        except (BaseLibp2pError, OSError) as err:
            logger.debug("closing stream failed: %s", err)


async def reset_quietly(stream: INetStream) -> None:
    """Reset ``stream``, ignoring a stream that is already dead (bounded to 2 s)."""
    with trio.move_on_after(2):
        try:
            await stream.reset()
        except (BaseLibp2pError, OSError) as err:
            logger.debug("resetting stream failed: %s", err)


def guard(
    host: Host,
    protocol_id: str,
    handler: Callable[[str, FrameStream], Awaitable[None]],
    *,
    max_frame: int,
    timeout: float,
) -> StreamHandler:
    """Wrap a frame-level handler with the error policy described in the module docstring."""

    async def on_stream(stream: INetStream) -> None:
        peer = remote_peer(stream)
        fs = FrameStream(stream, max_frame=max_frame, timeout=timeout)
        try:
            await handler(peer, fs)
        except RequestRefused as refusal:
            logger.info("%s: refused %s: %s", protocol_id, peer, refusal)
            with trio.move_on_after(2):
                try:
                    await fs.write_error(refusal.code, refusal.message)
                except (BaseLibp2pError, OSError):
                    logger.debug("%s: peer %s left before the refusal", protocol_id, peer)
        except ProtocolError as violation:
            with trio.move_on_after(1):
                try:
                    await fs.write_error("protocol", str(violation)[:200])
                except (BaseLibp2pError, OSError):
                    logger.debug("%s: peer %s not listening for the error", protocol_id, peer)
            await reset_quietly(stream)
            await host.punish(peer, f"{protocol_id}: {violation}")
            return
        except (BaseLibp2pError, OSError) as err:
            logger.debug("%s: stream from %s failed: %s", protocol_id, peer, err)
            await reset_quietly(stream)
            return
        except Exception:
            # A bug in our handler: keep the host alive, keep the traceback in the log.
            logger.exception("%s: handler failed on a request from %s", protocol_id, peer)
            with trio.move_on_after(1):
                try:
                    await fs.write_error("internal", "internal error")
                except (BaseLibp2pError, OSError):
                    logger.debug("%s: peer %s left before the error", protocol_id, peer)
            await reset_quietly(stream)
            return
        await close_quietly(stream)

    return on_stream


def serve(
    host: Host, protocol: Protocol[Req, Resp], handler: Callable[[str, Req], Awaitable[Resp]]
) -> None:
    """Answer ``protocol`` on ``host``: read one request, call ``handler(peer_id, request)``, reply."""

    async def on_request(peer: str, fs: FrameStream) -> None:
        req = await fs.read_message(protocol.request_type, max_size=protocol.max_request)
        resp = await handler(peer, req)
        await fs.write_message(resp)

    host.set_handler(
        protocol.protocol_id,
        guard(
            host,
            protocol.protocol_id,
            on_request,
            max_frame=max(protocol.max_request, protocol.max_response),
            timeout=protocol.timeout,
        ),
    )


async def request(
    host: Host, peer_id: str, protocol: Protocol[Req, Resp], req: Req, *, timeout: float | None = None
) -> Resp:
    """Send ``req`` to ``peer_id`` and return its schema-checked response.

    The whole exchange (stream open included) is bounded by ``timeout`` (default: the protocol's).
    A refusal arrives as :class:`node.p2p.codec.RemoteError`; anything malformed as another
    :class:`ProtocolError`. The connection to the peer is reused.
    """
    seconds = protocol.timeout if timeout is None else timeout
    try:
        with trio.fail_after(seconds):
            stream = await host.open_stream(peer_id, protocol.protocol_id, timeout=seconds)
            try:
                fs = FrameStream(stream, max_frame=protocol.max_response, timeout=seconds)
                await fs.write_message(req)
                return await fs.read_message(protocol.response_type)
            finally:
                await close_quietly(stream)
    except trio.TooSlowError:
        raise ProtocolError(
            f"{protocol.protocol_id}: no answer from {peer_id} within {seconds:g} s"
        ) from None
    except (BaseLibp2pError, OSError) as err:
        raise ProtocolError(f"{protocol.protocol_id}: stream to {peer_id} failed: {err}") from None
