"""Talk to the server from a terminal: one spoken turn from a WAV file, the reply saved to a file.

    metahuman-chat-talk reply.wav --input question.wav

It connects as a Sender and as a Receiver of one session, streams the WAV in real time in 20 ms
chunks, prints the transcript, the reply and the timings (commit -> transcript, commit -> first
audio), and writes the spoken reply: a WAV file for ``--output-format pcm16`` or ``wav``, an MP3
file for ``mp3``.

Every failure is one line on stderr and an exit code: 2 bad options or input/output file,
3 no server at the URL, 4 handshake refused (with its code), 5 the turn failed.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import socketio

from handlers.audio import AudioFormatError, parse_wav, resample_pcm16, wav_bytes
from handlers.cli import OneLineParser

CHUNK_SECONDS = 0.02
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


def _refusal(data: Any) -> str | None:
    """The code and message of a refused handshake, from connect_error's data."""
    if not isinstance(data, dict):
        return None
    details = data.get("data")
    code = details.get("code") if isinstance(details, dict) else None
    return f"{code or 'refused'}: {data.get('message', '')}".rstrip(": ")


async def _connect(client: socketio.AsyncClient, url: str, path: str, auth: dict[str, str]) -> None:
    """Connect ``client``; TalkError saying whether no server answered or it refused us."""
    refusals: list[str] = []

    async def on_connect_error(data: Any = None) -> None:
        if (reason := _refusal(data)) is not None:
            refusals.append(reason)

    client.on("connect_error", on_connect_error)
    try:
        await client.connect(url, socketio_path=path, auth=auth, wait_timeout=10)
    except socketio.exceptions.ConnectionError as exc:
        if refusals:
            raise TalkError(
                f"the server refused the {auth['role']}: {refusals[0]}", EXIT_REFUSED
            ) from None
        raise TalkError(
            f"no server at {url} (path {path}): {exc}; start one with metahuman-chat-server",
            EXIT_NO_SERVER,
        ) from None


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
    auth: dict[str, str] = {"sessionId": session_id}
    if token:
        auth["token"] = token
    sender, receiver = socketio.AsyncClient(), socketio.AsyncClient()
    updated, transcribed, replied, done = (asyncio.Event() for _ in range(4))
    chunks: list[bytes] = []
    result: dict[str, Any] = {"errors": []}

    async def _updated(_: dict[str, Any]) -> None:
        updated.set()

    async def _transcribed(data: dict[str, Any]) -> None:
        result["transcript"] = data["text"]
        result["transcript_at"] = time.monotonic()
        transcribed.set()
        if not data["text"].strip():
            done.set()  # nothing recognised: the turn ends here

    async def _text(data: dict[str, Any]) -> None:
        result["reply"] = data["text"]
        replied.set()

    async def _audio(data: dict[str, Any]) -> None:
        if data["audio"]:
            result.setdefault("first_audio_at", time.monotonic())
        chunks.append(data["audio"])
        if data["final"]:
            done.set()

    async def _error(data: dict[str, Any]) -> None:
        result["errors"].append(data)
        print(f"server error: {data.get('code')}: {data.get('message')}", file=sys.stderr)
        if data.get("event") == "session.update":
            updated.set()  # refused: the check after the wait says so
        if data.get("code") in {"provider_error", "provider_unavailable", "internal_error"}:
            done.set()

    sender.on("session.updated", _updated)
    sender.on("request.transcribe.done", _transcribed)
    receiver.on("response.text", _text)
    receiver.on("response.audio.delta", _audio)
    sender.on("custom.error", _error)
    receiver.on("custom.error", _error)
    try:
        await _connect(receiver, url, path, {**auth, "role": "receiver"})
        await _connect(sender, url, path, {**auth, "role": "sender"})
        await sender.emit(
            "session.update",
            {
                "tts": {"responseType": mode},
                "inputAudio": {"format": "pcm16", "sampleRate": INPUT_RATE},
                "outputAudio": {"format": output_format, "sampleRate": OUTPUT_RATE},
            },
        )
        await asyncio.wait_for(updated.wait(), wait_seconds)
        if refused := [e for e in result["errors"] if e.get("event") == "session.update"]:
            raise TalkError(f"the server refused the settings: {refused[0].get('message')}")
        step = int(INPUT_RATE * CHUNK_SECONDS) * 2
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), step)):
            await sender.emit("input.buffer.append", pcm[offset : offset + step])
            if realtime:
                # Pace by the clock, not by sleeps, so the stream does not drift behind real time.
                await asyncio.sleep(
                    max(0.0, start + (index + 1) * CHUNK_SECONDS - time.monotonic())
                )
        committed_at = time.monotonic()
        await sender.emit("input.buffer.commit")
        await asyncio.wait_for(done.wait(), wait_seconds)
    except TimeoutError:
        raise TalkError(f"no reply within {wait_seconds:g} s") from None
    finally:
        await sender.disconnect()
        await receiver.disconnect()
    if "transcript" not in result:
        codes = ", ".join(str(error.get("code")) for error in result["errors"]) or "none"
        raise TalkError(f"no transcript came back (errors: {codes})")
    data, seconds = _joined(chunks, output_format)
    await asyncio.to_thread(output.write_bytes, data)
    result["audio_seconds"] = seconds
    result["audio_bytes"] = len(data)
    result["commit_to_transcript_ms"] = (result.pop("transcript_at") - committed_at) * 1000
    if "first_audio_at" in result:
        result["commit_to_first_audio_ms"] = (result.pop("first_audio_at") - committed_at) * 1000
    return result


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
    timings = f"commit -> transcript {result['commit_to_transcript_ms']:.0f} ms"
    if "commit_to_first_audio_ms" in result:
        timings += f", commit -> first audio {result['commit_to_first_audio_ms']:.0f} ms"
    print(f"timings:    {timings}")


if __name__ == "__main__":
    main()
