# generated from asyncapi.yaml by codegen — do not edit
"""Event names and the operation table of the contract (walked by codegen.runtime)."""

import enum
from typing import Final

from codegen.runtime import Audience, Direction, Operation, OperationTable

from .models import (
    ClientRole,
    ConnectError,
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


class Event(enum.StrEnum):
    """Socket.IO event names (the channel addresses)."""

    SESSION_UPDATE = "session.update"
    SESSION_UPDATED = "session.updated"
    INPUT_BUFFER_APPEND = "input.buffer.append"
    INPUT_BUFFER_INITIALIZED = "input.buffer.initialized"
    INPUT_BUFFER_COMMIT = "input.buffer.commit"
    REQUEST_TRANSCRIBE_DONE = "request.transcribe.done"
    RESPONSE_TEXT = "response.text"
    RESPONSE_AUDIO_DELTA = "response.audio.delta"
    CUSTOM_ERROR = "custom.error"
    CONNECT_ERROR = "connect_error"
    INPUT_SPEECH_STARTED = "input.speech.started"
    INPUT_SPEECH_STOPPED = "input.speech.stopped"
    INPUT_BUFFER_COMMITTED = "input.buffer.committed"
    RESPONSE_CANCEL = "response.cancel"
    RESPONSE_CANCELLED = "response.cancelled"
    RESPONSE_AUDIO_PLAYED = "response.audio.played"
    CONVERSATION_CLEAR = "conversation.clear"


CONTRACT: Final = OperationTable(
    __name__,
    Handshake,
    (
        Operation(
            event=Event.SESSION_UPDATE,
            operation_id="session.update.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=SessionUpdate,
            handler="on_session_update",
            roles=frozenset({ClientRole.SENDER}),
        ),
        Operation(
            event=Event.SESSION_UPDATED,
            operation_id="session.updated.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=SessionUpdated,
        ),
        Operation(
            event=Event.INPUT_BUFFER_APPEND,
            operation_id="input.buffer.append.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=InputBufferAppend,
            handler="on_input_buffer_append",
            roles=frozenset({ClientRole.SENDER}),
        ),
        Operation(
            event=Event.INPUT_BUFFER_INITIALIZED,
            operation_id="input.buffer.initialized.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=InputBufferInitialized,
        ),
        Operation(
            event=Event.INPUT_BUFFER_COMMIT,
            operation_id="input.buffer.commit.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=None,
            handler="on_input_buffer_commit",
            roles=frozenset({ClientRole.SENDER}),
        ),
        Operation(
            event=Event.REQUEST_TRANSCRIBE_DONE,
            operation_id="request.transcribe.done.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=RequestTranscribeDone,
        ),
        Operation(
            event=Event.RESPONSE_TEXT,
            operation_id="response.text.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.RECEIVERS,
            payload=ResponseText,
        ),
        Operation(
            event=Event.RESPONSE_AUDIO_DELTA,
            operation_id="response.audio.delta.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.RECEIVERS,
            payload=ResponseAudioDelta,
        ),
        Operation(
            event=Event.CUSTOM_ERROR,
            operation_id="custom.error.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.CLIENT,
            payload=CustomError,
        ),
        Operation(
            event=Event.CONNECT_ERROR,
            operation_id="connect_error.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.CLIENT,
            payload=ConnectError,
            reserved=True,
        ),
        Operation(
            event=Event.INPUT_SPEECH_STARTED,
            operation_id="input.speech.started.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=InputSpeechStarted,
        ),
        Operation(
            event=Event.INPUT_SPEECH_STOPPED,
            operation_id="input.speech.stopped.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=InputSpeechStopped,
        ),
        Operation(
            event=Event.INPUT_BUFFER_COMMITTED,
            operation_id="input.buffer.committed.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.SENDER,
            payload=InputBufferCommitted,
        ),
        Operation(
            event=Event.RESPONSE_CANCEL,
            operation_id="response.cancel.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=ResponseCancel,
            handler="on_response_cancel",
            roles=frozenset({ClientRole.SENDER}),
        ),
        Operation(
            event=Event.RESPONSE_CANCELLED,
            operation_id="response.cancelled.publish",
            direction=Direction.SERVER_TO_CLIENT,
            audience=Audience.CLIENT,
            payload=ResponseCancelled,
        ),
        Operation(
            event=Event.RESPONSE_AUDIO_PLAYED,
            operation_id="response.audio.played.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.RECEIVERS,
            payload=ResponseAudioPlayed,
            handler="on_response_audio_played",
            roles=frozenset({ClientRole.RECEIVER}),
        ),
        Operation(
            event=Event.CONVERSATION_CLEAR,
            operation_id="conversation.clear.subscribe",
            direction=Direction.CLIENT_TO_SERVER,
            audience=Audience.SENDER,
            payload=None,
            handler="on_conversation_clear",
            roles=frozenset({ClientRole.SENDER}),
        ),
    ),
)
OPERATIONS: Final = CONTRACT.operations
SERVER_EVENTS: Final = CONTRACT.server_events
payload_adapter: Final = CONTRACT.payload_adapter
validate_payload: Final = CONTRACT.validate_payload
json_schema: Final = CONTRACT.json_schema
