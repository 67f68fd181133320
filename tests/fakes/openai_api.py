"""A local fake of the OpenAI HTTP API (and of the APIs shaped like it), for the real SDKs.

One aiohttp app on ``127.0.0.1`` at a random port serves, in the real wire format:

* ``POST /v1/chat/completions``: ``data: {chat.completion.chunk}`` SSE lines, then
  ``data: [DONE]`` (or one ``chat.completion`` JSON when ``stream`` is false);
* the same under ``/{gateway}/v1/chat/completions`` (OpenAI-compatible gateways);
* ``POST /openai/deployments/{deployment}/chat/completions?api-version=...`` (Azure OpenAI:
  ``api-key`` header, a first chunk with no choices carrying prompt-filter results);
* ``POST /v1/audio/speech``: raw 24 kHz PCM16 streamed in pieces of odd sizes, cut from a real
  recording (``speech_pcm``);
* ``POST /v1/audio/transcriptions``: multipart; the upload must be a 16-bit WAV and the answer is
  the manifest text of the shared recording it contains (empty when it contains none), as JSON or,
  for ``stream=true`` on the gpt-4o models, as ``transcript.text.delta/done`` SSE events.

The fake enforces what the real API enforces where adapters can get it wrong: the bearer key,
model names, ISO-639-1 language codes, reasoning models refusing ``temperature``/``max_tokens``.
Every request is logged in ``requests`` (path, query, headers, JSON body or form fields and
files) and ``inject(Fault(...))`` makes the next requests fail (status, delay, a cut stream).

Usage::

    async with FakeOpenAIApi() as fake:
        env = {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.url + "/v1"}
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
from aiohttp import web
from multidict import MultiDictProxy

from handlers.audio import AudioFormatError, parse_wav, resample_pcm16
from tests.data import SPEECH_DIR

SHARED_AUDIO = SPEECH_DIR

CHAT_REASONING_MODEL = re.compile(r"^(o\d(-|$)|gpt-5|codex-mini)")
CHAT_NO_SYSTEM_MODEL = re.compile(r"^o1-(mini|preview)")
# The SDK's ``AudioModel`` (openai-python 3.57, types/audio/transcription_create_params.py).
TRANSCRIPTION_MODELS = frozenset(
    {
        "gpt-transcribe",
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe-diarize",
    }
)
STREAMING_TRANSCRIPTION_MODELS = TRANSCRIPTION_MODELS - {"whisper-1"}
SPEECH_MODELS = frozenset(
    {
        "tts-1",
        "tts-1-hd",
        "gpt-4o-mini-tts",
        "gpt-4o-mini-tts-2025-03-20",
        "gpt-4o-mini-tts-2025-12-15",
    }
)
SPEECH_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"}
    | {"verse", "marin", "cedar"}
)
# tts-1 and tts-1-hd take the first nine voices only (OpenAI text-to-speech guide, "Voice
# options"; a 400 for ballad on tts-1 was reported live, anasfik/openai#224).
TTS_1_VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")
SPEECH_VOICES_BY_MODEL = {"tts-1": TTS_1_VOICES, "tts-1-hd": TTS_1_VOICES}
# Chat models past their shutdown date answer 404 model_not_found (OpenAI deprecations page:
# 2026-10-23 shutdowns of the GPT-3.5/GPT-4 family, o1 and o3-mini; 2026-12-11 gpt-5 and o3;
# 2027-01-14 gpt-4o/gpt-4.1 snapshots). Written from the page, not from lifecycle.yaml.
CHAT_SHUTDOWNS: dict[str, dt.date] = {
    **dict.fromkeys(
        (
            "gpt-3.5-turbo", "gpt-3.5-turbo-0125", "gpt-3.5-turbo-1106", "gpt-4", "gpt-4-0613",
            "gpt-4-turbo", "gpt-4-turbo-2024-04-09", "gpt-4-1106-preview", "gpt-4o-2024-05-13",
            "o1", "o1-2024-12-17", "o3-mini", "o3-mini-2025-01-31", "o4-mini",
            "o4-mini-2025-04-16", "gpt-4.1-nano",
        ),
        dt.date(2026, 10, 23),
    ),
    **dict.fromkeys(("gpt-5", "gpt-5-mini", "o3", "o3-2025-04-16"), dt.date(2026, 12, 11)),
    **dict.fromkeys(
        ("gpt-4o", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4.1", "gpt-4.1-mini"),
        dt.date(2027, 1, 14),
    ),
}  # fmt: skip
# o3 streams only for verified organisations (OpenAI help center; 400 reported in
# chatboxai/chatbox#2263 and BeehiveInnovations/pal-mcp-server#134, wire text below).
STREAM_NEEDS_VERIFICATION = re.compile(r"^o3(-\d{4}-\d{2}-\d{2})?$")
UNVERIFIED_STREAM_MESSAGE = (
    "Your organization must be verified to stream this model. Please go to: "
    "https://platform.openai.com/settings/organization/general and click on Verify "
    "Organization. If you just verified, it can take up to 15 minutes for access to propagate."
)
# Azure OpenAI serves o-series (and gpt-5) deployments from api-version 2024-12-01-preview on
# (learn.microsoft.com "Azure OpenAI reasoning models"; 400 text from
# Azure-Samples/azure-search-openai-demo#2496).
AZURE_REASONING_MIN_API_VERSION = "2024-12-01"
SPEECH_FORMATS = frozenset({"mp3", "opus", "aac", "flac", "wav", "pcm"})
SPEECH_RATE = 24_000
AUDIO_EXTENSIONS = (".flac", ".mp3", ".mp4", ".mpeg", ".mpga", ".m4a", ".ogg", ".wav", ".webm")


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-case names."""
    match: dict[str, str] = field(default_factory=dict)
    """Path parameters (``deployment``, ``gateway``)."""
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    @property
    def bearer_token(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class Fault:
    """How to spoil a matching request: wait, answer with an error status, or cut the stream."""

    status: int | None = None
    """Answer with this HTTP error status instead of the real answer."""
    delay_s: float = 0.0
    """Wait this long before answering (longer than the client's timeout: a timeout)."""
    retry_after_ms: int | None = None
    """Send ``retry-after-ms`` with the error (the OpenAI SDK honours it; keeps tests fast)."""
    cut_after_pieces: int | None = None
    """Answer normally but drop the connection after this many streamed pieces."""
    error_after_pieces: int | None = None
    """Answer normally, but after this many streamed pieces send an error event (a chunk that
    is ``{"error": {...}}``, as OpenAI's streams do when the server fails mid-answer; the SDK's
    own stream raises it as an ``APIError``) and end the stream."""
    path_contains: str = ""


@dataclass
class _PendingFault:
    fault: Fault
    remaining: int | None


class SpeechClips:
    """The shared speech recordings, to recognise the audio inside an upload honestly."""

    def __init__(self, audio_dir: Path = SHARED_AUDIO) -> None:
        manifest = json.loads((audio_dir / "manifest.json").read_text())
        self.clips: dict[str, tuple[str, bytes, int]] = {}
        for entry in manifest:
            pcm, rate = parse_wav((audio_dir / entry["file"]).read_bytes())
            self.clips[entry["file"]] = (entry["text"], pcm, rate)

    def pcm(self, name: str, rate: int | None = None) -> bytes:
        _, pcm, clip_rate = self.clips[name]
        return pcm if rate is None else resample_pcm16(pcm, clip_rate, rate)

    def text(self, name: str) -> str:
        return self.clips[name][0]

    def identify(self, pcm: bytes, rate: int) -> str | None:
        """The text of the recording ``pcm`` holds (bit-exact, or resampled from it), or None."""
        for text, clip, clip_rate in self.clips.values():
            if rate == clip_rate and pcm == clip:
                return text
        best: tuple[float, str] | None = None
        for text, clip, clip_rate in self.clips.values():
            candidate = np.frombuffer(resample_pcm16(pcm, rate, clip_rate), dtype="<i2")
            reference = np.frombuffer(clip, dtype="<i2")
            if abs(len(candidate) - len(reference)) > max(8, len(reference) // 100):
                continue
            n = min(len(candidate), len(reference))
            a = candidate[:n].astype(np.float64)
            b = reference[:n].astype(np.float64)
            denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
            if denominator == 0:
                continue
            similarity = float(np.dot(a, b)) / denominator
            if similarity > 0.95 and (best is None or similarity > best[0]):
                best = (similarity, text)
        return best[1] if best else None


@dataclass
class Call:
    """One request as a handler sees it: the aiohttp request, its log entry, its fault."""

    request: web.Request
    recorded: RecordedRequest
    fault: Fault | None


CallHandler = Callable[[Call], Awaitable[web.StreamResponse]]


class FakeHttpApi:
    """Base of the fakes: start/stop, a request log, injectable faults, interruptible waits."""

    def __init__(self, *, api_key: str = "sk-test-fake-key-0123456789") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._faults: list[_PendingFault] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.stream_pause_s = 0.0
        """The least pause between streamed pieces (a slow link: lets a test stop early)."""
        self.hung_up = asyncio.Event()
        """Set when the fake sees a client leave before its answer was complete."""

    # --- lifecycle -------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash."""
        if self._runner is None:
            raise RuntimeError("the fake is not started")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024**2)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- faults and log --------------------------------------------------------------------

    def inject(self, fault: Fault, times: int | None = 1) -> None:
        """Spoil the next ``times`` matching requests (``None``: all of them)."""
        self._faults.append(_PendingFault(fault, times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def _take_fault(self, path: str) -> Fault | None:
        for pending in self._faults:
            if pending.fault.path_contains in path and pending.remaining != 0:
                if pending.remaining is not None:
                    pending.remaining -= 1
                return pending.fault
        return None

    async def pause(self, seconds: float, request: web.Request | None = None) -> None:
        """Sleep, but end early when the fake stops or the client of ``request`` leaves."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._closing.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            if request is not None and self.noticed_hang_up(request):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), min(left, 0.01))

    def noticed_hang_up(self, request: web.Request) -> bool:
        """Whether the client of ``request`` has closed its connection (and note it if so)."""
        if request.transport is None or request.transport.is_closing():
            self.hung_up.set()
            return True
        return False

    async def _record(self, request: web.Request) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            match=dict(request.match_info),
        )
        content_type = request.content_type
        if content_type == "application/json":
            recorded.json = await request.json()
        elif content_type == "multipart/form-data":
            form: MultiDictProxy[Any] = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    recorded.files[name] = UploadedFile(
                        value.filename, value.content_type, value.file.read()
                    )
                else:
                    recorded.form[name] = str(value)
        self.requests.append(recorded)
        return recorded

    def admit(self, handler: CallHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap a route handler: log the request, then apply the first matching fault."""

        async def admitted(request: web.Request) -> web.StreamResponse:
            recorded = await self._record(request)
            fault = self._take_fault(request.path)
            if fault is not None:
                if fault.delay_s:
                    await self.pause(fault.delay_s, request)
                    if self.noticed_hang_up(request):
                        # The client gave up waiting; answering would only log write errors.
                        return web.Response(status=499)
                if fault.status is not None:
                    headers = {}
                    if fault.retry_after_ms is not None:
                        headers["retry-after-ms"] = str(fault.retry_after_ms)
                    return self.error(
                        fault.status, f"injected fault {fault.status}", headers=headers
                    )
            return await handler(Call(request, recorded, fault))

        return admitted

    # --- answers ---------------------------------------------------------------------------

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
        """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
        if kind is None:
            kind = {
                401: "invalid_request_error",
                429: "requests",
                500: "server_error",
                503: "server_error",
            }.get(status, "invalid_request_error")
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        return web.json_response(
            body,
            status=status,
            headers={"x-request-id": f"req_{uuid.uuid4().hex}", **(headers or {})},
        )

    def check_bearer(self, call: Call) -> web.Response | None:
        token = call.recorded.bearer_token or ""
        if token != self.api_key:
            # Like OpenAI, echo the wrong key masked: adapters must not pass even this on.
            masked = token[:3] + "*" * max(0, len(token) - 7) + token[-4:]
            return self.error(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    async def stream(
        self,
        call: Call,
        pieces: Iterable[bytes],
        *,
        content_type: str,
        pause_s: float = 0.0,
    ) -> web.StreamResponse:
        """Send ``pieces`` as separate chunked-encoding writes (cut short if a fault says so)."""
        request, fault = call.request, call.fault
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "x-request-id": f"req_{uuid.uuid4().hex}"}
        )
        await response.prepare(request)
        for index, piece in enumerate(pieces):
            if fault is not None and fault.cut_after_pieces == index:
                assert request.transport is not None
                request.transport.abort()
                return response
            if fault is not None and fault.error_after_pieces == index:
                failure = {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
                await response.write(sse({"error": failure}))
                break
            if self.noticed_hang_up(request):
                return response
            try:
                await response.write(piece)
            except ConnectionError:
                self.hung_up.set()
                return response
            if max(pause_s, self.stream_pause_s):
                await asyncio.sleep(max(pause_s, self.stream_pause_s))
        await response.write_eof()
        return response


def sse(data: object) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def words(text: str) -> list[str]:
    """Token-like pieces: each word with the space before it."""
    return re.findall(r"\s*\S+", text) or [text]


class FakeOpenAIApi(FakeHttpApi):
    def __init__(
        self, *, api_key: str = "sk-test-fake-key-0123456789", audio_dir: Path = SHARED_AUDIO
    ) -> None:
        super().__init__(api_key=api_key)
        self.clips = SpeechClips(audio_dir)
        self.chat_reply: str | None = None
        """The assistant's answer; None: "You said: <last user message>"."""
        self.speech_clip = "hello_how_are_you.wav"
        self.speech_pcm = self.clips.pcm(self.speech_clip, SPEECH_RATE)
        """The exact PCM every speech request gets (24 kHz 16-bit LE mono)."""
        self.speech_piece_sizes: tuple[int, ...] = (4097, 1, 3, 8191, 2, 1001)
        """Sizes of the streamed speech pieces, cycled: odd, so pieces split samples."""
        self.speech_piece_pause_s = 0.002
        """Pause between pieces, so that the client reads them separately."""
        self.azure_deployments: frozenset[str] | None = None
        """Deployments that exist; None: any name does."""
        self.today = dt.date(2026, 11, 30)
        """The date the shutdown rules are applied on."""
        self.verified_organization = False
        """Whether the key's organisation is verified (o3 streams only then)."""
        self.reasoning_tokens = 1024
        """Completion tokens a reasoning model spends thinking before its visible reply."""
        self.azure_async_filter = False
        """Azure's asynchronous content filter: filter results in chunks with no delta."""
        self.model_ids_only_gateways = frozenset({"bayer"})
        """Gateways that take model ids only (myGenAssist): a display name is not a model."""

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/chat/completions", self.admit(self._chat)),
            web.post("/{gateway}/v1/chat/completions", self.admit(self._chat)),
            web.post(
                "/openai/deployments/{deployment}/chat/completions", self.admit(self._azure_chat)
            ),
            web.post("/v1/audio/speech", self.admit(self._speech)),
            web.post("/v1/audio/transcriptions", self.admit(self._transcription)),
        ]

    # --- chat ------------------------------------------------------------------------------

    async def _chat(self, call: Call) -> web.StreamResponse:
        denied = self.check_bearer(call)
        if denied is not None:
            return denied
        body = call.recorded.json
        model = body.get("model") if isinstance(body, dict) else None
        if isinstance(model, str):
            gateway = call.recorded.match.get("gateway")
            shutdown = CHAT_SHUTDOWNS.get(model)
            if gateway is None and shutdown is not None and shutdown <= self.today:
                return self.model_not_found(model)
            if gateway in self.model_ids_only_gateways and re.search(r"[A-Z\s]", model):
                return self.model_not_found(model)
            if (
                gateway is None
                and body.get("stream")
                and STREAM_NEEDS_VERIFICATION.match(model)
                and not self.verified_organization
            ):
                return self.error(
                    400, UNVERIFIED_STREAM_MESSAGE, param="stream", code="unsupported_value"
                )
        return await self._chat_answer(call, azure=False)

    async def _azure_chat(self, call: Call) -> web.StreamResponse:
        recorded = call.recorded
        if "api-version" not in recorded.query:
            return self.error(404, "Resource not found", code="404")
        if recorded.headers.get("api-key") != self.api_key:
            return self.error(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint.",
                code="401",
            )
        deployment = recorded.match["deployment"]
        if self.azure_deployments is not None and deployment not in self.azure_deployments:
            return self.error(
                404,
                "The API deployment for this resource does not exist.",
                code="DeploymentNotFound",
            )
        version = recorded.query["api-version"]
        if (
            CHAT_REASONING_MODEL.match(deployment)
            and version[:10] < AZURE_REASONING_MIN_API_VERSION
        ):
            return web.json_response(
                {
                    "error": {
                        "code": "BadRequest",
                        "message": f"Model {deployment} is enabled only for api versions "
                        "2024-12-01-preview and later",
                    }
                },
                status=400,
            )
        return await self._chat_answer(call, azure=True)

    def model_not_found(self, model: str) -> web.Response:
        """OpenAI's answer for a model that does not exist (or no longer does)."""
        return self.error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    def reply_for(self, messages: list[dict[str, Any]]) -> str:
        if self.chat_reply is not None:
            return self.chat_reply
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return f"You said: {users[-1] if users else ''}"

    def _chat_problem(self, body: Any) -> web.Response | None:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("model"), str)
            or not body["model"]
        ):
            return self.error(400, "you must provide a model parameter", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "'messages' must contain at least one message", param="messages")
        roles = {"system", "developer", "user", "assistant", "tool"}
        for index, message in enumerate(messages):
            if message.get("role") not in roles or not isinstance(message.get("content"), str):
                return self.error(400, f"Invalid message at messages[{index}]", param="messages")
        model = "-".join(body["model"].lower().split())
        if CHAT_REASONING_MODEL.match(model):
            if body.get("temperature") not in (None, 1):
                return self.error(
                    400,
                    f"Unsupported value: 'temperature' does not support {body['temperature']} "
                    "with this model. Only the default (1) value is supported.",
                    param="temperature",
                    code="unsupported_value",
                )
            if "max_tokens" in body:
                return self.error(
                    400,
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    param="max_tokens",
                    code="unsupported_parameter",
                )
        if CHAT_NO_SYSTEM_MODEL.match(model):
            for index, message in enumerate(messages):
                if message["role"] in ("system", "developer"):
                    return self.error(
                        400,
                        f"Unsupported value: 'messages[{index}].role' does not support "
                        f"'{message['role']}' with this model.",
                        param=f"messages[{index}].role",
                        code="unsupported_value",
                    )
        return None

    async def _chat_answer(self, call: Call, *, azure: bool) -> web.StreamResponse:
        body = call.recorded.json
        problem = self._chat_problem(body)
        if problem is not None:
            return problem
        model: str = body["model"]
        reply = self.reply_for(body["messages"])
        finish_reason = "stop"
        budget = body.get("max_completion_tokens")
        if CHAT_REASONING_MODEL.match(model) and isinstance(budget, int):
            # Hidden reasoning is paid from max_completion_tokens first: a small budget ends
            # in finish_reason "length" and an empty (or cut) visible reply.
            visible = max(0, budget - self.reasoning_tokens)
            if visible < len(words(reply)):
                reply, finish_reason = "".join(words(reply)[:visible]), "length"
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        usage = {
            "prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
            "completion_tokens": len(words(reply)),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                }
            )

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            return sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                }
            )

        pieces: list[bytes] = []
        if azure:
            filters = {
                name: {"filtered": False, "severity": "safe"}
                for name in ("hate", "self_harm", "sexual", "violence")
            }
            pieces.append(
                sse(
                    {
                        "choices": [],
                        "created": 0,
                        "id": "",
                        "model": "",
                        "object": "",
                        "prompt_filter_results": [
                            {"prompt_index": 0, "content_filter_results": filters}
                        ],
                    }
                )
            )
        pieces.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        pieces.extend(chunk({"content": token}) for token in (words(reply) if reply else []))
        pieces.append(chunk({}, finish_reason))
        if azure and self.azure_async_filter:
            # The asynchronous filter's verdict comes after the content it covers, in a choice
            # with no delta (openai/openai-python#1677, langchain-ai/langchain#18977).
            size = len(reply)
            pieces.append(
                sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": None,
                                "content_filter_results": {
                                    "hate": {"filtered": False, "severity": "safe"}
                                },
                                "content_filter_offsets": {
                                    "check_offset": 0,
                                    "start_offset": 0,
                                    "end_offset": size,
                                },
                            }
                        ],
                    }
                )
            )
        if (body.get("stream_options") or {}).get("include_usage"):
            pieces.append(
                sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        pieces.append(b"data: [DONE]\n\n")
        return await self.stream(call, pieces, content_type="text/event-stream")

    # --- speech ----------------------------------------------------------------------------

    def speech_pieces(self) -> list[bytes]:
        pieces: list[bytes] = []
        offset = 0
        index = 0
        while offset < len(self.speech_pcm):
            size = self.speech_piece_sizes[index % len(self.speech_piece_sizes)]
            pieces.append(self.speech_pcm[offset : offset + size])
            offset += size
            index += 1
        return pieces

    async def _speech(self, call: Call) -> web.StreamResponse:
        denied = self.check_bearer(call)
        if denied is not None:
            return denied
        body = call.recorded.json
        if not isinstance(body, dict):
            return self.error(400, "We could not parse the JSON body of your request.")
        model, voice, text = body.get("model"), body.get("voice"), body.get("input")
        response_format = body.get("response_format", "mp3")
        if model not in SPEECH_MODELS:
            return self.model_not_found(str(model))
        voices = SPEECH_VOICES_BY_MODEL.get(str(model), tuple(sorted(SPEECH_VOICES)))
        if voice not in voices:
            # The shape of the API's validation error (openai/openai-node#1284).
            expected = ", ".join(f"'{v}'" for v in voices)
            return self.error(
                400,
                f"[{{'type': 'enum', 'loc': ('body', 'voice'), 'msg': \"Input should be "
                f"{expected}\", 'input': {voice!r}, 'ctx': {{'expected': \"{expected}\"}}}}]",
            )
        if not isinstance(text, str) or not text or len(text) > 4096:
            return self.error(400, "'input' must be 1 to 4096 characters", param="input")
        if response_format not in SPEECH_FORMATS:
            return self.error(400, f"Invalid response_format {response_format!r}.")
        if response_format != "pcm":
            return self.error(400, "this fake serves response_format 'pcm' only")
        speed = body.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            return self.error(400, f"Invalid speed {speed!r}: must be 0.25 to 4.0.", param="speed")
        if "instructions" in body and not str(model).startswith("gpt-4o-mini-tts"):
            return self.error(400, "Instructions are not supported for this model.")
        return await self.stream(
            call, self.speech_pieces(), content_type="audio/pcm", pause_s=self.speech_piece_pause_s
        )

    # --- transcription ---------------------------------------------------------------------

    def uploaded_speech(self, recorded: RecordedRequest) -> tuple[str, float] | web.Response:
        """(the text of the uploaded recording or "", its seconds), or an error answer."""
        upload = recorded.files.get("file")
        if upload is None:
            return self.error(400, "Missing required parameter: 'file'.", param="file")
        if not upload.filename.lower().endswith(AUDIO_EXTENSIONS):
            return self.error(400, "Unrecognized file format.", param="file")
        try:
            pcm, rate = parse_wav(upload.data)
        except AudioFormatError:
            return self.error(400, "Invalid file format. Not a 16-bit PCM WAV.", param="file")
        seconds = len(pcm) / 2 / rate
        if seconds < 0.1:
            return self.error(
                400,
                "Audio file is too short. Minimum audio length is 0.1 seconds.",
                code="audio_too_short",
                param="file",
            )
        return self.clips.identify(pcm, rate) or "", seconds

    async def _transcription(self, call: Call) -> web.StreamResponse:
        denied = self.check_bearer(call)
        if denied is not None:
            return denied
        recorded = call.recorded
        model = recorded.form.get("model", "")
        if model not in TRANSCRIPTION_MODELS:
            return self.error(400, f"Invalid model {model!r}.", code="invalid_value", param="model")
        language = recorded.form.get("language")
        if language is not None and not re.fullmatch(r"[a-z]{2}", language):
            return self.error(
                400,
                f"Invalid language '{language}'. Language parameter must be specified in "
                "ISO-639-1 format.",
                code="invalid_language_format",
                param="language",
            )
        heard = self.uploaded_speech(recorded)
        if isinstance(heard, web.Response):
            return heard
        text, seconds = heard
        input_tokens, output_tokens = int(seconds * 10), len(words(text)) if text else 0
        tokens = {
            "type": "tokens",
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        streamed = recorded.form.get("stream") == "true" and model in STREAMING_TRANSCRIPTION_MODELS
        if not streamed:
            usage = (
                {"type": "duration", "seconds": round(seconds)} if model == "whisper-1" else tokens
            )
            return web.json_response({"text": text, "usage": usage})
        pieces = [
            sse({"type": "transcript.text.delta", "delta": token, "logprobs": []})
            for token in (words(text) if text else [])
        ]
        pieces.append(sse({"type": "transcript.text.done", "text": text, "usage": tokens}))
        return await self.stream(call, pieces, content_type="text/event-stream")
