"""A local fake of Mistral's transcription API for the real ``mistralai`` SDK.

``POST /v1/audio/transcriptions`` (multipart: ``model``, ``file``, optional ``language``...),
bearer auth, answers ``{"model", "text", "language", "segments", "usage"}`` where ``text`` is the
manifest text of the shared recording inside the uploaded WAV (empty when it holds none).
Errors use Mistral's shape ``{"object": "error", "message", "type", "param", "code"}``.
It shares the request log and faults of ``tests.fakes.openai_api.FakeHttpApi``.

Usage::

    async with FakeMistralApi() as fake:
        env = {"MISTRAL_API_KEY": fake.api_key, "MISTRAL_BASE_URL": fake.url}
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from aiohttp import web

from handlers.audio import AudioFormatError, parse_wav
from tests.fakes.openai_api import SHARED_AUDIO, Call, FakeHttpApi, SpeechClips, words

# What the transcription endpoint serves (docs.mistral.ai): Voxtral Mini Transcribe under its
# "latest" and dated names, and the Voxtral 3 transcribe models. voxtral-small-latest is the
# chat model and is not among them.
MISTRAL_TRANSCRIPTION_MODELS = frozenset(
    {
        "voxtral-mini-latest",
        "voxtral-mini-2507",
        "voxtral-mini-2602",
        "voxtral-mini-transcribe-latest",
        "voxtral-mini-transcribe-3",
        "voxtral-mini-transcribe-3-0",
        "voxtral-small-transcribe-latest",
        "voxtral-small-transcribe-3",
        "voxtral-small-transcribe-3-0",
    }
)


class FakeMistralApi(FakeHttpApi):
    def __init__(
        self, *, api_key: str = "mistral-test-key-0123456789", audio_dir: Path = SHARED_AUDIO
    ) -> None:
        super().__init__(api_key=api_key)
        self.clips = SpeechClips(audio_dir)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/audio/transcriptions", self.admit(self._transcription))]

    def error(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        body = {
            "object": "error",
            "message": message,
            "type": kind or ("rate_limited" if status == 429 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
        return web.json_response(body, status=status, headers=headers)

    async def _transcription(self, call: Call) -> web.StreamResponse:
        recorded = call.recorded
        if recorded.bearer_token != self.api_key:
            return self.error(401, "Unauthorized", kind="unauthorized")
        model = recorded.form.get("model", "")
        if model not in MISTRAL_TRANSCRIPTION_MODELS:
            return self.error(400, f"Invalid model: {model}", kind="invalid_model", code="1500")
        language = recorded.form.get("language")
        if language is not None and not re.fullmatch(r"[a-z]{2}", language):
            return self.error(400, f"Invalid language: {language}", param="language")
        upload = recorded.files.get("file")
        if upload is None:
            return self.error(400, "One of file, file_url or file_id is required", param="file")
        try:
            pcm, rate = parse_wav(upload.data)
        except AudioFormatError:
            return self.error(400, "Invalid audio file: not a 16-bit PCM WAV", param="file")
        seconds = len(pcm) / 2 / rate
        text = self.clips.identify(pcm, rate) or ""
        output_tokens = len(words(text)) if text else 0
        return web.json_response(
            {
                "model": model,
                "text": text,
                "language": language,
                "segments": [],
                "usage": {
                    "prompt_audio_seconds": round(seconds),
                    "prompt_tokens": 4,
                    "completion_tokens": output_tokens,
                    "total_tokens": 4 + output_tokens,
                },
            },
            headers={"x-kong-request-id": uuid.uuid4().hex},
        )
