"""heard_text: a reply cut to what was played, by word timings or by an estimate; and the
playback model turn taking uses to decide whether a reply is still playing."""

from __future__ import annotations

import pytest

from generated.models import OutputAudioFormat, ResponseAudioDelta
from handlers.heard import heard_text
from handlers.turn_taking import Playback

REPLY = "I cannot see the sky from here. What would you like the weather to be?"


def test_nothing_played_is_nothing_heard() -> None:
    assert heard_text(REPLY, 0, 4000) == ""
    assert heard_text("", 900, 4000) == ""
    assert heard_text(REPLY, 0, 4000, [("I ", 0, 100)]) == ""


def test_everything_played_is_the_whole_reply() -> None:
    assert heard_text(REPLY, 4000, 4000) == REPLY
    assert heard_text(REPLY + "  ", 5000, 4000) == REPLY


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.75, 0.9])
def test_the_estimate_keeps_whole_words_in_proportion(fraction: float) -> None:
    heard = heard_text(REPLY, round(4000 * fraction), 4000)
    assert REPLY.startswith(heard)
    # Whole words only: the cut falls at a word's end.
    assert heard == "" or REPLY[len(heard) : len(heard) + 1] in (" ", "")
    # About the share of the characters that the share of the audio gives (a word either way).
    assert abs(len(heard) - fraction * len(REPLY)) <= max(len(w) for w in REPLY.split()) + 1


def test_the_estimate_grows_with_what_was_played() -> None:
    lengths = [len(heard_text(REPLY, ms, 4000)) for ms in range(0, 4001, 100)]
    assert lengths == sorted(lengths)
    assert lengths[0] == 0 and lengths[-1] == len(REPLY)


def test_word_timings_decide_when_given() -> None:
    words = [("Hello ", 12, 412), ("there. ", 420, 640), ("How ", 900, 1100), ("are ", 1100, 1250)]
    reply = "Hello there. How are"
    assert heard_text(reply, 200, 1250, words) == ""  # less than half of "Hello"
    assert heard_text(reply, 250, 1250, words) == "Hello"
    assert heard_text(reply, 899, 1250, words) == "Hello there."
    # The timings, not the text's length: by its length "How" would be half heard at 906 ms,
    # by its timing at 1000 ms.
    assert heard_text(reply, 950, 1250) == "Hello there. How"
    assert heard_text(reply, 950, 1250, words) == "Hello there."
    assert heard_text(reply, 1250, 1250, words) == reply


def delta(sequence: int, text: str | None, final: bool = False) -> ResponseAudioDelta:
    return ResponseAudioDelta(
        response_id="resp_0123456789abcdef",
        item_id="item_0123456789abcdef",
        sequence=sequence,
        audio=b"",
        format=OutputAudioFormat.PCM16,
        sample_rate=24000,
        text=text,
        final=final,
    )


def test_playback_follows_deltas_and_reports() -> None:
    playback = Playback("resp_0123456789abcdef", "item_0123456789abcdef")
    playback.sent(delta(0, "One."), 1000, now=10.0)
    playback.sent(delta(1, "Two.", final=True), 1500, now=10.2)
    assert playback.text == "One. Two." and playback.last_sequence == 1
    # Played back to back from the first delta's arrival: 1.5 s from t = 10.
    assert playback.playing(11.4) and not playback.playing(11.6)
    assert playback.played_estimate(10.5) == 500
    assert playback.played_estimate(12.0) == 1500
    # The Receiver says it is at 200 ms at t = 11 (it started late): 1.3 s still to play.
    playback.reported(200, now=11.0)
    assert playback.playing(12.2) and not playback.playing(12.4)
    playback.reported(1500, now=12.3)
    assert playback.ended and not playback.playing(12.3)


def test_playback_cuts_by_the_synthesiser_word_timings_when_it_has_them() -> None:
    playback = Playback("resp_0123456789abcdef", "item_0123456789abcdef")
    playback.sent(delta(0, "Hello there friend."), 3000, now=0.0)
    # By characters, "there" sits at 947-1895 ms of the 3 s: heard at 1500 ms.
    assert playback.heard(1500) == "Hello there"
    # The synthesiser paused after "Hello": "there" sounds at 1800-2200 ms, not heard at 1500.
    playback.words = [("Hello ", 0, 500), ("there ", 1800, 2200), ("friend.", 2200, 3000)]
    assert playback.heard(1500) == "Hello"
    assert playback.heard(2100) == "Hello there"
    assert playback.heard(3000) == "Hello there friend."
    # No timings (the session's animation is off): the estimate, not "everything was heard".
    playback.words = []
    assert playback.heard(1500) == "Hello there"
    assert playback.heard(300) == ""
