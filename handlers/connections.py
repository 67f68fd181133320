"""Who may connect, and how client mistakes are logged.

``ConnectionCounts`` bounds the connections of one session and of one remote address on this node
(refused with ``too_many_connections``). Behind a reverse proxy the remote address is the
proxy's: ``TrustedProxies`` (``--forwarded-allow-ips``) names the proxies whose
``X-Forwarded-For`` is believed, and ``client_address`` then takes the client's address from it.
``LeftSockets`` closes the Engine.IO connection of a client that left its last namespace but
kept its socket open; ``UnjoinedSockets`` closes one that never joined a namespace in time, and
bounds how many such connections one address holds. ``ClientErrorLog`` writes client errors (bad
packets, floods, refusals) as single lines carrying the session id, at most ``per_second`` a
second for the whole process: a client must not be able to fill the disk. A traceback in the log
means a bug in the server, never a client's doing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio

log = logging.getLogger("metahuman.clients")


@dataclass(slots=True)
class ConnectionCounts:
    per_session: int
    per_address: int
    sessions: Counter[str] = field(default_factory=Counter)
    addresses: Counter[str] = field(default_factory=Counter)

    def refusal(self, session_id: str, address: str) -> str | None:
        """Why one more connection of ``session_id`` from ``address`` is refused, or None."""
        if self.sessions[session_id] >= self.per_session:
            return f"this session already has {self.per_session} connections on this node"
        if self.addresses[address] >= self.per_address:
            return f"this address already has {self.per_address} connections on this node"
        return None

    def add(self, session_id: str, address: str) -> None:
        self.sessions[session_id] += 1
        self.addresses[address] += 1

    def remove(self, session_id: str, address: str) -> None:
        for counter, key in ((self.sessions, session_id), (self.addresses, address)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]


async def close_transport(sio: socketio.AsyncServer, eio_sid: str) -> bool:
    """Close Engine.IO connection ``eio_sid`` from the server's side; False if it was gone or
    going already (its transport closed, released)."""
    socket = sio.eio.sockets.get(eio_sid)
    if socket is None or socket.closing or socket.closed:
        return False
    # Engine.IO's CLOSE packet goes out; its disconnect event frees the environ.
    await socket.close(wait=False)
    if socket.upgraded:
        # After the CLOSE packet the websocket writer ends and closes the websocket (the
        # reader would otherwise wait for the client, or for the ping timeout).
        socket.queue.put_nowait(None)
    sio.eio.sockets.pop(eio_sid, None)
    return True


def in_a_namespace(sio: socketio.AsyncServer, eio_sid: str) -> bool:
    """Connected or connecting to a Socket.IO namespace (not just leaving it)."""
    manager = sio.manager
    for namespace in list(manager.get_namespaces()):
        sid = manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None and sid not in manager.pending_disconnect.get(namespace, ()):
            return True
    return False


class LeftSockets:
    """Closes a client's Engine.IO connection once it has left its last Socket.IO namespace.

    python-socketio ends a namespace on the client's DISCONNECT packet (the disconnect handler
    runs, the connection slot is freed) but keeps the Engine.IO connection, and its websocket,
    until the client closes it: a client that sends DISCONNECT and keeps the socket open holds
    a websocket, its ping task and its environ for as long as it answers pings. The official
    clients close the transport themselves once no namespace is left; this does it for them.
    """

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self.closed = 0
        """Engine.IO connections closed so far."""
        self._closing: set[asyncio.Task[None]] = set()

    def left(self, sid: str, namespace: str = "/") -> None:
        """Client ``sid`` is leaving ``namespace`` (from its disconnect handler): close its
        Engine.IO connection once the leave is done, unless it is in another namespace then."""
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is None:
            return
        task = asyncio.get_running_loop().create_task(self._close_if_unused(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_if_unused(self, eio_sid: str) -> None:
        if not in_a_namespace(self.sio, eio_sid) and await close_transport(self.sio, eio_sid):
            self.closed += 1


class UnjoinedSockets:
    """Closes Engine.IO connections that join no Socket.IO namespace within ``timeout_s``, and
    refuses an address more than ``per_address`` of them at once.

    python-engineio accepts a connection and python-socketio then waits for the client's CONNECT
    packet. A client that opens the transport and never sends one (or whose CONNECT was refused)
    would hold a socket, its ping task and its environ for as long as it answers pings, and the
    per-address bound (``ConnectionCounts``, counted at CONNECT) would never see it: one address
    could open any number. Socket.IO's JavaScript server closes such a connection after its
    ``connectTimeout``; this does the same, and refuses the handshake (HTTP 401, before a socket
    is kept) of an address already holding ``per_address`` connections that have not joined.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        timeout_s: float,
        per_address: int,
        address_of: Callable[[Mapping[str, Any]], str],
        refused: Callable[[str], None] = lambda why: None,
    ) -> None:
        self.sio = sio
        self.timeout_s = timeout_s
        self.per_address = per_address
        self.addresses: Counter[str] = Counter()
        """Connections not yet in a namespace, per remote address."""
        self.closed = 0
        """Connections closed for not joining in time."""
        self._address_of = address_of
        self._refused = refused
        self._waiting: dict[str, tuple[str, asyncio.TimerHandle]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._connect = sio.eio.handlers["connect"]
        self._disconnect = sio.eio.handlers["disconnect"]
        sio.eio.on("connect", self._on_connect)
        sio.eio.on("disconnect", self._on_disconnect)

    async def _on_connect(self, eio_sid: str, environ: Mapping[str, Any]) -> Any:
        address = self._address_of(environ)
        if self.addresses[address] >= self.per_address:
            self._refused(
                f"this address already has {self.per_address} connections that joined no"
                " namespace on this node"
            )
            return False  # python-engineio answers 401 and keeps nothing
        self.addresses[address] += 1
        timer = asyncio.get_running_loop().call_later(self.timeout_s, self._expire, eio_sid)
        self._waiting[eio_sid] = (address, timer)
        return await self._connect(eio_sid, environ)

    async def _on_disconnect(self, eio_sid: str, *args: Any) -> Any:
        self._forget(eio_sid)
        return await self._disconnect(eio_sid, *args)

    def joined(self, sid: str, namespace: str = "/") -> None:
        """Client ``sid`` joined ``namespace`` (from its connect handler, once accepted)."""
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is not None:
            self._forget(eio_sid)

    def _forget(self, eio_sid: str) -> None:
        entry = self._waiting.pop(eio_sid, None)
        if entry is None:
            return
        address, timer = entry
        timer.cancel()
        self.addresses[address] -= 1
        if self.addresses[address] <= 0:
            del self.addresses[address]

    def _expire(self, eio_sid: str) -> None:
        self._forget(eio_sid)
        if in_a_namespace(self.sio, eio_sid):
            return  # joined meanwhile (a CONNECT being handled)
        task = asyncio.get_running_loop().create_task(self._close(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, eio_sid: str) -> None:
        if await close_transport(self.sio, eio_sid):
            self.closed += 1


@dataclass(slots=True)
class ClientErrorLog:
    per_second: float = 10.0
    clock: Callable[[], float] = time.monotonic
    suppressed: int = 0
    _window: float = 0.0
    _written: int = 0

    def warning(self, session_id: str | None, code: str, message: str) -> None:
        now = self.clock()
        if now - self._window >= 1.0:
            if self.suppressed:
                log.warning("%d client error lines suppressed in the last second", self.suppressed)
            self._window, self._written, self.suppressed = now, 0, 0
        if self._written >= self.per_second:
            self.suppressed += 1
            return
        self._written += 1
        # The message is ours (never a client's payload); the code is one of the contract's.
        log.warning("client error %s in session %s: %s", code, session_id or "-", message[:200])


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_FORWARDED_HOPS = 32
"""X-Forwarded-For entries read, from the right: a longer chain is a client's padding."""


def parse_ip(text: str) -> IpAddress | None:
    """An address as proxies write it (``1.2.3.4``, ``1.2.3.4:80``, ``::1``, ``[::1]:80``), with
    IPv4-mapped IPv6 as IPv4; None when it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The reverse proxies whose ``X-Forwarded-For`` is believed (none by default)."""

    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """From addresses and CIDRs (``10.0.0.5``, ``10.0.0.0/8``, ``fd00::/8``); ValueError
        names an entry that is neither."""
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return cls(tuple(networks))

    def trusts(self, address: IpAddress | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client's address: ``peer`` unless it is a trusted proxy; then the right-most
        ``forwarded_for`` entry (each header may list several) that is not a trusted proxy.
        Entries to the left of it were written by the client (or an untrusted hop) and may be
        anything, so they are never read."""
        if not self.trusts(parse_ip(peer)):
            return peer
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        hops = [hop for hop in hops if hop][-MAX_FORWARDED_HOPS:]
        for hop in reversed(hops):
            address = parse_ip(hop)
            if not self.trusts(address):
                # Written by a trusted proxy: what it saw (kept short, it is a counter key).
                return str(address) if address is not None else hop[:64]
        # Every hop is a trusted proxy: the first one is as far as the chain goes.
        return str(parse_ip(hops[0])) if hops else peer


def client_address(
    environ: Mapping[str, Any] | None, trusted: TrustedProxies = TrustedProxies()
) -> str:
    """The remote address of a connection (python-engineio's aiohttp environ fixes REMOTE_ADDR
    at 127.0.0.1: the real one is on the aiohttp request); from a trusted proxy, the client's
    address from its ``X-Forwarded-For`` (``TrustedProxies.client``)."""
    if environ is None:
        return "-"
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    peer = str(remote) if remote else str(environ.get("REMOTE_ADDR", "-"))
    if not trusted.networks:
        return peer
    headers = getattr(request, "headers", None)
    if headers is not None:
        forwarded_for: list[str] = headers.getall("X-Forwarded-For", [])
    else:  # a WSGI-style environ joins repeated headers with commas
        forwarded_for = [environ.get("HTTP_X_FORWARDED_FOR", "")]
    return trusted.client(peer, forwarded_for)
