# generated from asyncapi.yaml by codegen — do not edit
"""A typed async client of the contract (the client side of generated/dispatch.py): one method
per client event, and the server's events decoded into the generated models. The connection,
the handshake and decoding are codegen.runtime.client's."""

from typing import TypeAlias

from codegen.runtime.client import DEFAULT_PATH, EventClient

from .events import CONTRACT, Event
from .models import (
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

ServerEvent: TypeAlias = (
    SessionUpdated
    | InputBufferInitialized
    | RequestTranscribeDone
    | ResponseText
    | ResponseAudioDelta
    | CustomError
    | InputSpeechStarted
    | InputSpeechStopped
    | InputBufferCommitted
    | ResponseCancelled
)
"""What ``ChatClient.events()`` yields: one model per server event (connect_error excepted: a
refused handshake makes ``connect`` raise ConnectRefused)."""


class ChatClient(EventClient[ServerEvent]):
    """One Socket.IO connection as a Sender or a Receiver (the handshake's role)."""

    def __init__(
        self,
        url: str,
        handshake: Handshake,
        *,
        path: str = DEFAULT_PATH,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            url, handshake, contract=CONTRACT, path=path, connect_timeout=connect_timeout
        )

    async def session_update(self, payload: SessionUpdate) -> None:
        """`session.update` (sender): A client emits the event to update the session."""
        await self.emit(Event.SESSION_UPDATE, payload)

    async def input_buffer_append(self, payload: InputBufferAppend) -> None:
        """`input.buffer.append` (sender): Sender sends audio chunks to the Server."""
        await self.emit(Event.INPUT_BUFFER_APPEND, payload)

    async def input_buffer_commit(self) -> None:
        """`input.buffer.commit` (sender): The Sender signalize the process of streaming audio is
        completed."""
        await self.emit(Event.INPUT_BUFFER_COMMIT, None)

    async def response_cancel(self, payload: ResponseCancel) -> None:
        """`response.cancel` (sender): The Sender stops the response in flight (or the one still
        playing)."""
        await self.emit(Event.RESPONSE_CANCEL, payload)

    async def response_audio_played(self, payload: ResponseAudioPlayed) -> None:
        """`response.audio.played` (receivers): A Receiver says how much of a response the avatar
        played."""
        await self.emit(Event.RESPONSE_AUDIO_PLAYED, payload)

    async def conversation_clear(self) -> None:
        """`conversation.clear` (sender): The Sender starts the conversation afresh."""
        await self.emit(Event.CONVERSATION_CLEAR, None)
