"""Talk to the server from a terminal: one spoken turn from a WAV file, the reply saved as WAV.

    python -m handlers.talk reply.wav --input question.wav

It connects as a Sender and as a Receiver of one session, streams the WAV in real time in 20 ms
chunks, prints the transcript and the reply, and writes the spoken reply to ``reply.wav``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codegen.runtime.client import ConnectRefused, ContractViolation
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
from handlers.audio import parse_wav, resample_pcm16, wav_bytes

CHUNK_SECONDS = 0.02
INPUT_RATE = 16000
OUTPUT_RATE = 24000


class TalkError(Exception):
    pass


async def talk(
    url: str,
    path: str,
    input_wav: Path,
    output_wav: Path,
    *,
    mode: str = "chain",
    token: str | None = None,
    realtime: bool = True,
    wait_seconds: float = 120.0,
) -> dict[str, Any]:
    """Run one turn; return what came back (transcript, reply, audio seconds, timings)."""
    pcm, rate = parse_wav(await asyncio.to_thread(input_wav.read_bytes))
    pcm = resample_pcm16(pcm, rate, INPUT_RATE)
    session_id = "talk-" + secrets.token_hex(4)
    sender, receiver = (
        ChatClient(url, Handshake(role=role, session_id=session_id, token=token), path=path)
        for role in (ClientRole.SENDER, ClientRole.RECEIVER)
    )
    # What came back; "updated" and "done" are the moments the turn waits for (removed at the end).
    result: dict[str, Any] = {
        "audio": bytearray(),
        "errors": [],
        "updated": asyncio.Event(),
        "done": asyncio.Event(),
    }
    await receiver.connect()  # first, so it is in the room when the reply goes out
    try:
        await sender.connect()
        watch_sender = asyncio.create_task(_sender_events(sender, result))
        watch_receiver = asyncio.create_task(_receiver_events(receiver, result))
        await sender.session_update(
            SessionUpdate(
                tts=TtsOptionsUpdate(response_type=TtsResponseType(mode)),
                input_audio=InputAudioUpdate(format=InputAudioFormat.PCM16, sample_rate=INPUT_RATE),
                output_audio=OutputAudioUpdate(
                    format=OutputAudioFormat.PCM16, sample_rate=OUTPUT_RATE
                ),
            )
        )
        await asyncio.wait_for(_first(result, "updated", watch_sender), wait_seconds)
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
        watchers = (watch_sender, watch_receiver)
        await asyncio.wait_for(_first(result, "done", *watchers), wait_seconds)
    finally:
        await sender.close()
        await receiver.close()
    if "transcript" not in result:
        raise TalkError(f"no transcript: {result['errors']}")
    audio = bytes(result.pop("audio"))
    await asyncio.to_thread(output_wav.write_bytes, wav_bytes(audio, OUTPUT_RATE))
    result["audio_seconds"] = len(audio) / 2 / OUTPUT_RATE
    result["commit_to_transcript_ms"] = (result.pop("transcript_at") - committed_at) * 1000
    if "first_audio_at" in result:
        result["commit_to_first_audio_ms"] = (result.pop("first_audio_at") - committed_at) * 1000
    for key in ("updated", "done"):
        result.pop(key, None)
    return result


# Errors after which no reply comes: the turn is over.
TURN_ENDING_ERRORS = frozenset(
    {ErrorCode.PROVIDER_ERROR, ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.INTERNAL_ERROR}
)


def _error(result: dict[str, Any], error: CustomError) -> None:
    result["errors"].append(error.model_dump(mode="json", by_alias=True, exclude_none=True))
    print(f"error: {error.code}: {error.message}", file=sys.stderr)
    if error.code in TURN_ENDING_ERRORS:
        result["done"].set()


async def _sender_events(sender: ChatClient, result: dict[str, Any]) -> None:
    async for event in sender.events():
        match event:
            case SessionUpdated():
                result["updated"].set()
            case RequestTranscribeDone(text=text):
                result["transcript"] = text
                result["transcript_at"] = time.monotonic()
                if not text.strip():
                    result["done"].set()  # nothing recognised: the turn ends here
            case CustomError():
                _error(result, event)


async def _receiver_events(receiver: ChatClient, result: dict[str, Any]) -> None:
    async for event in receiver.events():
        match event:
            case ResponseText(text=text):
                result["reply"] = text
            case ResponseAudioDelta(audio=audio, final=final):
                result.setdefault("first_audio_at", time.monotonic())
                result["audio"] += audio
                if final:
                    result["done"].set()
            case CustomError():
                _error(result, event)


async def _first(result: dict[str, Any], flag: str, *watchers: asyncio.Task[None]) -> None:
    """Wait for ``result[flag]``; a watcher that ends first (connection lost, or the server
    broke the contract) ends the wait with its exception or a TalkError."""
    waiter = asyncio.create_task(result[flag].wait())
    finished, _ = await asyncio.wait({waiter, *watchers}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in finished:
        waiter.cancel()
        for task in finished:
            task.result()  # raises what ended it
        raise TalkError("the server closed the connection")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="metahuman-chat-talk", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("output", type=Path, help="where to write the spoken reply (WAV)")
    parser.add_argument("--input", type=Path, required=True, help="what you say (a WAV file)")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--path", default="/socketio", help="Socket.IO path")
    parser.add_argument("--mode", choices=["single", "chain", "stream"], default="chain")
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
                token=args.token,
                realtime=not args.fast,
            )
        )
    except (TalkError, TimeoutError, ConnectionError, ConnectRefused, ContractViolation) as exc:
        sys.exit(f"talk failed: {exc}")
    print(f"you said:   {result['transcript']}")
    print(f"reply:      {result.get('reply', '')}")
    print(f"audio:      {result['audio_seconds']:.2f} s written to {args.output}")
    print(f"latency:    transcript {result['commit_to_transcript_ms']:.0f} ms after commit", end="")
    if "commit_to_first_audio_ms" in result:
        print(f", first audio {result['commit_to_first_audio_ms']:.0f} ms")
    else:
        print()


if __name__ == "__main__":
    main()
