"""Google Cloud Speech-to-Text v1 streaming recognition (gRPC, ``google-cloud-speech``).

v1 rather than v2: v2 addresses a recognizer resource (``projects/{project}/locations/...``), so it
would need a project id on top of the credentials, and it offers nothing this turn-based use needs.

The audio is sent while the person speaks (config first, then LINEAR16 16 kHz chunks as they
arrive); when the client commits, the request stream is half-closed and the final results are
joined. The audio sent is kept for the turn, so a transient failure (UNAVAILABLE,
RESOURCE_EXHAUSTED, ...) is retried by replaying it on a new stream: a stream cannot be resumed,
and api_core's retry cannot replay a request iterator that has been consumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Self

from google.cloud import speech_v1
from google.cloud.speech_v1.services.speech.transports import SpeechGrpcAsyncIOTransport

from handlers.audio import Pcm16Resampler
from handlers.providers.base import (
    CallPolicy,
    ProviderError,
    SttRequest,
    Transcript,
)
from handlers.providers.google_common import (
    GOOGLE_ERRORS,
    GoogleConnection,
    google_error,
    loop_bound_client,
)
from handlers.providers.retry import backoff_delay

RECOGNITION_SAMPLE_RATE = 16000
MODELS: dict[str, str] = {
    "default": "",  # unset: Google picks its default model for the language
    "latest_short": "latest_short",
    "latest_long": "latest_long",
}
"""The contract's model names and what goes in RecognitionConfig.model."""
# Half a second of 16 kHz PCM16 per message, well inside the per-message audio limit.
MAX_CHUNK_BYTES = 16000


class _ReplayableAudio:
    """The turn's audio, converted to 16 kHz as it is read and kept for a retried stream.

    The source is read by a task of its own, shielded from the gRPC request task: cancelling a
    failed call must not throw CancelledError into the caller's iterator (which would end it and
    silently cut the audio short for the retry).
    """

    def __init__(self, source: AsyncIterator[bytes], sample_rate: int) -> None:
        self._source = source
        self._resampler = Pcm16Resampler(sample_rate, RECOGNITION_SAMPLE_RATE)
        self._chunks: list[bytes] = []
        self._pending: asyncio.Task[bytes | None] | None = None
        self.finished = False
        self.source_error: BaseException | None = None
        self.on_finished: Callable[[], None] | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        """All audio kept so far, then the rest as it arrives."""
        index = 0
        while True:
            if index < len(self._chunks):
                index += 1
                yield self._chunks[index - 1]
            elif self.finished:
                return
            else:
                await self._read_source()

    async def _next_source_chunk(self) -> bytes | None:
        return await anext(self._source, None)

    async def _read_source(self) -> None:
        if self._pending is None:
            self._pending = asyncio.create_task(self._next_source_chunk())
        pending = self._pending
        try:
            pcm = await asyncio.shield(pending)
        except Exception as exc:
            # Raised in gRPC's request task, where it would only cancel the call: kept so
            # that transcribe() re-raises the caller's own error instead of a gRPC one.
            self.source_error = exc
            raise
        if self._pending is not pending:
            return  # a reader of an abandoned attempt got here first and kept it
        self._pending = None
        if pcm is None:
            self._keep(self._resampler.process(b"", last=True))
            self.finished = True
            if self.on_finished is not None:
                self.on_finished()
        else:
            self._keep(self._resampler.process(pcm))

    def _keep(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), MAX_CHUNK_BYTES):
            self._chunks.append(pcm[start : start + MAX_CHUNK_BYTES])

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()


class GoogleSpeechToText:
    def __init__(self, connection: GoogleConnection, policy: CallPolicy) -> None:
        self._policy = policy
        self._clients = loop_bound_client(
            connection, speech_v1.SpeechAsyncClient, SpeechGrpcAsyncIOTransport
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(GoogleConnection.from_env(env, "GOOGLE_STT_ENDPOINT"), CallPolicy.from_env(env))

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def transcribe(self, audio: AsyncIterator[bytes], request: SttRequest) -> Transcript:
        model = MODELS.get(request.model)
        if model is None:
            raise ProviderError(f"unknown Google speech-to-text model {request.model!r}")
        config = speech_v1.StreamingRecognitionConfig(
            config=speech_v1.RecognitionConfig(
                encoding=speech_v1.RecognitionConfig.AudioEncoding.LINEAR16,
                sample_rate_hertz=RECOGNITION_SAMPLE_RATE,
                language_code=request.language,
                model=model,
                enable_automatic_punctuation=True,
            ),
            # Only the final transcript is used: no interim results on the wire.
            interim_results=False,
        )
        replayable = _ReplayableAudio(audio, request.sample_rate)
        attempt = 0
        try:
            while True:
                try:
                    finals = await self._recognize_once(replayable, config)
                except ProviderError as error:
                    if replayable.source_error is not None:
                        raise replayable.source_error from None
                    attempt += 1
                    if not error.transient or attempt > self._policy.max_retries:
                        raise
                    await asyncio.sleep(backoff_delay(attempt))
                    continue
                if replayable.source_error is not None:
                    raise replayable.source_error
                return Transcript(" ".join(finals), language=request.language)
        finally:
            replayable.close()

    async def _recognize_once(
        self, audio: _ReplayableAudio, config: speech_v1.StreamingRecognitionConfig
    ) -> list[str]:
        async def requests() -> AsyncIterator[speech_v1.StreamingRecognizeRequest]:
            yield speech_v1.StreamingRecognizeRequest(streaming_config=config)
            async for pcm in audio.chunks():
                yield speech_v1.StreamingRecognizeRequest(audio_content=pcm)

        client = self._clients.get()
        loop = asyncio.get_running_loop()
        finals: list[str] = []
        call: Any = None
        try:
            # The person may speak for a long while: the timeout starts once all audio is sent.
            async with asyncio.timeout(None) as deadline:

                def start_deadline() -> None:
                    deadline.reschedule(loop.time() + self._policy.timeout_s)

                audio.on_finished = start_deadline
                if audio.finished:
                    start_deadline()
                call = await client.streaming_recognize(
                    requests=requests(), retry=None, timeout=None
                )
                async for response in call:
                    if response.error.code:
                        raise ProviderError(
                            f"Google speech-to-text failed: {response.error.message}"
                        )
                    for result in response.results:
                        if result.is_final and result.alternatives:
                            text = result.alternatives[0].transcript.strip()
                            if text:
                                finals.append(text)
        except TimeoutError as exc:
            raise ProviderError(
                f"Google speech-to-text timed out after {self._policy.timeout_s:g} s",
                transient=True,
            ) from exc
        except GOOGLE_ERRORS as exc:
            raise google_error(exc, "Google speech-to-text") from exc
        except asyncio.CancelledError:
            # grpc.aio cancels the call when the request iterator raises, and the response
            # iterator then raises CancelledError although this task was not cancelled.
            task = asyncio.current_task()
            if audio.source_error is not None and task is not None and not task.cancelling():
                raise audio.source_error from None
            raise
        finally:
            audio.on_finished = None
            if call is not None:
                call.cancel()  # a no-op once finished; stops the request task otherwise
        return finals
