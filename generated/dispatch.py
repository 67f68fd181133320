# generated from asyncapi.yaml by codegen — do not edit
"""The server's side of the contract: ClientEventHandler (one method per client event, like a
gRPC servicer) and Emitter (one method per server event). codegen.runtime dispatches."""

import abc

from codegen.runtime import Client, Handler, RoomEmitter

from .events import CONTRACT, Event
from .models import (
    ClientRole,
    CustomError,
    Handshake,
    InputBufferAppend,
    InputBufferCommitted,
    InputBufferInitialized,
    InputSpeechStarted,
    InputSpeechStopped,
    RequestTranscribeDone,
    ResponseAudioDelta,
    ResponseAudioPlayed,
    ResponseCancel,
    ResponseCancelled,
    ResponseText,
    SessionUpdate,
    SessionUpdated,
)


class ClientEventHandler(Handler[Handshake]):
    """Subclass it and wire it with codegen.runtime.register; on_connect and on_disconnect
    come from Handler."""

    contract = CONTRACT

    @abc.abstractmethod
    async def on_session_update(self, client: Client, payload: SessionUpdate) -> None:
        """`session.update` from a client whose role may send it, with a valid payload."""

    @abc.abstractmethod
    async def on_input_buffer_append(self, client: Client, payload: InputBufferAppend) -> None:
        """`input.buffer.append` from a client whose role may send it, with a valid payload."""

    @abc.abstractmethod
    async def on_input_buffer_commit(self, client: Client) -> None:
        """`input.buffer.commit` from a client whose role may send it, without a payload."""

    @abc.abstractmethod
    async def on_response_cancel(self, client: Client, payload: ResponseCancel) -> None:
        """`response.cancel` from a client whose role may send it, with a valid payload."""

    @abc.abstractmethod
    async def on_response_audio_played(self, client: Client, payload: ResponseAudioPlayed) -> None:
        """`response.audio.played` from a client whose role may send it, with a valid payload."""

    @abc.abstractmethod
    async def on_conversation_clear(self, client: Client) -> None:
        """`conversation.clear` from a client whose role may send it, without a payload."""


class Emitter(RoomEmitter):
    """Sends server events; whom each goes to is the contract's x-audience."""

    async def session_updated(self, session_id: str, payload: SessionUpdated) -> None:
        """`session.updated` to the session's sender (x-audience: sender)."""
        await self.emit(Event.SESSION_UPDATED, payload, self.room(session_id, ClientRole.SENDER))

    async def input_buffer_initialized(
        self, session_id: str, payload: InputBufferInitialized
    ) -> None:
        """`input.buffer.initialized` to the session's sender (x-audience: sender)."""
        await self.emit(
            Event.INPUT_BUFFER_INITIALIZED, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def request_transcribe_done(
        self, session_id: str, payload: RequestTranscribeDone
    ) -> None:
        """`request.transcribe.done` to the session's sender (x-audience: sender)."""
        await self.emit(
            Event.REQUEST_TRANSCRIBE_DONE, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def response_text(self, session_id: str, payload: ResponseText) -> None:
        """`response.text` to the session's receivers (x-audience: receivers)."""
        await self.emit(Event.RESPONSE_TEXT, payload, self.room(session_id, ClientRole.RECEIVER))

    async def response_audio_delta(self, session_id: str, payload: ResponseAudioDelta) -> None:
        """`response.audio.delta` to the session's receivers (x-audience: receivers)."""
        await self.emit(
            Event.RESPONSE_AUDIO_DELTA, payload, self.room(session_id, ClientRole.RECEIVER)
        )

    async def custom_error(self, to: str, payload: CustomError) -> None:
        """`custom.error` to one client (its sid) or to a room."""
        await self.emit(Event.CUSTOM_ERROR, payload, to)

    async def input_speech_started(self, session_id: str, payload: InputSpeechStarted) -> None:
        """`input.speech.started` to the session's sender (x-audience: sender)."""
        await self.emit(
            Event.INPUT_SPEECH_STARTED, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def input_speech_stopped(self, session_id: str, payload: InputSpeechStopped) -> None:
        """`input.speech.stopped` to the session's sender (x-audience: sender)."""
        await self.emit(
            Event.INPUT_SPEECH_STOPPED, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def input_buffer_committed(self, session_id: str, payload: InputBufferCommitted) -> None:
        """`input.buffer.committed` to the session's sender (x-audience: sender)."""
        await self.emit(
            Event.INPUT_BUFFER_COMMITTED, payload, self.room(session_id, ClientRole.SENDER)
        )

    async def response_cancelled(self, to: str, payload: ResponseCancelled) -> None:
        """`response.cancelled` to one client (its sid) or to a room."""
        await self.emit(Event.RESPONSE_CANCELLED, payload, to)
