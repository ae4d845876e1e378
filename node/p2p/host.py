"""The node's libp2p host as a trio service: listen, dial with connection reuse, serve protocols.

Usage::

    async with trio.open_nursery() as nursery:
        host = await nursery.start(functools.partial(Host(key_pair).run))
        print("listening on", host.addrs[0])     # /ip4/127.0.0.1/tcp/PORT/p2p/12D3Koo...
        ...
        nursery.cancel_scope.cancel()            # or host.stop()

``identify`` (/ipfs/id/1.0.0, push 1.0.0) and ``ping`` (/ipfs/ping/1.0.0) are served by py-libp2p's
default protocol table, so other libp2p implementations can talk to the node; :attr:`Host.protocols`
lists them with ours. Noise and yamux are negotiated by default.

Resource handling: :meth:`Host.run` owns the libp2p host and, when configured, the gossip service;
it closes both in ``finally`` whether it returns, is cancelled or fails. Dials are slow (py-libp2p
waits 250 ms per dial), so :meth:`Host.connect` reuses a live connection to the same peer.

Error handling: py-libp2p reports failures inside ``host.run`` as nested exception groups; they are
flattened into one :class:`HostError` whose message lists each distinct cause on one line.
A peer that breaks a protocol is disconnected by :meth:`Host.punish` and logged; the host goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.keys import KeyPair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.host.ping import ID as PING_PROTOCOL
from libp2p.host.ping import PingService
from libp2p.identity.identify.identify import ID as IDENTIFY_PROTOCOL
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr

from node.errors import CcmError, ProtocolError

if TYPE_CHECKING:
    # mypy reads trio through the trio-typing stubs (installed with libp2p); their TaskStatus is
    # the one Nursery.start expects. At run time this is trio.TaskStatus.
    from trio_typing import TaskStatus

logger = logging.getLogger(__name__)

DEFAULT_LISTEN = "/ip4/127.0.0.1/tcp/0"
StreamHandler = Callable[[INetStream], Awaitable[None]]


class HostError(ProtocolError):
    """The libp2p host failed; ``causes`` holds one line per distinct underlying error."""

    def __init__(self, summary: str, causes: Sequence[str] = ()) -> None:
        self.causes = tuple(causes)
        detail = "; ".join(self.causes)
        super().__init__(f"{summary}: {detail}" if detail else summary)


class DialError(HostError):
    """A peer could not be reached at the given address."""


def flatten_exceptions(exc: BaseException) -> list[BaseException]:
    """The leaf exceptions of a (possibly nested) exception group, in order."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(flatten_exceptions(inner))
        return out
    return [exc]


def describe_exceptions(exc: BaseException) -> list[str]:
    """One line per distinct leaf of ``exc`` (type and message, with the root cause appended)."""
    lines: list[str] = []
    for leaf in flatten_exceptions(exc):
        text = f"{type(leaf).__name__}: {leaf}".rstrip(": ")
        cause = leaf.__cause__ or leaf.__context__
        if cause is not None and str(cause) and str(cause) not in text:
            text += f" (caused by {type(cause).__name__}: {cause})"
        if text not in lines:
            lines.append(text)
    return lines


def _is_control_flow(exc: BaseException) -> bool:
    return any(
        isinstance(leaf, (trio.Cancelled, KeyboardInterrupt, SystemExit, GeneratorExit))
        for leaf in flatten_exceptions(exc)
    )


def peer_id_from_addr(addr: str) -> str:
    """The ``/p2p/<peer id>`` part of a full multiaddr, or raise :class:`DialError`."""
    try:
        return info_from_p2p_addr(multiaddr.Multiaddr(addr)).peer_id.to_base58()
    except (ValueError, BaseLibp2pError) as err:
        raise DialError(f"not a full multiaddr with /p2p/<peer id>: {addr!r}", [str(err)]) from None


def _raw_socket_stream(conn: INetConn) -> trio.abc.AsyncResource | None:
    """The trio TCP stream under a libp2p connection (swarm → yamux → noise → raw → trio)."""
    obj: Any = conn
    for name in ("muxed_conn", "secured_conn", "conn", "conn", "stream", "stream"):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj if isinstance(obj, trio.abc.AsyncResource) else None


class _SocketReaper(INotifee):
    """Closes the TCP socket under every connection that goes away.

    py-libp2p 0.8.1 drops a connection the remote side closed without closing the socket it
    dialled (one leaked file descriptor per departed peer, reported as ResourceWarning). The
    notifee closes it; ``aclose`` on a trio stream is idempotent, so a socket libp2p did close is
    left alone.
    """

    def __init__(self) -> None:
        self.live: set[INetConn] = set()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self.live.add(conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self.live.discard(conn)
        await self.reap(conn)

    async def reap(self, conn: INetConn) -> None:
        stream = _raw_socket_stream(conn)
        if stream is not None:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def reap_all(self) -> None:
        for conn in list(self.live):
            await self.reap(conn)
        self.live.clear()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


class Host:
    """One libp2p host per node.

    ``listen_addrs``: multiaddrs to listen on (default loopback with a free port).
    ``bootstrap``: full multiaddrs dialled at start (failures are logged, not fatal).
    ``gossip``: an optional :class:`node.p2p.gossip.Gossip` run alongside the host.
    ``handshake_timeout``: seconds an inbound connection gets to finish noise + yamux; a socket
    that sends garbage (or nothing) is closed after this at the latest (py-libp2p's default is 10).
    """

    def __init__(
        self,
        key_pair: KeyPair,
        *,
        listen_addrs: Sequence[str] = (DEFAULT_LISTEN,),
        bootstrap: Sequence[str] = (),
        enable_mdns: bool = False,
        gossip: Any = None,
        handshake_timeout: float = 5.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.key_pair = key_pair
        self.listen_addrs = tuple(listen_addrs)
        self.bootstrap = tuple(bootstrap)
        self.enable_mdns = enable_mdns
        self.gossip = gossip
        self.handshake_timeout = handshake_timeout
        self.request_timeout = request_timeout  # dials and stream opens (``p2p.request_timeout_s``)
        self._handlers: dict[str, StreamHandler] = {}
        self._libp2p: IHost | None = None
        self._stop = trio.Event()
        self.punished: dict[str, int] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[Host] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the host, report itself through ``task_status``, serve until cancelled or stopped."""
        try:
            listen = [multiaddr.Multiaddr(a) for a in self.listen_addrs]
        except (ValueError, TypeError) as err:
            raise HostError("invalid listen address", [str(err)]) from None
        config = ConnectionConfig(
            inbound_upgrade_timeout=self.handshake_timeout,
            inbound_stream_protocol_negotiation_timeout=self.handshake_timeout,
        )
        host = new_host(
            key_pair=self.key_pair,
            listen_addrs=listen,
            enable_mDNS=self.enable_mdns,
            connection_config=config,
        )
        reaper = _SocketReaper()
        host.get_network().register_notifee(reaper)
        for protocol_id, handler in self._handlers.items():
            host.set_stream_handler(TProtocol(protocol_id), handler)
        self._libp2p = host
        try:
            async with host.run(listen_addrs=listen):
                try:
                    async with trio.open_nursery() as nursery:
                        if not host.get_transport_addrs():
                            raise HostError(
                                "cannot listen (address in use or not local?)", list(self.listen_addrs)
                            )
                        if self.gossip is not None:
                            await nursery.start(self.gossip.run, self)
                        for addr in self.bootstrap:
                            nursery.start_soon(self._dial_bootstrap, addr)
                        logger.info("libp2p host %s listening on %s", self.peer_id, ", ".join(self.addrs))
                        task_status.started(self)
                        await self._stop.wait()
                        nursery.cancel_scope.cancel()
                finally:
                    # Close connections while the network service still runs: closed after it
                    # stops, py-libp2p leaves the dialled TCP sockets open (ResourceWarning).
                    with trio.CancelScope(shield=True), trio.move_on_after(5):
                        await host.close()
                        await reaper.reap_all()
        except BaseExceptionGroup as group:
            if _is_control_flow(group):
                raise
            leaves = flatten_exceptions(group)
            if len(leaves) == 1 and isinstance(leaves[0], CcmError):
                raise leaves[0] from group
            raise HostError("libp2p host failed", describe_exceptions(group)) from group
        except (OSError, BaseLibp2pError) as err:
            raise HostError("libp2p host failed", describe_exceptions(err)) from err
        finally:
            self._libp2p = None
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await host.close()

    def stop(self) -> None:
        """Ask :meth:`run` to return (closing the host)."""
        self._stop.set()

    async def _dial_bootstrap(self, addr: str) -> None:
        try:
            await self.connect(addr)
        except DialError as err:
            logger.warning("bootstrap peer %s unreachable: %s", addr, err)

    # --- identity and addresses -----------------------------------------------------------------

    @property
    def libp2p(self) -> IHost:
        """The running py-libp2p host (only while :meth:`run` is active)."""
        if self._libp2p is None:
            raise HostError("host is not running")
        return self._libp2p

    @property
    def peer_id(self) -> str:
        """This node's peer id (base58)."""
        return ID.from_pubkey(self.key_pair.public_key).to_base58()

    @property
    def addrs(self) -> list[str]:
        """Full multiaddrs of this host, each ending in ``/p2p/<peer id>``."""
        return [str(a) for a in self.libp2p.get_addrs()]

    @property
    def protocols(self) -> list[str]:
        """Protocol ids this host answers (libp2p's identify and ping included)."""
        return sorted(str(p) for p in self.libp2p.get_mux().get_protocols() if p is not None)

    # --- protocols ------------------------------------------------------------------------------

    def set_handler(self, protocol_id: str, handler: StreamHandler) -> None:
        """Serve ``protocol_id`` with ``handler`` (may be called before or after :meth:`run`)."""
        self._handlers[protocol_id] = handler
        if self._libp2p is not None:
            self._libp2p.set_stream_handler(TProtocol(protocol_id), handler)

    async def connect(self, addr: str, *, timeout: float | None = None) -> str:
        """Make sure a connection to the peer at full multiaddr ``addr`` exists; return its peer id.

        An open connection is reused (no new dial). ``timeout`` defaults to ``request_timeout``.
        """
        timeout = self.request_timeout if timeout is None else timeout
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        except (ValueError, BaseLibp2pError) as err:
            raise DialError(f"not a full multiaddr with /p2p/<peer id>: {addr!r}", [str(err)]) from None
        host = self.libp2p
        if info.peer_id == host.get_id():
            raise DialError("refusing to dial ourselves", [addr])
        try:
            with trio.fail_after(timeout):
                await host.connect(info)
        except trio.TooSlowError:
            raise DialError(f"dial to {addr} timed out after {timeout:g} s") from None
        except (OSError, BaseLibp2pError) as err:
            raise DialError(f"cannot dial {addr}", describe_exceptions(err)) from None
        except BaseExceptionGroup as group:
            if _is_control_flow(group):
                raise
            raise DialError(f"cannot dial {addr}", describe_exceptions(group)) from None
        return info.peer_id.to_base58()

    def is_connected(self, peer_id: str) -> bool:
        """Whether a live connection to ``peer_id`` exists."""
        return bool(self.libp2p.get_network().connections.get(ID.from_base58(peer_id)))

    def connection_count(self, peer_id: str) -> int:
        """How many connections to ``peer_id`` are open (reuse keeps this at one)."""
        return len(self.libp2p.get_network().connections.get(ID.from_base58(peer_id)) or [])

    async def open_stream(
        self, peer_id: str, protocol_id: str, *, timeout: float | None = None
    ) -> INetStream:
        """Open a stream to a peer we know an address of, negotiating ``protocol_id`` (within
        ``timeout``, default ``request_timeout``)."""
        timeout = self.request_timeout if timeout is None else timeout
        try:
            with trio.fail_after(timeout):
                return await self.libp2p.new_stream(ID.from_base58(peer_id), [TProtocol(protocol_id)])
        except trio.TooSlowError:
            raise DialError(f"opening {protocol_id} to {peer_id} timed out after {timeout:g} s") from None
        except (OSError, BaseLibp2pError, ValueError) as err:
            raise DialError(f"cannot open {protocol_id} to {peer_id}", describe_exceptions(err)) from None
        except BaseExceptionGroup as group:
            if _is_control_flow(group):
                raise
            raise DialError(f"cannot open {protocol_id} to {peer_id}", describe_exceptions(group)) from None

    async def ping(self, peer_id: str, *, timeout: float = 5.0) -> float:
        """Round-trip time to ``peer_id`` in seconds over the standard libp2p ping protocol."""
        service = PingService(self.libp2p)
        start = time.perf_counter()
        try:
            with trio.fail_after(timeout):
                await service.ping(ID.from_base58(peer_id))
        except trio.TooSlowError:
            raise DialError(f"ping to {peer_id} timed out") from None
        except (OSError, BaseLibp2pError) as err:
            raise DialError(f"ping to {peer_id} failed", describe_exceptions(err)) from None
        return time.perf_counter() - start

    async def disconnect(self, peer_id: str) -> None:
        """Close every connection to ``peer_id``."""
        with trio.move_on_after(5):
            await self.libp2p.disconnect(ID.from_base58(peer_id))

    async def forget(self, peer_id: str) -> None:
        """Drop every connection and cached address of ``peer_id`` (and py-libp2p's memory of failed
        dials), so that the next dial uses fresh addresses: for a peer that restarted."""
        await self.disconnect(peer_id)
        pid = ID.from_base58(peer_id)
        self.libp2p.get_peerstore().clear_addrs(pid)
        network: Any = self.libp2p.get_network()
        if hasattr(network, "unblock_peer"):  # py-libp2p's negative dial cache
            network.unblock_peer(pid)

    async def punish(self, peer_id: str, reason: str) -> None:
        """Log a peer's protocol violation and disconnect it; the host keeps serving everyone else."""
        self.punished[peer_id] = self.punished.get(peer_id, 0) + 1
        logger.warning("disconnecting peer %s: %s", peer_id, reason)
        await self.disconnect(peer_id)


__all__ = [
    "DEFAULT_LISTEN",
    "IDENTIFY_PROTOCOL",
    "PING_PROTOCOL",
    "DialError",
    "Host",
    "HostError",
    "describe_exceptions",
    "flatten_exceptions",
    "peer_id_from_addr",
]
