"""Where clients enter: raw packets, tokens, origins, connection counts, rates, sizes, settings a
provider cannot serve, secrets. Each refusal is a stable code; the connection keeps working."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from handlers.auth import mint
from handlers.providers.base import LlmRequest, ProviderError
from handlers.providers.toolkit import NothingToClose, redact
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.harness import RunningServer, new_session_id, run_turn

SECRET = "hostile-secret-" + "k" * 40


async def open_raw(server: RunningServer, session_id: str, role: str = "sender") -> Any:
    """A raw Engine.IO websocket joined to the namespace as ``role`` of ``session_id``."""
    http = aiohttp.ClientSession()
    url = server.url.replace("http", "ws") + server.path + "/?EIO=4&transport=websocket"
    ws = await http.ws_connect(url)
    assert (await ws.receive_str()).startswith("0")
    await ws.send_str("40" + json.dumps({"role": role, "sessionId": session_id}))
    assert (await ws.receive_str()).startswith("40")
    return http, ws


async def errors_after(ws: Any, count: int, within: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` custom.error payloads (answering Engine.IO pings meanwhile)."""
    errors: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while len(errors) < count:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            if message.data == "2":
                await ws.send_str("3")
            elif message.data.startswith("42"):
                name, payload = json.loads(message.data[2:])
                if name == "custom.error":
                    errors.append(payload)
    return errors


RAW = [
    ("42[1]", "unknown_event"),
    ("42[null]", "unknown_event"),
    ("42[[1]]", "unknown_event"),
    ('42["*"]', "unknown_event"),
    ('42["*",1,2]', "unknown_event"),
    ("42[]", "invalid_payload"),
    ('42"name"', "invalid_payload"),
    ('42["connect"]', "unknown_event"),
    ('42["connect",1,2,3]', "unknown_event"),
    ('42["disconnect"]', "unknown_event"),
    ('42["disconnect",1,2,3]', "unknown_event"),
    ('42["unterminated', "invalid_payload"),
    ("4" + "[" * 5000 + "]" * 5000, "invalid_payload"),
    ('42["input.buffer.append",{"_placeholder":true,"num":7}]', "invalid_payload"),
    ('45999999-["input.buffer.append",{"_placeholder":true,"num":0}]', "invalid_payload"),
    ('451-["input.buffer.append",{"_placeholder":true,"num":3}]', "invalid_payload"),
]


async def test_raw_packets_are_answered_never_raised(
    serve: ServeFn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await serve()
    session = new_session_id()
    http, ws = await open_raw(server, session)
    try:
        for packet, code in RAW:
            await ws.send_str(packet)
            if packet.startswith("45"):
                await ws.send_bytes(b"\x00\x01" * 512)  # its attachment: dropped with it
            [error] = await errors_after(ws, 1)
            assert error["code"] == code, (packet[:40], error)
        # Still connected and served: a real turn on the same session.
        receiver = await server.connect("receiver", session)
        sender = await server.connect("sender", session)
        result = await run_turn(sender, receiver, clip(WEATHER))
        assert result.reply["text"]
        assert not ws.closed
    finally:
        await ws.close()
        await http.close()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    lines = [r for r in caplog.records if r.name == "metahuman.clients"]
    assert lines and all(session in r.getMessage() for r in lines[: len(RAW) - 2])


async def test_an_attachment_must_be_binary(serve: ServeFn) -> None:
    server = await serve()
    http, ws = await open_raw(server, new_session_id())
    try:
        for header in ('45["a"]', '451-["x",{"_placeholder":true,"num":0}]'):
            await ws.send_str(header)
            await ws.send_str('42["after.header"]')  # not swallowed as the attachment
            errors = await errors_after(ws, 2)
            assert errors[0]["code"] == "invalid_payload"
            assert errors[1] == {
                "code": "unknown_event",
                "message": "event not in the contract",
                "event": "after.header",
            }
    finally:
        await ws.close()
        await http.close()


async def test_events_and_sizes_are_bounded(serve: ServeFn) -> None:
    server = await serve(events_per_second=20.0, event_burst=20.0, max_event_bytes=4096)
    http, ws = await open_raw(server, new_session_id())
    try:
        await ws.send_str('42["input.buffer.append","' + "A" * 8000 + '"]')
        [error] = await errors_after(ws, 1)
        assert error["code"] == "payload_too_large"
        await ws.send_str('451-["input.buffer.append",{"_placeholder":true,"num":0}]')
        await ws.send_bytes(b"\x00" * 8192)
        [error] = await errors_after(ws, 1)
        assert error["code"] == "payload_too_large"
        for _ in range(60):
            await ws.send_str('42["no.such.event",{}]')
        codes: list[str] = []
        while "rate_limited" not in codes:
            [error] = await errors_after(ws, 1)
            codes.append(error["code"])
        # The burst was served, then one answer for the whole flood (not one per event).
        assert 15 <= codes.count("unknown_event") <= 20, codes
        await asyncio.sleep(1.5)  # the bucket refills: the connection is served again
        await ws.send_str('42["input.buffer.commit"]')
        late = [e["code"] for e in await errors_after(ws, 1)]
        assert late == ["empty_buffer"], late
    finally:
        await ws.close()
        await http.close()


async def test_connections_per_session_are_bounded(serve: ServeFn) -> None:
    server = await serve(max_connections_per_session=2)
    session = new_session_id()
    await server.connect("receiver", session)
    await server.connect("receiver", session)
    refusal = await server.client("sender", session).refused()
    assert refusal["data"] == {"code": "too_many_connections"}
    await server.connect("sender", new_session_id())  # another session is not affected


async def test_connections_per_address_are_bounded(serve: ServeFn) -> None:
    server = await serve(max_connections_per_address=3)
    for _ in range(3):
        await server.connect("receiver", new_session_id())
    refusal = await server.client("receiver", new_session_id()).refused()
    assert refusal["data"] == {"code": "too_many_connections"}


SECRET_KEY = "signing-key-for-tests-" + "x" * 32


async def test_signed_tokens_bind_session_role_and_expiry(serve: ServeFn) -> None:
    server = await serve(token_secret=SECRET_KEY.encode())
    session, other = new_session_id(), new_session_id()
    sender_token = mint(SECRET_KEY, session, "sender", 60)
    for role, sid, token, code in [
        ("sender", other, sender_token, "token_mismatch"),
        ("receiver", session, sender_token, "token_mismatch"),
        ("sender", session, mint(SECRET_KEY, session, "sender", 1, now=0), "token_expired"),
        ("sender", session, mint("another-key-" + "y" * 40, session, "sender", 60), "unauthorized"),
        ("sender", session, None, "unauthorized"),
    ]:
        refusal = await server.client(role, sid, token=token).refused()
        assert refusal["data"] == {"code": code}, (role, sid, code)
    await server.client("sender", session, token=sender_token).connect()


async def test_foreign_origin_is_refused(serve: ServeFn) -> None:
    server = await serve()
    url = f"{server.url}{server.path}/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Origin": "https://evil.example"}) as answer:
            assert answer.status == 400
            assert "Access-Control-Allow-Origin" not in answer.headers
            assert "Access-Control-Allow-Credentials" not in answer.headers or (
                answer.headers.get("Access-Control-Allow-Origin") is None
            )
        for origin in ("http://localhost:5173", "http://127.0.0.1:8080", server.url):
            async with http.get(url, headers={"Origin": origin}) as answer:
                assert answer.status == 200, origin
                assert answer.headers["Access-Control-Allow-Origin"] == origin
        async with http.get(url) as answer:  # no Origin: not a browser, let through
            assert answer.status == 200
    wide = await serve(cors_origins=("https://app.example",))
    url = f"{wide.url}{wide.path}/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Origin": "https://app.example"}) as answer:
            assert answer.status == 200
        async with http.get(url, headers={"Origin": "https://evil.example"}) as answer:
            assert answer.status == 400


async def test_a_language_local_stt_lacks_is_refused_at_update(serve: ServeFn) -> None:
    server = await serve()
    sender, _receiver = await server.pair()
    mark = sender.mark()
    await sender.emit("session.update", {"stt": {"provider": "local", "language": "xx"}})
    error = await sender.wait_error("unsupported_option", after=mark)
    assert "en-US" in error["message"]
    mark = sender.mark()
    await sender.emit("session.update", {})
    updated = await sender.wait_for("session.updated", after=mark)
    assert updated["stt"]["language"] == "en-US"


class LeakyLlm(NothingToClose):
    """A language model whose upstream echoes credentials in its error body."""

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        raise ProviderError(f"HTTP 401: invalid api key {SECRET} (secret-123)")
        yield ""  # an async generator, like the real providers


async def test_no_environment_secret_reaches_a_client_or_the_log(
    serve: ServeFn, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("UPSTREAM_API_KEY", SECRET)
    monkeypatch.setenv("SOME_PASSWORD", "secret-123")
    assert redact(f"a {SECRET} b secret-123") == "a [redacted] b [redacted]"
    server = await serve(factories={"llm": {"local": lambda env: LeakyLlm()}})
    sender, _receiver = await server.pair()
    mark = sender.mark()
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    error = await sender.wait_error("provider_error", after=mark)
    assert "[redacted]" in error["message"]
    seen = json.dumps([e.payload for c in server.clients for e in c.events], default=repr)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (SECRET, "secret-123"):
        assert secret not in seen
        assert secret not in logged


async def test_health_routes(serve: ServeFn) -> None:
    server = await serve()
    dead = await serve(redis_url="redis://127.0.0.1:1/0")
    async with aiohttp.ClientSession() as http:
        for url, status in [
            (f"{server.url}/healthz", 200),
            (f"{server.url}/readyz", 200),
            (f"{dead.url}/healthz", 200),
            (f"{dead.url}/readyz", 503),
        ]:
            async with http.get(url) as answer:
                assert answer.status == status, url
