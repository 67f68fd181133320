"""``python -m bench.stt_accuracy``: the local recogniser's word error rate on tests/data/speech.

Transcribes every clip of the manifest with the embedded pocketsphinx recogniser (the ``local``
STT provider, as the server runs it: 20 ms chunks, the environment's settings), at 16 kHz and
again after a trip through 8 kHz (what telephone-band input becomes), and prints each
transcript and the word error rate against the manifest's text: (substitutions + deletions +
insertions) / reference words.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from handlers.audio import parse_wav, resample_pcm16
from handlers.providers.base import SttRequest
from handlers.providers.stt.local import LocalSpeechToText
from handlers.settings import Settings

SPEECH_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech"
CHUNK_BYTES = 640


def word_errors(reference: Sequence[str], heard: Sequence[str]) -> int:
    """The word-level edit distance between ``reference`` and ``heard``."""
    previous = list(range(len(heard) + 1))
    for i, word in enumerate(reference, 1):
        current = [i]
        for j, other in enumerate(heard, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
            )
        previous = current
    return previous[-1]


async def chunks(pcm: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(pcm), size):
        yield pcm[offset : offset + size]


async def measure() -> dict[str, float]:
    manifest = json.loads((SPEECH_DIR / "manifest.json").read_text())
    # The server's environment: METAHUMAN_LOCAL_STT_SEARCH=full measures pocketsphinx's own search.
    stt = await asyncio.to_thread(LocalSpeechToText.from_env, os.environ)
    request = Settings.defaults().stt_request()
    rates: dict[str, tuple[int, int]] = {"16 kHz": (0, 0), "via 8 kHz": (0, 0)}
    try:
        for entry in manifest:
            pcm, rate = parse_wav((SPEECH_DIR / entry["file"]).read_bytes())
            pcm = resample_pcm16(pcm, rate, 16000)
            narrow = resample_pcm16(resample_pcm16(pcm, 16000, 8000), 8000, 16000)
            reference = entry["text"].split()
            for label, audio in (("16 kHz", pcm), ("via 8 kHz", narrow)):
                transcript = await stt.transcribe(
                    chunks(audio, CHUNK_BYTES),
                    SttRequest(request.model, request.language, 16000),
                )
                errors = word_errors(reference, transcript.text.split())
                total, words = rates[label]
                rates[label] = (total + errors, words + len(reference))
                print(f"{label:9} {entry['text']!r:40} heard {transcript.text!r} ({errors} errors)")
    finally:
        await stt.aclose()
    return {label: errors / words for label, (errors, words) in rates.items()}


def main() -> None:
    for label, wer in asyncio.run(measure()).items():
        print(f"word error rate, {label}: {wer:.0%}")


if __name__ == "__main__":
    main()
