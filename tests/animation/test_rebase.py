"""The aligner: marks of a reply re-based onto the deltas actually sent, each on its own clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from generated.models import TimingSource, Viseme, VisemeMark
from handlers.animation.timeline import (
    DeltaAligner,
    Timeline,
    VisemeAt,
    WordSpan,
    partition_words,
    rebase,
)

V = Viseme
HELLO_THERE = Timeline(
    visemes=(
        VisemeAt(12, V.KK),
        VisemeAt(62, V.E),
        VisemeAt(112, V.NN),
        VisemeAt(219, V.OH),
        VisemeAt(420, V.TH),
        VisemeAt(480, V.E),
        VisemeAt(640, V.SIL),
    ),
    words=(WordSpan("Hello ", 12, 400), WordSpan("there.", 420, 640)),
    duration_ms=700,
    source=TimingSource.PROVIDER,
)


def pairs(marks: Sequence[VisemeMark]) -> list[tuple[int, str]]:
    return [(m.offset_ms, m.id.value) for m in marks]


def test_one_delta_carries_the_whole_reply() -> None:
    (only,) = rebase(HELLO_THERE, [int(0.7 * 24000)], 24000)
    assert pairs(only.visemes) == [
        (0, "sil"),
        (12, "kk"),
        (62, "E"),
        (112, "nn"),
        (219, "O"),
        (420, "TH"),
        (480, "E"),
        (640, "sil"),
    ]
    assert [(w.text, w.offset_ms, w.duration_ms) for w in only.words] == [
        ("Hello ", 12, 388),
        ("there.", 420, 220),
    ]
    assert only.source is TimingSource.PROVIDER and not only.continued_word


def test_a_split_word_is_carried_by_both_deltas_on_their_own_clocks() -> None:
    # 300 ms + 400 ms at 16 kHz: "Hello" runs from 12 to 400, across the cut at 300.
    first, second = rebase(HELLO_THERE, [4800, 6400], 16000)
    assert [(w.text, w.offset_ms, w.duration_ms) for w in first.words] == [("Hello ", 12, 288)]
    assert [(w.text, w.offset_ms, w.duration_ms) for w in second.words] == [
        ("Hello ", 0, 100),
        ("there.", 120, 220),
    ]
    assert second.continued_word and not first.continued_word
    # The second delta starts in the shape held at the cut (O since 219 ms).
    assert pairs(second.visemes) == [(0, "O"), (120, "TH"), (180, "E"), (340, "sil")]
    assert pairs(first.visemes)[-1] == (219, "O")


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
def test_resampling_does_not_move_the_marks(rate: int) -> None:
    # The same 100 ms deltas counted at any output rate give the same offsets.
    sizes = [rate // 10] * 7
    reference = rebase(HELLO_THERE, [2400] * 7, 24000)
    assert [pairs(d.visemes) for d in rebase(HELLO_THERE, sizes, rate)] == [
        pairs(d.visemes) for d in reference
    ]


def test_many_small_deltas_do_not_drift() -> None:
    # 441 samples at 44.1 kHz is exactly 10 ms; 70 of them cover the reply.
    deltas = rebase(HELLO_THERE, [441] * 70, 44100)
    starts = [i * 10 for i in range(70)]
    absolute = sorted(
        {
            start + m.offset_ms: m.id
            for start, d in zip(starts, deltas, strict=True)
            for m in d.visemes
        }
    )
    assert {12, 62, 112, 219, 420, 480, 640} <= set(absolute)
    for start, delta in zip(starts, deltas, strict=True):
        assert all(0 <= m.offset_ms < 10 for m in delta.visemes)
        assert delta.visemes[0].offset_ms == 0
        assert delta.visemes[0].id == HELLO_THERE.viseme_at(start)


def test_sentences_are_placed_one_after_the_other() -> None:
    aligner = DeltaAligner()
    aligner.append(HELLO_THERE)  # 700 ms
    aligner.append_silence(100)
    aligner.append(HELLO_THERE)
    first = aligner.take(24000 * 7 // 10, 24000)
    pause = aligner.take(2400, 24000)
    second = aligner.take(24000 * 7 // 10, 24000)
    assert pairs(first.visemes) == pairs(second.visemes)
    assert [w.text for w in second.words] == ["Hello ", "there."]
    assert pairs(pause.visemes) == [(0, "sil")] and pause.words == ()


def test_the_words_of_sentences_joined_give_the_reply_s_text() -> None:
    # Each sentence's last word has no space after it; the reply joins sentences with one.
    aligner = DeltaAligner()
    aligner.append(HELLO_THERE)
    aligner.append_silence(100)
    aligner.append(HELLO_THERE)
    assert "".join(word.text for word in aligner.words) == "Hello there. Hello there."
    aligner.revise(HELLO_THERE)  # the second sentence's marks again: no second space
    assert "".join(word.text for word in aligner.words) == "Hello there. Hello there."


def test_the_source_is_the_timeline_s_a_delta_starts_in() -> None:
    estimated = Timeline(HELLO_THERE.visemes, (), 700, TimingSource.ESTIMATED)
    aligner = DeltaAligner()
    aligner.append(HELLO_THERE)
    aligner.append(estimated)
    sources = [aligner.take(24000 * 7 // 10, 24000).source for _ in range(2)]
    assert sources == [TimingSource.PROVIDER, TimingSource.ESTIMATED]


def test_a_rate_change_between_deltas_keeps_the_clock() -> None:
    aligner = DeltaAligner()
    aligner.append(HELLO_THERE)
    aligner.take(16000 * 3 // 10, 16000)  # 300 ms
    second = aligner.take(24000 * 4 // 10, 24000)  # 400 ms
    assert pairs(second.visemes) == [(0, "O"), (120, "TH"), (180, "E"), (340, "sil")]


def test_an_empty_delta_and_no_marks() -> None:
    aligner = DeltaAligner()
    aligner.append(HELLO_THERE)
    empty = aligner.take(0, 24000)
    assert empty.visemes == () and empty.words == ()
    bare = DeltaAligner().take(2400, 24000)
    assert bare.visemes == () and bare.words == () and bare.source is None


def test_marks_in_one_millisecond_keep_the_later() -> None:
    crowded = Timeline(
        (VisemeAt(10.2, V.PP), VisemeAt(10.7, V.AA), VisemeAt(30, V.SIL)),
        (),
        50,
        TimingSource.PROVIDER,
    )
    (only,) = rebase(crowded, [800], 16000)
    assert pairs(only.visemes) == [(0, "sil"), (10, "aa"), (30, "sil")]


def test_partition_words_joins_back_to_the_text() -> None:
    text = "  Well, it's 42 degrees."
    pieces = partition_words(text, [2, 8, 13, 16])
    assert pieces == ["  Well, ", "it's ", "42 ", "degrees."]
    assert "".join(pieces) == text
    assert partition_words(text, []) == []


def test_a_revised_stretch_replaces_its_marks_and_keeps_earlier_ones() -> None:
    aligner = DeltaAligner()
    aligner.append(HELLO_THERE)  # the first sentence, whole
    partial = Timeline(
        (VisemeAt(0, V.SIL), VisemeAt(50, V.PP)),
        (WordSpan("by", 50, 100),),
        100,
        TimingSource.ESTIMATED,
    )
    aligner.append(partial)  # the second, while it streams
    first = aligner.take(700 * 16, 16_000)
    aligner.revise(
        Timeline(
            (VisemeAt(0, V.SIL), VisemeAt(50, V.PP), VisemeAt(150, V.AA)),
            (WordSpan("bye", 50, 250),),
            300,
            TimingSource.PROVIDER,
        )
    )
    second = aligner.take(300 * 16, 16_000)

    assert first.source is TimingSource.PROVIDER
    # The next sentence was known when the delta was cut: its last word runs up to it.
    assert [w.text for w in first.words] == ["Hello ", "there. "]
    assert pairs(second.visemes) == [(0, "sil"), (50, "PP"), (150, "aa")]
    assert [(w.text, w.offset_ms, w.duration_ms) for w in second.words] == [("bye", 50, 200)]
    assert second.source is TimingSource.PROVIDER  # the revision's source replaced the partial's
    assert [w.text for w in aligner.words] == ["Hello ", "there. ", "bye"]
    assert aligner.words[-1].start_ms == 750  # on the response's clock


def test_a_stretch_whose_estimate_ran_past_its_audio_does_not_hide_the_next_ones_marks() -> None:
    # A streamed sentence's estimate keeps espeak-ng's pace and may run past the audio that
    # came; the next sentence's marks start where that audio ends.
    aligner = DeltaAligner()
    aligner.append(
        Timeline(
            (VisemeAt(0, V.SIL), VisemeAt(10, V.AA), VisemeAt(350, V.OH), VisemeAt(420, V.E)),
            (),
            300,
            TimingSource.ESTIMATED,
        )
    )
    aligner.append(
        Timeline(
            (VisemeAt(0, V.SIL), VisemeAt(20, V.PP), VisemeAt(60, V.E)),
            (),
            200,
            TimingSource.ESTIMATED,
        )
    )

    first = aligner.take(300 * 16, 16_000)
    second = aligner.take(200 * 16, 16_000)

    assert pairs(first.visemes) == [(0, "sil"), (10, "aa")]
    assert pairs(second.visemes) == [(0, "sil"), (20, "PP"), (60, "E")]


def test_lengthen_keeps_the_marks_over_more_audio() -> None:
    aligner = DeltaAligner()
    aligner.append(replace(HELLO_THERE, duration_ms=100))
    aligner.lengthen(700)

    whole = aligner.take(700 * 16, 16_000)

    assert pairs(whole.visemes) == pairs(rebase(HELLO_THERE, [700 * 16], 16_000)[0].visemes)
