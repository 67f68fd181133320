"""pocketsphinx's cost per second of speech: our ``local`` recogniser next to pocketsphinx's own
batch decoding of the same audio, in one process pinned to one core, side by side.

* ``batch``: one ``process_raw(full_utt=True)`` call per utterance (pocketsphinx at its cheapest);
* ``pieces``: the same decoder fed 20 ms pieces, as our recogniser feeds it (pocketsphinx's own
  cost of streaming);
* ``ours``: ``LocalSpeechToText.transcribe`` fed the client's 20 ms chunks through its async
  iterator, one utterance at a time (the adapter: queueing, thread hops, resampler, pool).

CPU time is the process's (all threads) per second of speech decoded; the rounds alternate so that
other work on the machine weighs on each about equally.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable

from pocketsphinx import Decoder

from bench.common import JSON, Cpus, cpu_seconds, pin
from bench.conversation import conversation_utterances
from bench.loadgen import SAMPLE_RATE, chunks_of
from handlers.providers.base import SttRequest
from handlers.providers.stt.local import LocalSpeechToText, _new_decoder

PIECE_BYTES = 2 * SAMPLE_RATE // 50


def _batch(decoder: Decoder, pcm: bytes) -> str:
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, False, True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def _pieces(decoder: Decoder, pcm: bytes) -> str:
    decoder.reinit_feat()
    decoder.start_utt()
    for offset in range(0, len(pcm), PIECE_BYTES):
        decoder.process_raw(pcm[offset : offset + PIECE_BYTES], False, False)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


async def _ours(recogniser: LocalSpeechToText, pcm: bytes) -> str:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in chunks_of(pcm):
            yield chunk
            await asyncio.sleep(0)  # let the decoding task run between chunks, as on a socket

    request = SttRequest(model="pocketsphinx-en-us", language="en-US", sample_rate=SAMPLE_RATE)
    return (await recogniser.transcribe(chunks(), request)).text


async def measure(rounds: int) -> JSON:
    utterances = conversation_utterances()
    speech_s = sum(len(pcm) for _, pcm in utterances) / 2 / SAMPLE_RATE
    decoder = _new_decoder()
    recogniser = LocalSpeechToText.from_env({"METAHUMAN_LOCAL_STT_DECODERS": "1"})
    spent = {"batch": 0.0, "pieces": 0.0, "ours": 0.0}
    heard: dict[str, set[str]] = {name: set() for name in spent}
    wall = dict.fromkeys(spent, 0.0)
    for _ in range(rounds):
        for name in spent:
            for _label, pcm in utterances:
                cpu, started = cpu_seconds(), time.perf_counter()
                if name == "ours":
                    text = await _ours(recogniser, pcm)
                else:
                    text = (_batch if name == "batch" else _pieces)(decoder, pcm)
                spent[name] += cpu_seconds() - cpu
                wall[name] += time.perf_counter() - started
                heard[name].add(text)
    total_speech = speech_s * rounds
    per_speech = {name: round(cpu / total_speech, 4) for name, cpu in spent.items()}
    return {
        "speech_s": round(total_speech, 2),
        "cpu_s_per_speech_s": per_speech,
        "wall_s_per_speech_s": {name: round(w / total_speech, 4) for name, w in wall.items()},
        "ours_over_batch": round(per_speech["ours"] / per_speech["batch"], 2),
        "pieces_over_batch": round(per_speech["pieces"] / per_speech["batch"], 2),
        "transcripts": {name: sorted(texts) for name, texts in heard.items()},
    }


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    cpus = Cpus.detect()
    allowed = os.sched_getaffinity(0)
    pin(cpus.server)
    try:
        result = await measure(rounds=2 if quick else 8)
    finally:
        os.sched_setaffinity(0, allowed)
    per = result["cpu_s_per_speech_s"]
    log(
        f"  CPU s per s of speech: batch {per['batch']}, 20 ms pieces {per['pieces']},"
        f" ours {per['ours']} -> ours/batch {result['ours_over_batch']}"
        f" (pieces/batch {result['pieces_over_batch']}); {result['speech_s']} s of speech each"
    )
    return result
