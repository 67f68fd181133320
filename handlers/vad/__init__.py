"""Server voice activity detection: Silero VAD batched over many streams, turn detection with
OpenAI Realtime ``server_vad`` semantics, and an echo guard for the avatar's own voice.

- ``VadEngine`` (engine.py): the model and its worker thread; ``open_stream`` per Sender.
- ``VadStream``: ``push`` PCM16 from the event loop; turn events come back on the loop.
- ``TurnDetector`` / ``TurnSettings`` / events (turns.py): the pure state machine.
- ``EchoGuard`` (echo.py): gates frames that the avatar's known output explains.
- ``AudioHistory`` (history.py): recent input audio by stream time, to cut utterances from.
"""

from handlers.vad.echo import EchoGuard
from handlers.vad.engine import MODEL_PATH, VadEngine, VadStream
from handlers.vad.history import AudioHistory
from handlers.vad.turns import (
    FRAME_MS,
    Commit,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnEvent,
    TurnSettings,
)

__all__ = [
    "FRAME_MS",
    "MODEL_PATH",
    "AudioHistory",
    "Commit",
    "EchoGuard",
    "SpeechStarted",
    "SpeechStopped",
    "TurnDetector",
    "TurnEvent",
    "TurnSettings",
    "VadEngine",
    "VadStream",
]
