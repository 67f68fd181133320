"""Raw Socket.IO packets: attachment bombs, bad placeholders and junk are answered, not fatal."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from handlers.wire_guard import BoundedPacket, MalformedPacket, WireGuard, WireLimits


def test_packet_declaring_many_attachments_is_refused() -> None:
    with pytest.raises(MalformedPacket, match="at most 1"):
        BoundedPacket(encoded_packet='5999999999-["input.buffer.append",{"_placeholder":true}]')
    one = BoundedPacket(encoded_packet='51-["input.buffer.append",{"_placeholder":true,"num":0}]')
    assert one.attachment_count == 1
    assert one.add_attachment(b"\x00\x01")
    assert one.data == ["input.buffer.append", b"\x00\x01"]


@pytest.mark.parametrize("num", [1, -1, "0", None, True, 2.0])
def test_bad_placeholder_stays_as_sent(num: Any) -> None:
    pkt = BoundedPacket(
        encoded_packet="51-" + json.dumps(["e", {"_placeholder": True, "num": num}])
    )
    assert pkt.add_attachment(b"x")
    assert pkt.data == ["e", {"_placeholder": True, "num": num}]


@pytest.mark.parametrize(
    ("encoded", "code"),
    [
        ("2[1]", "unknown_event"),
        ("2[null]", "unknown_event"),
        ("2[[1]]", "unknown_event"),
        ('2[{"a":1}]', "unknown_event"),
        ('2["*"]', "unknown_event"),
        ("2[]", "invalid_payload"),
        ('2"text"', "invalid_payload"),
        ("2{}", "invalid_payload"),
        ("2 7", "invalid_payload"),
    ],
)
def test_event_without_a_usable_name_is_refused(encoded: str, code: str) -> None:
    with pytest.raises(MalformedPacket) as refused:
        BoundedPacket(encoded_packet=encoded)
    assert refused.value.code == code


def test_undecodable_packet_is_malformed() -> None:
    with pytest.raises(MalformedPacket):
        BoundedPacket(encoded_packet='2["unterminated')


class Recorder:
    def __init__(self) -> None:
        self.malformed: list[tuple[str | None, str]] = []
        self.codes: list[str] = []
        self.events: list[tuple[str, Any]] = []

    async def on_malformed(self, sid: str | None, code: str, why: str, event: str | None) -> None:
        self.malformed.append((sid, why))
        self.codes.append(code)


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()
    sio = socketio.AsyncServer(async_mode="aiohttp", serializer=BoundedPacket)

    @sio.on("*")  # type: ignore[untyped-decorator]
    async def any_event(event: str, sid: str, *args: Any) -> None:
        recorder.events.append((event, args))

    app = web.Application()
    sio.attach(app, socketio_path="/socketio")
    WireGuard(sio, WireLimits(), recorder.on_malformed)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"ws://127.0.0.1:{port}/socketio/?EIO=4&transport=websocket", recorder
    finally:
        await sio.shutdown()
        await runner.cleanup()


async def test_raw_packets_are_answered_and_the_connection_keeps_working(
    server: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url, recorder = server
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        assert (await ws.receive_str()).startswith("0")  # Engine.IO open
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")  # Socket.IO connect
        # An attachment bomb: refused at its header, no frame kept for it.
        await ws.send_str('45999999-["input.buffer.append",{"_placeholder":true,"num":0}]')
        for _ in range(3):
            await ws.send_bytes(b"\x00" * 1024)
        # A placeholder past the attachments, then junk JSON.
        await ws.send_str('451-["bad",{"_placeholder":true,"num":7}]')
        await ws.send_bytes(b"\x01\x02")
        await ws.send_str('42["unterminated')
        # The connection still delivers a good event afterwards.
        await ws.send_str('42["ping.me",{"n":1}]')
        for _ in range(50):
            if ("ping.me", ({"n": 1},)) in recorder.events:
                break
            await ws.ping()
            await asyncio.sleep(0.02)
    assert ("ping.me", ({"n": 1},)) in recorder.events
    assert ("bad", ({"_placeholder": True, "num": 7},)) in recorder.events
    whys = [why for _, why in recorder.malformed]
    assert any("at most 1" in why for why in whys), whys
    assert any("bad packet" in why or "undecodable" in why for why in whys), whys
    assert all(sid is not None for sid, _ in recorder.malformed)
    assert not [r for r in caplog.records if r.exc_info], "a client's packet logged a traceback"
