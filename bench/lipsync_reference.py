"""``python -m bench.lipsync_reference [--rounds N]``: the estimate's two references side by side.

For a provider without timings the server fits a reference's marks onto the real audio. The
reference is either a whole espeak-ng synthesis read for its phoneme events (``synthesis``, the
former way) or espeak-ng's transcription with typical phoneme lengths (``text``). Both are made
as the server makes them (en-US voice, 175 words per minute) and judged, in one run:

* against known alignments: espeak-ng's exact marks (its phoneme and word events) on its own
  audio of the same text, in other voices and at other rates than the reference's, as a provider
  would speak it. Per condition: the share of 10 ms frames whose estimated viseme is the true one,
  and the mean absolute error of the words' starts and ends, for the whole-stretch fit
  (``single``/``chain``) and the streamed one (``place_prefix`` on the whole audio: the reference
  at its own pace from the first sound). en-US at 175 wpm is the ``synthesis`` reference's own
  voice and rate: there it is close to exact by construction, an upper bound, not a contest;
* on real speech it did not make (the Piper recordings, no alignments known): the share of
  10 ms frames where the mouth rests exactly when the audio is silent, per 150 ms delta, and
  visemes per second of speech (``bench.animation``'s figures);
* their cost: CPU time on the espeak-ng thread per sentence (``time.thread_time``, the
  reference's making only; the fit is the same for both), the two alternating text by text.

The texts: the repository's speech texts, ``bench.animation``'s two, and ``HELD_OUT`` (none of
them among ``bench.phoneme_lengths``'s training sentences).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pocketsphinx import Decoder

from bench.animation import judge, summarise, texts_and_recordings
from generated.models import Viseme
from handlers.animation.energy import frame_rms, viseme_frames
from handlers.animation.espeak import TimedSynthesis
from handlers.animation.estimate import fit_timeline, place_prefix, prefix_voicing
from handlers.animation.reference import REFERENCE_VOICE, ReferenceMethod
from handlers.animation.text_reference import PhonemeTranscriber, text_timeline
from handlers.animation.timeline import Timeline, WordSpan, samples_to_ms
from handlers.providers.tts.local import NORMAL_WORDS_PER_MINUTE, shared_engine

HELD_OUT = (
    "I'm sorry, I didn't catch that. Could you say it again?",
    "Your appointment is on Tuesday, the 14th of March, at 3:30 in the afternoon.",
    "Sunlight takes about eight minutes to travel from the sun to the earth.",
    "Of course! Here are three ideas: a picnic, a museum visit, or a bike ride.",
    "The recipe needs two cups of flour, one egg and a pinch of salt.",
    "Let's begin with something simple and build up from there.",
)
CONDITIONS = (
    ("en-US", 175),
    ("en-US", 140),
    ("en-US", 230),
    ("en-GB-x-rp", 175),
    ("en-GB-scotland", 160),
)
"""(espeak-ng voice, words per minute) of the audio whose exact marks are the truth."""
METHODS: tuple[ReferenceMethod, ...] = ("synthesis", "text")


class _Espeak:
    """Both references and the truth, each made on the espeak-ng thread."""

    def __init__(self) -> None:
        self.engine = shared_engine()
        self._synthesis: TimedSynthesis | None = None
        self._transcriber: PhonemeTranscriber | None = None

    def synthesize(self, text: str, voice: str, wpm: int) -> tuple[bytes, int, Timeline]:
        def job() -> tuple[bytes, Timeline | None]:
            if self._synthesis is None:
                self._synthesis = TimedSynthesis()
            return self._synthesis.run(
                text, voice, wpm, self.engine.sample_rate, self.engine.callback
            )

        pcm, timeline = self.engine.thread.submit(job).result()
        assert timeline is not None
        return pcm, self.engine.sample_rate, timeline

    def reference(self, method: ReferenceMethod, text: str) -> tuple[Timeline, float]:
        """The reference and the CPU seconds its making took on the espeak-ng thread."""

        def job() -> tuple[Timeline, float]:
            began = time.thread_time()
            if method == "synthesis":
                if self._synthesis is None:
                    self._synthesis = TimedSynthesis()
                _, timeline = self._synthesis.run(
                    text,
                    REFERENCE_VOICE,
                    NORMAL_WORDS_PER_MINUTE,
                    self.engine.sample_rate,
                    self.engine.callback,
                )
                assert timeline is not None
            else:
                if self._transcriber is None:
                    self._transcriber = PhonemeTranscriber()
                timeline = text_timeline(
                    self._transcriber, text, REFERENCE_VOICE, NORMAL_WORDS_PER_MINUTE
                )
            return timeline, time.thread_time() - began

        return self.engine.thread.submit(job).result()


TOLERANCE_FRAMES = 4
"""The lenient count: the true shape anywhere within 40 ms of the frame (audio and picture out
of step by less than that pass unnoticed; ITU-R BT.1359 puts detectability at +45/-125 ms)."""


def _frames_right(estimate: Timeline, truth: Timeline, frames: int) -> tuple[int, int, int]:
    """(frames with the true shape, with it within 40 ms, frames) over the frames where the
    truth's mouth is open."""
    got = viseme_frames(estimate, frames)
    want = viseme_frames(truth, frames)
    exact = near = judged = 0
    for index, shape in enumerate(want):
        if shape == Viseme.SIL:
            continue
        judged += 1
        exact += got[index] == shape
        window = got[max(0, index - TOLERANCE_FRAMES) : index + TOLERANCE_FRAMES + 1]
        near += shape in window
    return exact, near, judged


_ARPABET_VISEMES: dict[str, frozenset[Viseme]] = {
    phone: frozenset(visemes)
    for phone, visemes in {
        "AA": [Viseme.AA],
        "AE": [Viseme.AA],
        "AH": [Viseme.AA, Viseme.E],  # espeak-ng's V (AA) and @ (E) alike
        "AO": [Viseme.OH],
        "AW": [Viseme.AA],
        "AY": [Viseme.AA],
        "EH": [Viseme.E],
        "ER": [Viseme.RR, Viseme.E],
        "EY": [Viseme.E],
        "IH": [Viseme.IH],
        "IY": [Viseme.IH],
        "OW": [Viseme.OH],
        "OY": [Viseme.OH],
        "UH": [Viseme.OU],
        "UW": [Viseme.OU],
        "B": [Viseme.PP],
        "P": [Viseme.PP],
        "M": [Viseme.PP],
        "F": [Viseme.FF],
        "V": [Viseme.FF],
        "TH": [Viseme.TH],
        "DH": [Viseme.TH],
        "T": [Viseme.DD],
        "D": [Viseme.DD],
        "K": [Viseme.KK],
        "G": [Viseme.KK],
        "NG": [Viseme.KK],
        "HH": [Viseme.KK],
        "CH": [Viseme.CH],
        "JH": [Viseme.CH],
        "SH": [Viseme.CH],
        "ZH": [Viseme.CH],
        "S": [Viseme.SS],
        "Z": [Viseme.SS],
        "N": [Viseme.NN],
        "L": [Viseme.NN],
        "R": [Viseme.RR],
        "W": [Viseme.OU],
        "Y": [Viseme.IH],
    }.items()
}
"""pocketsphinx's phones (ARPAbet) onto the visemes espeak-ng's counterparts get
(``handlers.animation.visemes.ESPEAK_TO_VISEME``); an ambiguous one accepts either."""


@dataclass(frozen=True)
class _Aligned:
    """pocketsphinx's forced alignment of a recording with its text (10 ms frames)."""

    frames: list[frozenset[Viseme]]
    """Per frame, the shapes its phone accepts (empty: silence, not judged)."""
    words: list[tuple[float, float]]
    """(start, end) ms of each word of the text."""


def _align(text: str, pcm: bytes, rate: int) -> _Aligned:
    decoder = Decoder(loglevel="FATAL", samprate=rate)
    decoder.set_align_text(text)
    for _ in range(2):  # the words first, then their phones (pocketsphinx's two passes)
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        if not decoder.get_alignment():
            decoder.set_alignment()
    frames: list[frozenset[Viseme]] = [frozenset()] * (len(pcm) // 2 * 100 // rate)
    words: list[tuple[float, float]] = []
    for word in decoder.get_alignment():
        if word.name.startswith("<") or word.name.startswith("["):
            continue
        words.append((word.start * 10.0, (word.start + word.duration) * 10.0))
        for phone in word:
            for frame in range(phone.start, min(phone.start + phone.duration, len(frames))):
                frames[frame] = _ARPABET_VISEMES.get(phone.name, frozenset())
    assert len(words) == len(text.split()), (text, words)
    return _Aligned(frames, words)


def _against_alignment(estimate: Timeline, aligned: _Aligned) -> tuple[int, int, int, list[float]]:
    """(frames with an accepted shape, with one within 40 ms, frames judged, word edge errors)."""
    got = viseme_frames(estimate, len(aligned.frames))
    exact = near = judged = 0
    for index, accepted in enumerate(aligned.frames):
        if not accepted:
            continue
        judged += 1
        exact += got[index] in accepted
        window = got[max(0, index - TOLERANCE_FRAMES) : index + TOLERANCE_FRAMES + 1]
        near += any(shape in accepted for shape in window)
    errors: list[float] = []
    # The estimate's words partition the text at its words (one each, as the aligner's).
    assert len(estimate.words) == len(aligned.words)
    for word, (start, end) in zip(estimate.words, aligned.words, strict=True):
        errors.extend((abs(word.start_ms - start), abs(word.end_ms - end)))
    return exact, near, judged, errors


def _word_errors(estimate: Timeline, truth: Timeline, text: str) -> list[float]:
    """|start error| and |end error| (ms) of each word both partition the text at."""

    def by_start(words: tuple[WordSpan, ...]) -> dict[int, WordSpan]:
        out, at = {}, 0
        for word in words:
            out[at + len(word.text) - len(word.text.lstrip())] = word
            at += len(word.text)
        return out

    mine, true = by_start(estimate.words), by_start(truth.words)
    assert "".join(w.text for w in estimate.words) == text
    errors: list[float] = []
    for start in mine.keys() & true.keys():
        errors.append(abs(mine[start].start_ms - true[start].start_ms))
        errors.append(abs(mine[start].end_ms - true[start].end_ms))
    return errors


def run(rounds: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    espeak = _Espeak()
    bench_texts, recordings = texts_and_recordings()
    texts = [*bench_texts, *HELD_OUT]
    figures: dict[str, Any] = {"texts": len(texts)}

    references = {m: [espeak.reference(m, t)[0] for t in texts] for m in METHODS}
    for voice, wpm in CONDITIONS:
        truths = [espeak.synthesize(text, voice, wpm) for text in texts]
        for method in METHODS:
            for fit in ("whole", "stream"):
                right = near = frames = 0
                errors: list[float] = []
                for text, reference, (pcm, rate, truth) in zip(
                    texts, references[method], truths, strict=True
                ):
                    rms = frame_rms(pcm, rate)
                    duration = samples_to_ms(len(pcm) // 2, rate)
                    if fit == "whole":
                        estimate = fit_timeline(reference, rms, duration)
                    else:
                        estimate = place_prefix(reference, prefix_voicing(rms), duration)
                    r, n, f = _frames_right(estimate, truth, len(rms))
                    right, near, frames = right + r, near + n, frames + f
                    errors.extend(_word_errors(estimate, truth, text))
                key = f"{voice}_{wpm}_{method}_{fit}"
                figures[key + "_viseme_frames_percent"] = 100 * right / frames
                figures[key + "_viseme_within_40ms_percent"] = 100 * near / frames
                figures[key + "_word_edge_error_ms"] = statistics.fmean(errors)
                figures[key + "_word_edge_error_p90_ms"] = statistics.quantiles(errors, n=10)[-1]
        line = ", ".join(
            f"{method} {fit}: "
            f"{figures[f'{voice}_{wpm}_{method}_{fit}_viseme_frames_percent']:.1f}% frames "
            f"({figures[f'{voice}_{wpm}_{method}_{fit}_viseme_within_40ms_percent']:.1f}% ±40 ms), "
            f"words ±{figures[f'{voice}_{wpm}_{method}_{fit}_word_edge_error_ms']:.0f} ms "
            f"(p90 {figures[f'{voice}_{wpm}_{method}_{fit}_word_edge_error_p90_ms']:.0f})"
            for method in METHODS
            for fit in ("whole", "stream")
        )
        log(f"truth {voice} {wpm} wpm: {line}")

    alignments = [_align(text, pcm, rate) for text, pcm, rate in recordings]
    for method in METHODS:
        rows = []
        for fit in ("whole", "stream"):
            right = near = frames = 0
            errors = []
            for (text, pcm, rate), aligned in zip(recordings, alignments, strict=True):
                reference, _ = espeak.reference(method, text)
                rms = frame_rms(pcm, rate)
                duration = samples_to_ms(len(pcm) // 2, rate)
                if fit == "whole":
                    estimate = fit_timeline(reference, rms, duration)
                    rows.append(judge(estimate, pcm, rate))
                else:
                    estimate = place_prefix(reference, prefix_voicing(rms), duration)
                r, n, f, e = _against_alignment(estimate, aligned)
                right, near, frames = right + r, near + n, frames + f
                errors.extend(e)
            key = f"piper_{method}_{fit}"
            figures[key + "_viseme_frames_percent"] = 100 * right / frames
            figures[key + "_viseme_within_40ms_percent"] = 100 * near / frames
            figures[key + "_word_edge_error_ms"] = statistics.fmean(errors)
            figures[key + "_word_edge_error_p90_ms"] = statistics.quantiles(errors, n=10)[-1]
        vps, agree = summarise(rows)
        figures[f"piper_{method}_visemes_per_second"] = vps
        figures[f"piper_{method}_agreement_percent"] = 100 * agree
        log(
            f"Piper recordings, {method}: {vps:.1f} visemes/s of speech, "
            f"{100 * agree:.1f}% of 10 ms frames agree with audio energy; against pocketsphinx's "
            "alignment: "
            + ", ".join(
                f"{fit} {figures[f'piper_{method}_{fit}_viseme_frames_percent']:.1f}% frames "
                f"({figures[f'piper_{method}_{fit}_viseme_within_40ms_percent']:.1f}% ±40 ms), "
                f"words ±{figures[f'piper_{method}_{fit}_word_edge_error_ms']:.0f} ms "
                f"(p90 {figures[f'piper_{method}_{fit}_word_edge_error_p90_ms']:.0f})"
                for fit in ("whole", "stream")
            )
        )

    cpu: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(rounds):
        for text in texts:
            for method in METHODS:  # alternating, so drift in the load hits both alike
                cpu[method].append(espeak.reference(method, text)[1] * 1000)
    seconds = (
        statistics.fmean(
            samples_to_ms(
                len(espeak.synthesize(t, REFERENCE_VOICE, NORMAL_WORDS_PER_MINUTE)[0]) // 2,
                espeak.engine.sample_rate,
            )
            for t in texts
        )
        / 1000
    )
    for method in METHODS:
        figures[f"{method}_cpu_ms_per_sentence_median"] = statistics.median(cpu[method])
        figures[f"{method}_cpu_ms_per_sentence_mean"] = statistics.fmean(cpu[method])
    log(
        "CPU per sentence on the espeak-ng thread (median / mean of "
        f"{len(cpu['text'])}; sentences {seconds:.1f} s of speech on average): "
        + ", ".join(
            f"{m} {figures[f'{m}_cpu_ms_per_sentence_median']:.3f} / "
            f"{figures[f'{m}_cpu_ms_per_sentence_mean']:.3f} ms"
            for m in METHODS
        )
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="CPU rounds over the texts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    figures = run(args.rounds)
    if args.json:
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
