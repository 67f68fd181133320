"""/healthz, /readyz, /metrics after real turns, and the log lines: JSON that parses, carries the
ids, never the token."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from handlers.observability import JsonFormatter, TextFormatter, log_event
from tests.server.audio_checks import TIME, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import FailingLlm
from tests.server.harness import RunningServer, run_turn

HISTOGRAMS = (
    ("metahuman_stt_seconds", {"provider": "local"}),
    ("metahuman_llm_first_token_seconds", {"provider": "local"}),
    ("metahuman_tts_first_audio_seconds", {"provider": "local"}),
    ("metahuman_first_audio_seconds", {"stt": "local", "llm": "local", "tts": "local"}),
)


async def scrape(server: RunningServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the server logs while the test runs, formatted as the JSON lines it writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("metahuman")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_health_and_readiness(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}
        async with http.get(f"{server.url}/readyz") as response:
            assert response.status == 200
            assert await response.json() == {"ready": True, "checks": {"providers": "ok"}}


async def test_readiness_fails_when_redis_is_unreachable(serve: ServeFn) -> None:
    # Port 1: nothing listens; the server starts (the manager connects lazily) but is not ready.
    server = await serve(redis_url="redis://127.0.0.1:1/0")
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/readyz") as response:
        assert response.status == 503
        body = await response.json()
    assert body["ready"] is False
    assert body["checks"]["providers"] == "ok"
    assert body["checks"]["redis"] != "ok"


async def test_metrics_show_a_turns_histograms(server: RunningServer) -> None:
    before = await scrape(server)
    sender, receiver = await server.pair()
    during = await scrape(server)
    assert (
        value(during, "metahuman_connections", role="sender")
        == value(before, "metahuman_connections", role="sender") + 1
    )
    assert value(during, "metahuman_connections", role="receiver") >= 1
    assert value(during, "metahuman_sessions") >= 1
    result = await run_turn(sender, receiver, clip(TIME))
    assert result.deltas
    await receiver.wait_for("response.text")
    after = await scrape(server)
    assert (
        value(after, "metahuman_turns_total", outcome="completed")
        == value(before, "metahuman_turns_total", outcome="completed") + 1
    )
    for name, labels in HISTOGRAMS:
        count = value(after, f"{name}_count", **labels) - value(before, f"{name}_count", **labels)
        total = value(after, f"{name}_sum", **labels) - value(before, f"{name}_sum", **labels)
        assert count == 1, name
        assert 0 < total < 30, (name, total)
        # Cumulative buckets: the +Inf bucket holds every observation.
        assert value(after, f"{name}_bucket", **labels, le="+Inf") >= 1
    # commit -> first audio covers commit -> transcript.
    first_audio = value(
        after, "metahuman_first_audio_seconds_sum", stt="local", llm="local", tts="local"
    ) - value(before, "metahuman_first_audio_seconds_sum", stt="local", llm="local", tts="local")
    stt = value(after, "metahuman_stt_seconds_sum", provider="local") - value(
        before, "metahuman_stt_seconds_sum", provider="local"
    )
    assert first_audio >= stt
    chunks = value(after, "metahuman_audio_chunks_total") - value(
        before, "metahuman_audio_chunks_total"
    )
    assert chunks == -(-len(clip(TIME)) // 640)


async def test_errors_are_counted_by_code_and_logged(
    serve: ServeFn, log_lines: io.StringIO
) -> None:
    server = await serve(tokens=frozenset({"the-secret-token"}))
    before = await scrape(server)
    sender = await server.connect("sender", token="the-secret-token")
    await sender.commit()  # nothing buffered
    error = await sender.wait_for("custom.error")
    assert error["code"] == "empty_buffer"
    refused = server.client("receiver", "s-refused", token="wrong-token-value")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect()
    after = await scrape(server)
    for code in ("empty_buffer", "unauthorized"):
        assert (
            value(after, "metahuman_errors_total", code=code)
            == value(before, "metahuman_errors_total", code=code) + 1
        )
    lines = parsed(log_lines)
    errors = [line for line in lines if line.get("event") == "error"]
    assert errors and errors[0]["code"] == "empty_buffer"
    assert errors[0]["session_id"] == sender.session_id
    assert errors[0]["level"] == "WARNING"
    assert errors[0]["client_event"] == "input.buffer.commit"
    refusals = [line for line in lines if line.get("event") == "connect.refused"]
    assert refusals == [
        {**refusals[0], "code": "unauthorized", "session_id": "s-refused", "role": "receiver"}
    ]
    text = log_lines.getvalue()
    assert "the-secret-token" not in text and "wrong-token-value" not in text


async def test_turn_log_lines_carry_ids_and_stage_timings(
    server: RunningServer, log_lines: io.StringIO
) -> None:
    sender, receiver = await server.pair()
    result = await run_turn(sender, receiver, clip(TIME))
    await sender.disconnect()
    await receiver.disconnect()
    # The server sees the disconnects a moment after the clients return.
    for _ in range(100):
        if '"session.close"' in log_lines.getvalue():
            break
        await asyncio.sleep(0.05)
    lines = parsed(log_lines)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
    events = [line["event"] for line in lines if line.get("session_id") == sender.session_id]
    assert events[:3] == ["session.open", "connect", "connect"]
    assert "turn.start" in events and "turn.end" in events
    assert events[-1] == "session.close"
    assert events.count("disconnect") == 2
    end = next(line for line in lines if line.get("event") == "turn.end")
    assert end["item_id"] == result.item_id
    assert end["response_id"] == result.reply["responseId"]
    assert end["outcome"] == "completed"
    for stage in ("stt_ms", "llm_first_token_ms", "tts_first_audio_ms", "first_audio_ms"):
        assert isinstance(end[stage], float) and end[stage] >= 0, (stage, end)
    assert end["first_audio_ms"] <= end["total_ms"]


def test_credential_fields_are_masked_and_text_format_is_one_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("metahuman")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        log_event("connect", {"session_id": "s1", "token": "hunter2", "llm_first_token_ms": 3.5})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert "hunter2" not in line
    assert "token=***" in line and "session_id=s1" in line and "llm_first_token_ms=3.5" in line


async def test_a_failed_stage_is_the_turns_outcome_and_an_error_line(
    serve: ServeFn, log_lines: io.StringIO
) -> None:
    server = await serve(factories={"llm": {"openai": lambda env: FailingLlm()}})
    before = await scrape(server)
    sender, _ = await server.pair()
    await sender.emit("session.update", {"llm": {"provider": "openai"}})
    await sender.wait_for("session.updated")
    await sender.send_pcm(clip(TIME))
    await sender.commit()
    item_id = (await sender.wait_for("input.buffer.initialized"))["itemId"]
    await sender.wait_error("provider_error")
    for _ in range(100):  # the turn ends just after its error is sent
        if '"turn.end"' in log_lines.getvalue():
            break
        await asyncio.sleep(0.05)
    after = await scrape(server)
    assert (
        value(after, "metahuman_turns_total", outcome="provider_error")
        == value(before, "metahuman_turns_total", outcome="provider_error") + 1
    )
    lines = parsed(log_lines)
    error = next(line for line in lines if line.get("event") == "error")
    assert (error["item_id"], error["stage"], error["provider"]) == (item_id, "llm", "openai")
    end = next(line for line in lines if line.get("event") == "turn.end")
    assert (end["item_id"], end["outcome"], end["llm"]) == (item_id, "provider_error", "openai")
    assert end["stt_ms"] is not None and end["first_audio_ms"] is None
