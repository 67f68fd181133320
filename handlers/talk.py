"""Talk to the server from a terminal: one spoken turn from a WAV file, the reply saved as WAV.

    python -m handlers.talk reply.wav --input question.wav

It connects as a Sender and as a Receiver of one session, streams the WAV in real time in 20 ms
chunks, prints the transcript and the reply, and writes the spoken reply to ``reply.wav``.

The Receiver also shows the lip sync: each delta's visemes and words (offsets on that delta's
clock) are put back on the reply's clock, drawn as a viseme track (one letter per 40 ms) and
written beside the WAV as ``reply.visemes.json`` (times in ms from the WAV's first sample), so
they can be checked against the waveform in an audio editor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import socketio

from handlers.audio import parse_wav, resample_pcm16, wav_bytes

CHUNK_SECONDS = 0.02
TRACK_FRAME_MS = 40
TRACK_LETTERS = {
    "sil": ".", "PP": "p", "FF": "f", "TH": "t", "DD": "d", "kk": "k", "CH": "c", "SS": "s",
    "nn": "n", "RR": "r", "aa": "A", "E": "E", "I": "I", "O": "O", "U": "U",
}  # fmt: skip
"""One letter per viseme for the drawn track (``.`` is the mouth at rest)."""
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
    auth: dict[str, str] = {"sessionId": session_id}
    if token:
        auth["token"] = token
    sender, receiver = socketio.AsyncClient(), socketio.AsyncClient()
    updated, transcribed, replied, done = (asyncio.Event() for _ in range(4))
    result: dict[str, Any] = {"audio": bytearray(), "errors": []}
    track: dict[str, Any] = {"visemes": [], "words": [], "deltas": [], "timingSource": None}

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
        result.setdefault("first_audio_at", time.monotonic())
        add_timings(track, data, len(result["audio"]) / 2 * 1000 / OUTPUT_RATE)
        result["audio"] += data["audio"]
        if data["final"]:
            done.set()

    async def _error(data: dict[str, Any]) -> None:
        result["errors"].append(data)
        print(f"error: {data.get('code')}: {data.get('message')}", file=sys.stderr)
        if data.get("code") in {"provider_error", "provider_unavailable", "internal_error"}:
            done.set()

    sender.on("session.updated", _updated)
    sender.on("request.transcribe.done", _transcribed)
    receiver.on("response.text", _text)
    receiver.on("response.audio.delta", _audio)
    sender.on("custom.error", _error)
    receiver.on("custom.error", _error)
    await receiver.connect(url, socketio_path=path, auth={**auth, "role": "receiver"})
    await sender.connect(url, socketio_path=path, auth={**auth, "role": "sender"})
    try:
        await sender.emit(
            "session.update",
            {
                "tts": {"responseType": mode},
                "inputAudio": {"format": "pcm16", "sampleRate": INPUT_RATE},
                "outputAudio": {"format": "pcm16", "sampleRate": OUTPUT_RATE},
            },
        )
        await asyncio.wait_for(updated.wait(), wait_seconds)
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
    finally:
        await sender.disconnect()
        await receiver.disconnect()
    if "transcript" not in result:
        raise TalkError(f"no transcript: {result['errors']}")
    audio = bytes(result.pop("audio"))
    await asyncio.to_thread(output_wav.write_bytes, wav_bytes(audio, OUTPUT_RATE))
    result["visemes_file"] = output_wav.with_suffix(".visemes.json")
    text = json.dumps(track, indent=1)
    await asyncio.to_thread(result["visemes_file"].write_text, text)
    result["track"] = track
    result["audio_seconds"] = len(audio) / 2 / OUTPUT_RATE
    result["commit_to_transcript_ms"] = (result.pop("transcript_at") - committed_at) * 1000
    if "first_audio_at" in result:
        result["commit_to_first_audio_ms"] = (result.pop("first_audio_at") - committed_at) * 1000
    return result


def add_timings(track: dict[str, Any], delta: dict[str, Any], start_ms: float) -> None:
    """One delta's marks, from its own clock onto the reply's (``start_ms``: where it starts)."""
    duration_ms = len(delta["audio"]) / 2 * 1000 / OUTPUT_RATE
    track["deltas"].append(
        {
            "sequence": delta["sequence"],
            "startMs": round(start_ms),
            "durationMs": round(duration_ms),
        }
    )
    track["timingSource"] = delta.get("timingSource") or track["timingSource"]
    for mark in delta.get("visemes") or []:
        track["visemes"].append({"ms": round(start_ms + mark["offsetMs"]), "id": mark["id"]})
    for word in delta.get("words") or []:
        start = round(start_ms + word["offsetMs"])
        track["words"].append(
            {"text": word["text"], "startMs": start, "durationMs": word["durationMs"]}
        )


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
    except (TalkError, TimeoutError, socketio.exceptions.ConnectionError) as exc:
        sys.exit(f"talk failed: {exc}")
    print(f"you said:   {result['transcript']}")
    print(f"reply:      {result.get('reply', '')}")
    print(f"audio:      {result['audio_seconds']:.2f} s written to {args.output}")
    track = result["track"]
    if track["visemes"]:
        source = track["timingSource"]
        print(f"visemes:    {len(track['visemes'])} marks ({source}), {result['visemes_file']}")
        for line in draw_track(track, result["audio_seconds"] * 1000):
            print(line)
    print(f"latency:    transcript {result['commit_to_transcript_ms']:.0f} ms after commit", end="")
    if "commit_to_first_audio_ms" in result:
        print(f", first audio {result['commit_to_first_audio_ms']:.0f} ms")
    else:
        print()


if __name__ == "__main__":
    main()
