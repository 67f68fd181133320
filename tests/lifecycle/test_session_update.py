"""session.update settles the model lifecycle before the first turn: a retired model is served by
its successor (session.updated shows both), what a model cannot take is refused with
``unsupported_option`` naming what it takes, and the turn then asks the provider for the served
model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from handlers.providers.base import LlmRequest
from handlers.providers.lifecycle import load_lifecycle
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import ChunkTts, InstantStt, ScriptedLlm
from tests.server.harness import ChatClient, RunningServer, check_response, run_turn


class RecordingLlm(ScriptedLlm):
    def __init__(self) -> None:
        super().__init__()
        self.models: list[str] = []

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        self.models.append(request.model)
        async for delta in super().respond(request):
            yield delta


async def cloud_server(serve: ServeFn, llm: RecordingLlm) -> RunningServer:
    return await serve(
        factories={
            "stt": {"openai": lambda env: InstantStt()},
            "llm": {"openai": lambda env: llm, "bayer": lambda env: llm},
            "tts": {"openai": lambda env: ChunkTts()},
        }
    )


async def updated(sender: ChatClient, payload: Any) -> Any:
    mark = sender.mark()
    await sender.emit("session.update", payload)
    answer = await sender.wait_for("session.updated", after=mark)
    assert "custom.error" not in sender.names(after=mark)
    return answer


async def refused(sender: ChatClient, payload: Any, code: str) -> Any:
    mark = sender.mark()
    await sender.emit("session.update", payload)
    error = await sender.wait_error(code, after=mark)
    assert error["event"] == "session.update"
    assert "session.updated" not in sender.names(after=mark)
    return error


async def test_a_retired_model_is_served_by_its_successor_and_the_turn_uses_it(
    serve: ServeFn,
) -> None:
    llm = RecordingLlm()
    server = await cloud_server(serve, llm)
    sender, receiver = await server.pair()
    retired = load_lifecycle().entry("llm", "openai", "gpt-4")
    assert retired is not None and retired.successor is not None
    answer = await updated(sender, {"llm": {"provider": "openai", "model": "gpt-4"}})
    assert answer["llm"]["model"] == retired.successor
    assert answer["llm"]["requestedModel"] == "gpt-4"
    assert "retired" in answer["llm"]["modelNotice"]
    assert retired.successor in answer["llm"]["modelNotice"]

    # A later update of another field keeps what the model choice said.
    cooler = await updated(sender, {"llm": {"temperature": 0.3}})
    assert cooler["llm"] == {**answer["llm"], "temperature": 0.3}

    result = await run_turn(sender, receiver, clip(WEATHER))
    check_response(result)
    assert llm.models == [retired.successor]

    # An active model is served as asked, without the fields of the earlier choice.
    current = await updated(sender, {"llm": {"provider": "openai", "model": retired.successor}})
    assert current["llm"]["model"] == retired.successor
    assert "requestedModel" not in current["llm"] and "modelNotice" not in current["llm"]


async def test_a_voice_the_model_does_not_take_is_refused_naming_what_it_takes(
    serve: ServeFn,
) -> None:
    server = await cloud_server(serve, RecordingLlm())
    sender, _ = await server.pair()
    before = await updated(sender, {"tts": {"provider": "openai", "voice": "ballad"}})
    error = await refused(
        sender,
        {"tts": {"provider": "openai", "model": "tts-1", "voice": "ballad"}},
        "unsupported_option",
    )
    assert error["stage"] == "tts" and error["provider"] == "openai"
    assert "ballad" in error["message"] and "alloy" in error["message"]
    # Switching the model alone to one that does not take the voice in force is refused too.
    await refused(
        sender, {"tts": {"provider": "openai", "model": "tts-1-hd"}}, "unsupported_option"
    )
    assert await updated(sender, {}) == {**before, "sessionId": before["sessionId"]}
    taken = await updated(
        sender, {"tts": {"provider": "openai", "model": "tts-1", "voice": "nova"}}
    )
    assert (taken["tts"]["model"], taken["tts"]["voice"]) == ("tts-1", "nova")


async def test_gateway_display_names_are_sent_as_ids_and_non_chat_models_refused(
    serve: ServeFn,
) -> None:
    llm = RecordingLlm()
    server = await cloud_server(serve, llm)
    sender, receiver = await server.pair()
    error = await refused(
        sender, {"llm": {"provider": "bayer", "model": "Cohere Rerank v3.5"}}, "unsupported_option"
    )
    assert "reranker" in error["message"]
    answer = await updated(sender, {"llm": {"provider": "bayer", "model": "GPT-4o mini"}})
    assert (answer["llm"]["model"], answer["llm"]["requestedModel"]) == (
        "gpt-4o-mini",
        "GPT-4o mini",
    )
    result = await run_turn(sender, receiver, clip(WEATHER))
    check_response(result)
    assert llm.models == ["gpt-4o-mini"]
