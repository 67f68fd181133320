"""pocketsphinx's cost per second of speech and what its search settings trade, in one process
pinned to one core.

Cost, side by side (``measure``):

* ``batch``: one ``process_raw(full_utt=True)`` call per utterance (pocketsphinx at its cheapest),
  with our search settings; ``batch_full`` the same with pocketsphinx's own defaults;
* ``pieces``: the same decoder as ``batch`` fed 20 ms pieces, as our recogniser feeds it
  (pocketsphinx's own cost of streaming);
* ``ours``: ``LocalSpeechToText.transcribe`` fed the client's 20 ms chunks through its async
  iterator, one utterance at a time (the adapter: queueing, thread hops, resampler, pool).

Search settings (``compare_searches``, handlers.providers.stt.local.SEARCHES): each utterance fed
in 20 ms pieces as it would arrive, then finished (``end_utt`` and the hypothesis: what a commit
waits for once the audio is in); per setting the finishing time (wall and CPU), the CPU per
second of speech, and the word error rate against the manifest's words: tests/data/speech at
16 kHz, the same after a trip through 8 kHz, and any ``--speech DIR`` (a manifest.json of
``file``/``text`` entries beside its WAVs, as tests/data/speech has).

CPU time is this thread's (or the process's, for ``ours``) per second of speech decoded; the
rounds alternate so that other work on the machine weighs on each about equally.
``python -m bench.sphinx [--rounds N] [--speech DIR ...]`` runs both and prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pocketsphinx import Decoder

from bench.common import JSON, Cpus, cpu_seconds, percentile, pin
from bench.conversation import UTTERANCE_S, conversation_utterances
from bench.loadgen import SAMPLE_RATE, chunks_of
from bench.stt_accuracy import SPEECH_DIR, word_errors
from handlers.audio import parse_wav, resample_pcm16
from handlers.providers.base import SttRequest
from handlers.providers.stt.local import (
    DEFAULT_SEARCH,
    SEARCH_ENV,
    SEARCHES,
    LocalSpeechToText,
    _new_decoder,
)

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
    full = _new_decoder(SEARCHES["full"])
    recogniser = LocalSpeechToText.from_env({"METAHUMAN_LOCAL_STT_DECODERS": "1"})
    spent = {"batch": 0.0, "batch_full": 0.0, "pieces": 0.0, "ours": 0.0}
    heard: dict[str, set[str]] = {name: set() for name in spent}
    wall = dict.fromkeys(spent, 0.0)
    for _ in range(rounds):
        for name in spent:
            for _label, pcm in utterances:
                cpu, started = cpu_seconds(), time.perf_counter()
                if name == "ours":
                    text = await _ours(recogniser, pcm)
                elif name == "pieces":
                    text = _pieces(decoder, pcm)
                else:
                    text = _batch(full if name == "batch_full" else decoder, pcm)
                spent[name] += cpu_seconds() - cpu
                wall[name] += time.perf_counter() - started
                heard[name].add(text)
    total_speech = speech_s * rounds
    per_speech = {name: round(cpu / total_speech, 4) for name, cpu in spent.items()}
    return {
        "search": DEFAULT_SEARCH,
        "speech_s": round(total_speech, 2),
        "cpu_s_per_speech_s": per_speech,
        "wall_s_per_speech_s": {name: round(w / total_speech, 4) for name, w in wall.items()},
        "ours_over_batch": round(per_speech["ours"] / per_speech["batch"], 2),
        "ours_over_batch_full": round(per_speech["ours"] / per_speech["batch_full"], 2),
        "pieces_over_batch": round(per_speech["pieces"] / per_speech["batch"], 2),
        "transcripts": {name: sorted(texts) for name, texts in heard.items()},
    }


# -- search settings compared ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clip:
    name: str
    words: tuple[str, ...]
    pcm: bytes
    """16 kHz PCM16."""

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE


def load_clips(directory: Path) -> list[Clip]:
    manifest = json.loads((directory / "manifest.json").read_text())
    clips = []
    for entry in manifest:
        pcm, rate = parse_wav((directory / entry["file"]).read_bytes())
        words = tuple(entry["text"].lower().split())
        clips.append(Clip(str(entry["file"]), words, resample_pcm16(pcm, rate, SAMPLE_RATE)))
    return clips


def speech_sets(extra: Sequence[Path] = ()) -> dict[str, list[Clip]]:
    """The manifest's recordings at 16 kHz and via 8 kHz (telephone band), then ``extra``."""
    wide = load_clips(SPEECH_DIR)
    sets = {
        "16 kHz": wide,
        "via 8 kHz": [
            Clip(
                clip.name,
                clip.words,
                resample_pcm16(resample_pcm16(clip.pcm, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE),
            )
            for clip in wide
        ],
    }
    for directory in extra:
        sets[directory.name] = load_clips(directory)
    return sets


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    feed_cpu_s: float
    finish_cpu_s: float
    finish_wall_s: float


def decode_as_it_arrives(decoder: Decoder, pcm: bytes) -> Decoded:
    """``pcm`` fed in 20 ms pieces, then the utterance finished: the finish is what a commit
    waits for when the decoder kept up with the audio."""
    started_cpu = time.thread_time()
    decoder.reinit_feat()
    decoder.start_utt()
    for offset in range(0, len(pcm), PIECE_BYTES):
        decoder.process_raw(pcm[offset : offset + PIECE_BYTES], False, False)
    fed_cpu, fed_wall = time.thread_time(), time.perf_counter()
    decoder.end_utt()
    hypothesis = decoder.hyp()
    text = hypothesis.hypstr if hypothesis is not None else ""
    return Decoded(
        text,
        fed_cpu - started_cpu,
        time.thread_time() - fed_cpu,
        time.perf_counter() - fed_wall,
    )


def _ms(values_s: Sequence[float]) -> JSON:
    return {
        "p50": round(percentile(values_s, 50) * 1000, 1),
        "p95": round(percentile(values_s, 95) * 1000, 1),
        "max": round(max(values_s) * 1000, 1),
    }


def compare_searches(rounds: int, extra: Sequence[Path] = ()) -> JSON:
    sets = speech_sets(extra)
    decoders = {name: _new_decoder(settings) for name, settings in SEARCHES.items()}
    clips = [(set_name, clip) for set_name, members in sets.items() for clip in members]
    speech_s = sum(clip.seconds for _, clip in clips)
    low, high = UTTERANCE_S
    decoded: dict[str, list[list[Decoded]]] = {name: [] for name in decoders}
    for _ in range(rounds):
        for name, decoder in decoders.items():
            decoded[name].append([decode_as_it_arrives(decoder, clip.pcm) for _, clip in clips])
    result: JSON = {"speech_s": round(speech_s, 1), "rounds": rounds, "searches": {}}
    for name, by_round in decoded.items():
        errors: dict[str, list[int]] = {set_name: [0, 0] for set_name in sets}
        transcripts: dict[str, list[str]] = {set_name: [] for set_name in sets}
        for (set_name, clip), outcome in zip(clips, by_round[0], strict=True):
            errors[set_name][0] += word_errors(clip.words, outcome.text.split())
            errors[set_name][1] += len(clip.words)
            transcripts[set_name].append(outcome.text)
        all_errors = sum(e for e, _ in errors.values())
        all_words = sum(w for _, w in errors.values())
        every = [outcome for outcomes in by_round for outcome in outcomes]
        conversation_sized = [
            outcome
            for outcomes in by_round
            for (_, clip), outcome in zip(clips, outcomes, strict=True)
            if low <= clip.seconds <= high
        ]
        cpu = sum(o.feed_cpu_s + o.finish_cpu_s for o in every)
        result["searches"][name] = {
            "settings": dict(SEARCHES[name]),
            "word_errors": {k: f"{e}/{w}" for k, (e, w) in errors.items()},
            "wer": {k: round(e / w, 3) for k, (e, w) in errors.items()},
            "wer_all": round(all_errors / all_words, 3),
            "cpu_s_per_speech_s": round(cpu / speech_s / rounds, 4),
            "finish_cpu_ms_per_speech_s": round(
                sum(o.finish_cpu_s for o in every) / speech_s / rounds * 1000, 1
            ),
            "finish_ms": _ms([o.finish_wall_s for o in every]),
            "finish_ms_conversation_sized": _ms([o.finish_wall_s for o in conversation_sized]),
            "transcripts": transcripts,
        }
    return result


def describe_searches(result: JSON) -> list[str]:
    lines = [f"  search settings ({result['speech_s']} s of speech, {result['rounds']} rounds):"]
    for name, data in result["searches"].items():
        finish, short = data["finish_ms"], data["finish_ms_conversation_sized"]
        errors = ", ".join(f"{k} {v}" for k, v in data["word_errors"].items())
        lines.append(
            f"    {name:5} WER {data['wer_all']:.1%} ({errors});"
            f" CPU {data['cpu_s_per_speech_s']} s per s of speech;"
            f" finish p50 {finish['p50']} p95 {finish['p95']} max {finish['max']} ms"
            f" ({data['finish_cpu_ms_per_speech_s']} ms CPU per s of speech;"
            f" 1.5-2.1 s utterances p95 {short['p95']} ms)"
        )
    return lines


async def run(quick: bool, log: Callable[[str], None], extra: Sequence[Path] = ()) -> JSON:
    cpus = Cpus.detect()
    allowed = os.sched_getaffinity(0)
    pin(cpus.server)
    try:
        result = await measure(rounds=2 if quick else 8)
        result["searches"] = await asyncio.to_thread(compare_searches, 1 if quick else 3, extra)
    finally:
        os.sched_setaffinity(0, allowed)
    per = result["cpu_s_per_speech_s"]
    log(
        f"  CPU s per s of speech ({SEARCH_ENV}={result['search']}): batch {per['batch']},"
        f" 20 ms pieces {per['pieces']}, ours {per['ours']} -> ours/batch"
        f" {result['ours_over_batch']} (pieces/batch {result['pieces_over_batch']});"
        f" pocketsphinx's defaults in batch {per['batch_full']} -> ours/that"
        f" {result['ours_over_batch_full']}; {result['speech_s']} s of speech each"
    )
    for line in describe_searches(result["searches"]):
        log(line)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sphinx", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the search comparison")
    parser.add_argument(
        "--speech", type=Path, action="append", default=[], help="more recordings (a manifest)"
    )
    parser.add_argument("--json", type=Path, help="write the comparison here")
    args = parser.parse_args()
    pin(Cpus.detect().server)
    result = compare_searches(args.rounds, args.speech)
    for line in describe_searches(result):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
