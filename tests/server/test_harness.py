"""The harness's own checks can fail: a client flags what breaks the contract."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.harness import RunningServer, make_config, make_registry

DELTA: dict[str, Any] = {
    "responseId": "resp_1",
    "itemId": "item_1",
    "sequence": 0,
    "audio": b"\x00\x00",
    "format": "pcm16",
    "sampleRate": 24000,
    "final": True,
}


@pytest.mark.parametrize(
    ("role", "name", "payload", "problem"),
    [
        ("receiver", "response.audio.delta", DELTA, None),
        ("receiver", "response.audio.delta", {**DELTA, "audio": "AAA="}, "binary"),
        ("receiver", "response.audio.delta", {**DELTA, "sequence": -1}, "minimum"),
        ("receiver", "response.audio.delta", {**DELTA, "extra": 1}, "Additional"),
        ("receiver", "response.audio.delta", {**DELTA, "text": None}, "not of type"),
        ("sender", "response.audio.delta", DELTA, "receivers audience"),
        ("receiver", "request.transcribe.done", {"itemId": "item_1"}, "sender audience"),
        ("sender", "custom.error", {"code": "nope", "message": "x"}, "is not one of"),
        ("sender", "input.buffer.append", b"\x00\x00", "not a server event"),
        ("sender", "whatever", {}, "not a server event"),
    ],
)
async def test_client_flags_contract_breaches(
    role: str, name: str, payload: Any, problem: str | None
) -> None:
    server = RunningServer(make_config(), make_registry())
    client = server.client(role, "harness")
    await client._on_event(name, payload)
    if problem is None:
        assert client.violations == []
    else:
        assert len(client.violations) >= 1
        assert any(problem in v for v in client.violations), client.violations
    await client.sio.shutdown()
