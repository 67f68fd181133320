"""A loopback Amazon Polly endpoint (aiohttp on 127.0.0.1) speaking Polly's REST-JSON protocol.

``POST /v1/speech`` with a JSON body (``Engine``, ``OutputFormat``, ``SampleRate``,
``Text``, ``TextType``, ``VoiceId``) and a SigV4 ``Authorization`` header scoped to
``.../<region>/polly/aws4_request``. The answer is what Polly sends for ``pcm``:
``Content-Type: audio/pcm``, ``x-amzn-RequestCharacters``, and raw PCM16 at 16 kHz
in a chunked body, written piece by piece. The PCM is a real speech clip from
``shared/audio``: the one whose words are the requested text, else a fixed one.

``OutputFormat=json`` with ``SpeechMarkTypes`` asks for speech marks instead of audio (Polly docs,
"Speech marks"): the answer is ``application/x-json-stream``, one JSON object per line, sorted by
time: ``{"time": ms, "type": "word", "start": byte, "end": byte, "value": word}`` and
``{"time": ms, "type": "viseme", "value": letter}``, times in ms from the start of the audio the
same request would make (here: the same clip), ``start``/``end`` byte offsets into the UTF-8
text. Polly's rules: speech marks only in ``json`` (else ``MarksNotSupportedForFormatException``),
``json`` needs at least one of the four types, and the generative engine has none.

Errors are Polly's: an HTTP status, ``x-amzn-ErrorType`` and a JSON ``message``
(``EngineNotSupportedException`` for a voice/engine mismatch, ``ValidationException``
for a bad parameter, ``ThrottlingException``, ``ServiceFailureException``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from aiohttp import web

from tests.fakes.aws_common import (
    LoopbackEndpoint,
    SpeechClip,
    client_hung_up,
    clip,
    sigv4_problem,
    speech_clips,
)

Scenario = Literal["ok", "throttle", "error500", "hang", "stall"]

WRITE_BYTES = 4000
"""Body pieces, deliberately not a multiple of the adapter's read size."""

# The fake's own voice list: a few of Polly's voices with the engines Polly gives
# them, plus one made-up voice newer than the adapter's table, with standard only.
VOICE_ENGINES: dict[str, frozenset[str]] = {
    "Joanna": frozenset({"standard", "neural", "generative", "long-form"}),
    "Matthew": frozenset({"standard", "neural", "generative"}),
    "Kevin": frozenset({"neural"}),
    "Ruth": frozenset({"neural", "generative", "long-form"}),
    "Celine": frozenset({"standard"}),
    "Aditi": frozenset({"standard"}),
    "Hans": frozenset({"standard"}),
    "Jitka": frozenset({"neural"}),
    "Zoltan": frozenset({"standard"}),
}
FALLBACK_CLIP = "hello_how_are_you.wav"
SPEECH_MARK_TYPES = frozenset({"sentence", "ssml", "viseme", "word"})
MARKS_CONTENT_TYPE = "application/x-json-stream"
# The fake's own spelling -> Polly viseme letters (docs, "Visemes and Amazon Polly", English).
LETTER_VISEMES = {
    **dict.fromkeys("bmp", "p"),
    **dict.fromkeys("tdnl", "t"),
    **dict.fromkeys("fv", "f"),
    **dict.fromkeys("kgcqxh", "k"),
    **dict.fromkeys("sz", "s"),
    "j": "S",
    "r": "r",
    "w": "u",
    "y": "i",
    "a": "a",
    "e": "e",
    "i": "i",
    "o": "o",
    "u": "u",
}


@dataclass
class PollyCall:
    headers: dict[str, str]
    body: dict[str, Any]
    scenario: Scenario
    problem: str | None = None
    served: bytes = b""
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the client closed the connection before the body was complete."""


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def clip_for(text: str) -> SpeechClip:
    for candidate in speech_clips():
        if _words(candidate.text) == _words(text):
            return candidate
    return clip(FALLBACK_CLIP)


class FakePolly(LoopbackEndpoint):
    def __init__(self) -> None:
        self.scenarios: list[Scenario] = []
        """What the next calls do, in order; "ok" once empty."""
        self.calls: list[PollyCall] = []
        self.gate: asyncio.Event | None = None
        """When set up, the body stops after its first piece until the test opens the gate."""
        self.pace_s = 0.0
        """A pause between body pieces, as a slower link would make."""
        self.marks_gate: asyncio.Event | None = None
        """When set up, speech marks are answered only once the test opens it."""
        self.marks_served = asyncio.Event()
        """Set when a speech marks answer has been written."""
        super().__init__()

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/speech", self._speech)]

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        scenario = self.scenarios.pop(0) if self.scenarios else "ok"
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = {}
        call = PollyCall(dict(request.headers), body, scenario)
        self.calls.append(call)

        call.problem = sigv4_problem(request.headers.get("Authorization"), "polly")
        if call.problem is not None:
            return _error(403, "UnrecognizedClientException", call.problem)
        call.problem = _parameter_problem(body)
        if call.problem is not None:
            return _error(400, "ValidationException", call.problem)
        if body.get("SpeechMarkTypes") and body["OutputFormat"] != "json":
            return _error(
                400,
                "MarksNotSupportedForFormatException",
                "Speech marks are only available for content in json format.",
            )
        voice, engine = body["VoiceId"], body.get("Engine", "standard")
        if engine not in VOICE_ENGINES[voice]:
            return _error(
                400,
                "EngineNotSupportedException",
                "This voice does not support the selected engine: " + engine,
            )
        if scenario == "throttle":
            return _error(429, "ThrottlingException", "Rate exceeded")
        if scenario == "error500":
            return _error(500, "ServiceFailureException", "An unknown condition occurred.")
        if scenario == "hang":
            await self._closing.wait()
            return _error(500, "ServiceFailureException", "shutting down")

        if body["OutputFormat"] == "json":
            return await self._speech_marks(request, call, body)
        pcm = clip_for(body["Text"]).pcm
        response = web.StreamResponse(
            headers={
                "Content-Type": "audio/pcm",
                "x-amzn-RequestCharacters": str(len(body["Text"])),
                "x-amzn-RequestId": str(uuid.uuid4()),
            }
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(pcm), WRITE_BYTES):
            if client_hung_up(request):
                call.hung_up.set()
                return response
            piece = pcm[start : start + WRITE_BYTES]
            await response.write(piece)
            call.served += piece
            if start == 0 and scenario == "stall":
                await self._closing.wait()
                return response
            if start == 0 and self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.pace_s)
        await response.write_eof()
        return response

    async def _speech_marks(
        self, request: web.Request, call: PollyCall, body: dict[str, Any]
    ) -> web.StreamResponse:
        if body.get("Engine", "standard") == "generative":
            return _error(
                400, "ValidationException", "Speech marks are not supported for generative voices"
            )
        if self.marks_gate is not None:
            await self.marks_gate.wait()
        speech = clip_for(body["Text"])
        lines = speech_marks(body["Text"], set(body["SpeechMarkTypes"]), speech)
        served = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode()
        call.served = served
        self.marks_served.set()
        return web.Response(
            body=served,
            headers={
                "Content-Type": MARKS_CONTENT_TYPE,
                "x-amzn-RequestCharacters": str(len(body["Text"])),
                "x-amzn-RequestId": str(uuid.uuid4()),
            },
        )


def speech_marks(text: str, types: set[str], speech: SpeechClip) -> list[dict[str, Any]]:
    """Word and viseme marks for ``text`` spread over where ``speech`` is voiced."""
    start_ms, end_ms = _voiced_span(speech.pcm, speech.sample_rate)
    words = list(re.finditer(r"[\w']+", text))
    letters = sum(len(w.group()) for w in words) or 1
    marks: list[dict[str, Any]] = []
    at = float(start_ms)
    for word in words:
        length = (end_ms - start_ms) * len(word.group()) / letters
        if "word" in types:
            marks.append(
                {
                    "time": round(at),
                    "type": "word",
                    "start": len(text[: word.start()].encode()),
                    "end": len(text[: word.end()].encode()),
                    "value": word.group(),
                }
            )
        if "viseme" in types:
            step = length / len(word.group())
            for index, letter in enumerate(word.group().lower()):
                viseme = LETTER_VISEMES.get(letter)
                if viseme is not None:
                    marks.append(
                        {"time": round(at + index * step), "type": "viseme", "value": viseme}
                    )
        at += length
    if "viseme" in types:
        marks.append({"time": round(end_ms), "type": "viseme", "value": "sil"})
    return marks


@functools.cache
def _voiced_span(pcm: bytes, rate: int) -> tuple[int, int]:
    """First and last 10 ms frame (ms) louder than a tenth of the loudest. Cached: the fake
    shares the event loop with the server under test, and its own work must not show there."""
    size = rate // 100
    samples = np.frombuffer(pcm, dtype="<i2")[: len(pcm) // 2 // size * size].astype(np.int32)
    levels = np.abs(samples).reshape(-1, size).max(axis=1) if len(samples) else np.zeros(0)
    loud = np.flatnonzero(levels > levels.max(initial=0) / 10)
    if not len(loud):
        return 0, len(levels) * 10
    return int(loud[0]) * 10, (int(loud[-1]) + 1) * 10


def _parameter_problem(body: dict[str, Any]) -> str | None:
    if body.get("OutputFormat") not in ("pcm", "json"):
        return f"OutputFormat {body.get('OutputFormat')!r}: the adapter must ask for pcm or json"
    if body["OutputFormat"] == "json":
        types = body.get("SpeechMarkTypes")
        if not isinstance(types, list) or not 1 <= len(types) <= 4:
            return "SpeechMarkTypes: at least one speech mark type is required for json"
        if not set(types) <= SPEECH_MARK_TYPES:
            return f"Value {types!r} at 'speechMarkTypes' failed to satisfy constraint"
    elif body.get("SampleRate") != "16000":
        return f"SampleRate {body.get('SampleRate')!r}: expected '16000'"
    if body.get("TextType", "text") != "text":
        return f"TextType {body.get('TextType')!r}"
    if not body.get("Text"):
        return "Text is empty"
    if body.get("VoiceId") not in VOICE_ENGINES:
        return f"Value {body.get('VoiceId')!r} at 'voiceId' failed to satisfy constraint"
    if body.get("Engine", "standard") not in {"standard", "neural", "generative", "long-form"}:
        return f"Value {body.get('Engine')!r} at 'engine' failed to satisfy constraint"
    return None


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4())},
    )
