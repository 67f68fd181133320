"""Failover through the server: with METAHUMAN_<STAGE>_FALLBACK set, a stage whose provider
fails transiently before any output is served by the next one and the Sender sees no error; when
every provider fails, the Sender gets one provider_error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from handlers.providers.base import LlmRequest, PcmChunk, ProviderError, TtsRequest
from handlers.providers.toolkit import NothingToClose
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn, local_stt, serve
from tests.server.harness import check_response, run_turn

__all__ = ["local_stt", "serve"]  # the server fixtures, found by name


class DownLlm(NothingToClose):
    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        raise ProviderError("OpenAI chat completion timed out", transient=True)
        yield ""


class DownTts(NothingToClose):
    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        raise ProviderError("OpenAI speech failed: HTTP 503", transient=True)
        yield PcmChunk(b"", 24000)


@pytest.mark.parametrize("stage", ["llm", "tts"])
async def test_a_failing_stage_is_served_by_its_fallback(serve: ServeFn, stage: str) -> None:
    down = {"llm": DownLlm, "tts": DownTts}[stage]
    server = await serve(
        factories={stage: {"openai": lambda env: down()}},
        env={f"METAHUMAN_{stage.upper()}_FALLBACK": "openai,local"},
    )
    sender, receiver = await server.pair()
    mark = sender.mark()
    await sender.emit("session.update", {stage: {"provider": "openai"}})
    await sender.wait_for("session.updated", after=mark)
    result = await run_turn(sender, receiver, clip(WEATHER))
    check_response(result)
    assert result.reply["text"]
    assert any(d["audio"] for d in result.deltas)
    assert "custom.error" not in sender.names(after=mark)


async def test_when_every_provider_fails_the_sender_gets_one_error(serve: ServeFn) -> None:
    server = await serve(
        factories={"llm": {"openai": lambda env: DownLlm(), "aws": lambda env: DownLlm()}},
        env={"METAHUMAN_LLM_FALLBACK": "openai,aws"},
    )
    sender, receiver = await server.pair()
    mark = sender.mark()
    await sender.emit("session.update", {"llm": {"provider": "openai"}})
    await sender.wait_for("session.updated", after=mark)
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()
    error = await sender.wait_error("provider_error", after=mark)
    assert error["stage"] == "llm"
    assert "every llm provider failed" in error["message"]
    assert "openai" in error["message"] and "aws" in error["message"]
    await receiver.quiet(0.3)
    assert sender.names(after=mark).count("custom.error") == 1
