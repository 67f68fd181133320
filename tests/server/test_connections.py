"""Connection slots: the per-address bound behind a reverse proxy (X-Forwarded-For believed from
the proxies named in --forwarded-allow-ips only), a client that leaves its namespace but keeps
its socket open, and one that opens a socket but never joins a namespace (the server closes
both; the second is also bounded per address)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest

from handlers.config import parse_config
from handlers.connections import TrustedProxies
from tests.server.conftest import ServeFn
from tests.server.harness import RunningServer, new_session_id

CLOSE_S = 3.0
"""How soon the server closes a socket whose client left its namespace (Engine.IO's ping
timeout, which would end it otherwise, is 45 s)."""


async def connect_via(server: RunningServer, forwarded_for: str) -> None:
    """A Receiver of a new session whose request carries ``forwarded_for``, as a proxy sends it."""
    client = server.client("receiver", new_session_id(), headers={"X-Forwarded-For": forwarded_for})
    await client.connect()


async def refused_via(server: RunningServer, forwarded_for: str) -> str:
    client = server.client("receiver", new_session_id(), headers={"X-Forwarded-For": forwarded_for})
    refusal = await client.refused()
    return str(refusal["data"]["code"])


async def test_behind_a_trusted_proxy_each_client_address_has_its_own_bound(
    serve: ServeFn,
) -> None:
    # The test's clients connect from loopback: loopback plays the proxy.
    server = await serve(max_connections_per_address=1, forwarded_allow_ips=("127.0.0.0/8",))
    await connect_via(server, "203.0.113.7")
    await connect_via(server, "203.0.113.8")  # another client behind the same proxy
    assert await refused_via(server, "203.0.113.7") == "too_many_connections"
    # A client's own X-Forwarded-For is to the left of what the proxy appends: never read.
    assert await refused_via(server, "198.51.100.1, 203.0.113.8") == "too_many_connections"
    # Through two trusted proxies (the second one appends the first one's address).
    await connect_via(server, "203.0.113.9, 127.0.0.5")
    assert server.chat.connections.addresses == Counter(
        {"203.0.113.7": 1, "203.0.113.8": 1, "203.0.113.9": 1}
    )


@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8", "::1")])
async def test_x_forwarded_for_from_a_peer_not_trusted_is_ignored(
    serve: ServeFn, trusted: tuple[str, ...]
) -> None:
    server = await serve(max_connections_per_address=1, forwarded_allow_ips=trusted)
    await connect_via(server, "203.0.113.7")
    # Another address in the header changes nothing: the peer (loopback) is what counts.
    assert await refused_via(server, "203.0.113.8") == "too_many_connections"
    assert server.chat.connections.addresses == Counter({"127.0.0.1": 1})


def test_the_client_is_the_right_most_address_not_a_trusted_proxy() -> None:
    proxies = TrustedProxies.parse(["10.0.0.0/8", "fd00::/8", "192.0.2.1"])
    client = proxies.client
    assert client("198.51.100.9", ["203.0.113.7"]) == "198.51.100.9"  # peer not trusted
    assert client("10.1.2.3", []) == "10.1.2.3"  # no header
    assert client("10.1.2.3", ["203.0.113.7"]) == "203.0.113.7"
    assert client("10.1.2.3", ["1.1.1.1, 203.0.113.7, 192.0.2.1"]) == "203.0.113.7"
    assert client("10.1.2.3", ["1.1.1.1", "203.0.113.7,10.9.9.9"]) == "203.0.113.7"  # 2 headers
    assert client("fd00::1", ["2001:db8::5"]) == "2001:db8::5"
    assert client("::ffff:10.0.0.1", ["203.0.113.7:4711"]) == "203.0.113.7"  # mapped; a port
    assert client("10.1.2.3", ["[2001:db8::5]:443"]) == "2001:db8::5"
    assert client("10.1.2.3", ["10.0.0.7, 192.0.2.1"]) == "10.0.0.7"  # all proxies: the first
    assert client("10.1.2.3", ["evil, unknown"]) == "unknown"  # what the proxy wrote, as is
    assert client("10.1.2.3", [", ,"]) == "10.1.2.3"
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        TrustedProxies.parse(["10.0.0.300"])


def test_forwarded_allow_ips_comes_from_a_flag_or_the_environment() -> None:
    assert parse_config([], {}).forwarded_allow_ips == ()
    env = {"METAHUMAN_FORWARDED_ALLOW_IPS": "10.0.0.0/8, ::1"}
    assert parse_config([], env).forwarded_allow_ips == ("10.0.0.0/8", "::1")
    flag = ["--forwarded-allow-ips", "192.0.2.1"]
    assert parse_config(flag, env).forwarded_allow_ips == ("192.0.2.1",)
    with pytest.raises(SystemExit):
        parse_config(["--forwarded-allow-ips", "proxy.example"], {})


async def test_a_client_that_leaves_but_keeps_its_socket_open_is_closed(serve: ServeFn) -> None:
    server = await serve(max_connections_per_address=1)
    async with aiohttp.ClientSession() as http:
        url = server.url.replace("http", "ws") + server.path + "/?EIO=4&transport=websocket"
        ws = await http.ws_connect(url)
        assert (await ws.receive_str()).startswith("0")
        auth = {"role": "receiver", "sessionId": new_session_id()}
        await ws.send_str("40" + json.dumps(auth))
        assert (await ws.receive_str()).startswith("40")
        assert server.chat.connections.addresses == Counter({"127.0.0.1": 1})
        assert len(server.chat.receivers.sio.eio.sockets) == 1  # type: ignore[union-attr]

        await ws.send_str("41")  # Socket.IO DISCONNECT of "/"; the websocket stays open
        left = time.monotonic()
        received: list[str] = []
        async with asyncio.timeout(CLOSE_S):
            async for message in ws:  # ends when the websocket closes
                received.append(message.data)
        took = time.monotonic() - left
        print(f"left its namespace: socket closed by the server after {took:.2f} s")
        assert ws.closed
        assert received == ["1"]  # Engine.IO's CLOSE packet, then the websocket's close

    assert server.chat.connections.addresses == Counter()
    assert server.chat.receivers.sio.eio.sockets == {}  # type: ignore[union-attr]
    # The slot is free: the address connects again.
    await server.connect("receiver")
    assert server.chat.connections.addresses == Counter({"127.0.0.1": 1})


async def open_transport(http: aiohttp.ClientSession, server: RunningServer) -> Any:
    """An Engine.IO websocket that answers the server's pings and sends no Socket.IO CONNECT."""
    url = server.url.replace("http", "ws") + server.path + "/?EIO=4&transport=websocket"
    ws = await http.ws_connect(url)
    assert (await ws.receive_str()).startswith("0")  # Engine.IO OPEN
    return ws


async def read_until_closed(ws: Any, within_s: float) -> list[str]:
    received: list[str] = []
    async with asyncio.timeout(within_s):
        async for message in ws:  # ends when the websocket closes
            received.append(message.data)
            if message.data == "2":  # a ping: answered, as a live client would
                await ws.send_str("3")
    return received


async def test_a_socket_that_never_joins_a_namespace_is_closed(serve: ServeFn) -> None:
    server = await serve(connect_timeout_seconds=1.5)
    sockets = server.chat.receivers.sio.eio.sockets  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        idle = await open_transport(http, server)
        refused = await open_transport(http, server)
        await refused.send_str("40" + json.dumps({"role": "juggler", "sessionId": "x"}))
        assert (await refused.receive_str()).startswith("44")  # CONNECT_ERROR; socket kept
        joined = await open_transport(http, server)
        await joined.send_str("40" + json.dumps({"role": "receiver", "sessionId": "s-1"}))
        assert (await joined.receive_str()).startswith("40")
        assert len(sockets) == 3
        opened = time.monotonic()
        for ws in (idle, refused):
            assert await read_until_closed(ws, CLOSE_S) == ["1"]  # Engine.IO's CLOSE
            assert ws.closed
        took = time.monotonic() - opened
        print(f"never joined: closed by the server {took:.2f} s after the check began")
        assert len(sockets) == 1 and not joined.closed  # the one that joined stays
        assert server.chat.connections.addresses == Counter({"127.0.0.1": 1})
        await joined.close()


async def test_one_address_holds_a_bounded_number_of_sockets_outside_a_namespace(
    serve: ServeFn,
) -> None:
    server = await serve(max_connections_per_address=2, connect_timeout_seconds=30)
    async with aiohttp.ClientSession() as http:
        first = await open_transport(http, server)
        second = await open_transport(http, server)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await open_transport(http, server)
        assert refused.value.status == 401
        # Joining frees its place among those waiting: another socket may open.
        await first.send_str("40" + json.dumps({"role": "receiver", "sessionId": "s-2"}))
        assert (await first.receive_str()).startswith("40")
        third = await open_transport(http, server)
        assert not third.closed
        for ws in (first, second, third):
            await ws.close()
