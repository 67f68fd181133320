"""Talk to the server from a terminal: one spoken turn from a WAV file, the reply saved to a file.

    metahuman-chat-talk reply.wav --input question.wav

It connects as a Sender and as a Receiver of one session through the client generated from the
contract (``generated.client.ChatClient``: typed methods out, generated models in), streams the
WAV in real time in 20 ms chunks, prints the transcript, the reply and the timings (commit ->
transcript, commit -> first audio), and writes the spoken reply: a WAV file for
``--output-format pcm16`` or ``wav``, an MP3 file for ``mp3``.

The Receiver also shows the lip sync: each delta's visemes and words (offsets on that delta's
clock) are put back on the reply's clock, drawn as a viseme track (one letter per 40 ms) and
written beside the reply as ``reply.visemes.json`` (times in ms from its first sample), so they
can be checked against the waveform in an audio editor (PCM16 and WAV output).

Every failure is one line on stderr and an exit code: 2 bad options or input/output file,
3 no server at the URL, 4 handshake refused (with its code), 5 the turn failed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codegen.runtime.client import ConnectRefused
from generated.client import ChatClient
from generated.models import (
    ClientRole,
    CustomError,
    ErrorCode,
    Handshake,
    InputAudioFormat,
    InputAudioUpdate,
    OutputAudioFormat,
    OutputAudioUpdate,
    RequestTranscribeDone,
    ResponseAudioDelta,
    ResponseText,
    SessionUpdate,
    SessionUpdated,
    TtsOptionsUpdate,
    TtsResponseType,
)
from handlers.audio import AudioFormatError, parse_wav, resample_pcm16, wav_bytes
from handlers.cli import OneLineParser

CHUNK_SECONDS = 0.02
TRACK_FRAME_MS = 40
TRACK_LETTERS = {
    "sil": ".", "PP": "p", "FF": "f", "TH": "t", "DD": "d", "kk": "k", "CH": "c", "SS": "s",
    "nn": "n", "RR": "r", "aa": "A", "E": "E", "I": "I", "O": "O", "U": "U",
}  # fmt: skip
"""One letter per viseme for the drawn track (``.`` is the mouth at rest)."""
INPUT_RATE = 16000
OUTPUT_RATE = 24000
OUTPUT_FORMATS = ("pcm16", "wav", "mp3")

EXIT_USAGE = 2
EXIT_NO_SERVER = 3
EXIT_REFUSED = 4
EXIT_TURN_FAILED = 5


class TalkError(Exception):
    """A failure to report in one line, with the exit code that says which kind."""

    def __init__(self, message: str, exit_code: int = EXIT_TURN_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def read_input(path: Path) -> tuple[bytes, int]:
    """The input WAV's PCM16 and rate; TalkError (exit 2) when it is missing or not a WAV."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TalkError(f"input {path}: no such file", EXIT_USAGE) from None
    except IsADirectoryError:
        raise TalkError(f"input {path}: is a directory, not a WAV file", EXIT_USAGE) from None
    except OSError as exc:
        raise TalkError(f"input {path}: cannot read it ({exc.strerror})", EXIT_USAGE) from None
    try:
        return parse_wav(data)
    except AudioFormatError as exc:
        raise TalkError(f"input {path}: not a PCM16 WAV file ({exc})", EXIT_USAGE) from None


def check_output(path: Path) -> None:
    if not path.parent.is_dir():
        raise TalkError(f"output {path}: folder {path.parent} does not exist", EXIT_USAGE)
    if path.is_dir():
        raise TalkError(f"output {path}: is a directory", EXIT_USAGE)


async def _connect(client: ChatClient, url: str, path: str) -> None:
    """Connect ``client``; TalkError saying whether no server answered or it refused us."""
    handshake = client.handshake
    role = handshake.role if isinstance(handshake, Handshake) else "client"
    try:
        await client.connect()
    except ConnectRefused as exc:
        raise TalkError(
            f"the server refused the {role}: {exc.code}: {exc.message}", EXIT_REFUSED
        ) from None
    except ConnectionError as exc:
        raise TalkError(
            f"no server at {url} (path {path}): {exc}; start one with metahuman-chat-server",
            EXIT_NO_SERVER,
        ) from None


# Errors after which no reply comes: the turn is over.
TURN_ENDING_ERRORS = frozenset(
    {ErrorCode.PROVIDER_ERROR, ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.INTERNAL_ERROR}
)


def _joined(chunks: list[bytes], output_format: str) -> tuple[bytes, float | None]:
    """The file to write from the deltas' audio, and its length in seconds (None for MP3)."""
    if output_format == "mp3":
        return b"".join(chunks), None  # MP3 frames concatenate into an MP3 stream
    if output_format == "wav":
        # Each delta is a WAV file of its own: keep the samples, write one WAV.
        pcm = b"".join(parse_wav(chunk)[0] for chunk in chunks if chunk)
    else:
        pcm = b"".join(chunks)
    return wav_bytes(pcm, OUTPUT_RATE), len(pcm) / 2 / OUTPUT_RATE


async def talk(
    url: str,
    path: str,
    input_wav: Path,
    output: Path,
    *,
    mode: str = "chain",
    output_format: str = "pcm16",
    token: str | None = None,
    realtime: bool = True,
    wait_seconds: float = 120.0,
) -> dict[str, Any]:
    """Run one turn; return what came back (transcript, reply, audio seconds, timings)."""
    check_output(output)
    pcm, rate = await asyncio.to_thread(read_input, input_wav)
    pcm = resample_pcm16(pcm, rate, INPUT_RATE)
    session_id = "talk-" + secrets.token_hex(4)
    sender, receiver = (
        ChatClient(url, Handshake(role=role, session_id=session_id, token=token), path=path)
        for role in (ClientRole.SENDER, ClientRole.RECEIVER)
    )
    updated, done = asyncio.Event(), asyncio.Event()
    chunks: list[bytes] = []
    result: dict[str, Any] = {"errors": []}
    track: dict[str, Any] = {"visemes": [], "words": [], "deltas": [], "timingSource": None}
    reply_ms = 0.0  # where the next delta starts on the reply's clock (PCM16 and WAV output)

    def on_error(error: CustomError) -> None:
        result["errors"].append(error)
        print(f"server error: {error.code}: {error.message}", file=sys.stderr)
        if error.event == "session.update":
            updated.set()  # refused: the check after the wait says so
        if error.code in TURN_ENDING_ERRORS:
            done.set()

    async def sender_events() -> None:
        async for event in sender.events():
            match event:
                case SessionUpdated():
                    updated.set()
                case RequestTranscribeDone(text=text):
                    result["transcript"] = text
                    result["transcript_at"] = time.monotonic()
                    if not text.strip():
                        done.set()  # nothing recognised: the turn ends here
                case CustomError():
                    on_error(event)
        done.set()  # the connection closed: nothing more will come

    async def receiver_events() -> None:
        async for event in receiver.events():
            match event:
                case ResponseText(text=text):
                    result["reply"] = text
                case ResponseAudioDelta(audio=audio, final=final):
                    if audio:
                        result.setdefault("first_audio_at", time.monotonic())
                    chunks.append(audio)
                    if output_format != "mp3":
                        nonlocal reply_ms
                        reply_ms += add_timings(track, event, reply_ms, output_format)
                    if final:
                        done.set()
                case CustomError():
                    on_error(event)
        done.set()

    watchers: list[asyncio.Task[None]] = []
    try:
        await _connect(receiver, url, path)  # first, so it is in the room when the reply goes out
        await _connect(sender, url, path)
        watchers = [asyncio.create_task(sender_events()), asyncio.create_task(receiver_events())]
        await sender.session_update(
            SessionUpdate(
                tts=TtsOptionsUpdate(response_type=TtsResponseType(mode)),
                input_audio=InputAudioUpdate(format=InputAudioFormat.PCM16, sample_rate=INPUT_RATE),
                output_audio=OutputAudioUpdate(
                    format=OutputAudioFormat(output_format), sample_rate=OUTPUT_RATE
                ),
            )
        )
        await asyncio.wait_for(updated.wait(), wait_seconds)
        if refused := [e for e in result["errors"] if e.event == "session.update"]:
            raise TalkError(f"the server refused the settings: {refused[0].message}")
        step = int(INPUT_RATE * CHUNK_SECONDS) * 2
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), step)):
            await sender.input_buffer_append(pcm[offset : offset + step])
            if realtime:
                # Pace by the clock, not by sleeps, so the stream does not drift behind real time.
                await asyncio.sleep(
                    max(0.0, start + (index + 1) * CHUNK_SECONDS - time.monotonic())
                )
        committed_at = time.monotonic()
        await sender.input_buffer_commit()
        await asyncio.wait_for(done.wait(), wait_seconds)
        for watcher in watchers:
            if watcher.done() and (exc := watcher.exception()) is not None:
                raise TalkError(f"the server broke the contract: {exc}")
    except TimeoutError:
        raise TalkError(f"no reply within {wait_seconds:g} s") from None
    finally:
        await sender.close()
        await receiver.close()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    if "transcript" not in result:
        codes = ", ".join(str(error.code) for error in result["errors"]) or "none"
        raise TalkError(f"no transcript came back (errors: {codes})")
    data, seconds = _joined(chunks, output_format)
    await asyncio.to_thread(output.write_bytes, data)
    if output_format != "mp3":
        result["visemes_file"] = output.with_suffix(".visemes.json")
        await asyncio.to_thread(result["visemes_file"].write_text, json.dumps(track, indent=1))
    result["track"] = track
    result["audio_seconds"] = seconds
    result["audio_bytes"] = len(data)
    result["commit_to_transcript_ms"] = (result.pop("transcript_at") - committed_at) * 1000
    if "first_audio_at" in result:
        result["commit_to_first_audio_ms"] = (result.pop("first_audio_at") - committed_at) * 1000
    return result


def add_timings(
    track: dict[str, Any], delta: ResponseAudioDelta, start_ms: float, output_format: str
) -> float:
    """One delta's marks, from its own clock onto the reply's (``start_ms``: where it starts);
    returns the delta's length in ms."""
    pcm = parse_wav(delta.audio)[0] if output_format == "wav" and delta.audio else delta.audio
    duration_ms = len(pcm) / 2 * 1000 / OUTPUT_RATE
    track["deltas"].append(
        {"sequence": delta.sequence, "startMs": round(start_ms), "durationMs": round(duration_ms)}
    )
    if delta.timing_source is not None:
        track["timingSource"] = str(delta.timing_source)
    for mark in delta.visemes or []:
        track["visemes"].append({"ms": round(start_ms + mark.offset_ms), "id": str(mark.id)})
    for word in delta.words or []:
        track["words"].append(
            {
                "text": word.text,
                "startMs": round(start_ms + word.offset_ms),
                "durationMs": word.duration_ms,
            }
        )
    return duration_ms


def draw_track(track: dict[str, Any], duration_ms: float) -> list[str]:
    """The viseme track as text, one letter per 40 ms, 100 letters (4 s) a line."""
    letters, marks, shape = [], track["visemes"], "sil"
    index = 0
    for frame in range(int(duration_ms // TRACK_FRAME_MS)):
        while index < len(marks) and marks[index]["ms"] <= frame * TRACK_FRAME_MS:
            shape = marks[index]["id"]
            index += 1
        letters.append(TRACK_LETTERS.get(shape, "?"))
    line = 100
    return [
        f"{start * TRACK_FRAME_MS / 1000:6.1f} s  " + "".join(letters[start : start + line])
        for start in range(0, len(letters), line)
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = OneLineParser(prog="metahuman-chat-talk", description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="where to write the spoken reply")
    parser.add_argument("--input", type=Path, required=True, help="what you say (a WAV file)")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--path", default="/socketio", help="Socket.IO path")
    parser.add_argument("--mode", choices=["single", "chain", "stream"], default="chain")
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        default="pcm16",
        help="what the server sends: pcm16 and wav are saved as a WAV file, mp3 as MP3",
    )
    parser.add_argument("--token", help="handshake token, when the server requires one")
    parser.add_argument(
        "--fast", action="store_true", help="send the audio at once, not in real time"
    )
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(
            talk(
                args.url,
                args.path,
                args.input,
                args.output,
                mode=args.mode,
                output_format=args.output_format,
                token=args.token,
                realtime=not args.fast,
            )
        )
    except TalkError as exc:
        print(f"metahuman-chat-talk: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    print(f"you said:   {result['transcript']}")
    print(f"reply:      {result.get('reply', '')}")
    length = (
        f"{result['audio_seconds']:.2f} s"
        if result["audio_seconds"] is not None
        else f"{result['audio_bytes']} bytes of MP3"
    )
    print(f"audio:      {length} written to {args.output}")
    track = result["track"]
    if track["visemes"] and result["audio_seconds"] is not None:
        source = track["timingSource"]
        print(f"visemes:    {len(track['visemes'])} marks ({source}), {result['visemes_file']}")
        for line in draw_track(track, result["audio_seconds"] * 1000):
            print(line)
    timings = f"commit -> transcript {result['commit_to_transcript_ms']:.0f} ms"
    if "commit_to_first_audio_ms" in result:
        timings += f", commit -> first audio {result['commit_to_first_audio_ms']:.0f} ms"
    print(f"timings:    {timings}")


if __name__ == "__main__":
    main()
