"""Polly speech marks, Azure audio.metadata and Google timepoints onto timelines and deltas."""

from __future__ import annotations

import json

from generated.models import OutputAudioFormat, ResponseAudioDelta, TimingSource, Viseme
from handlers.animation.providers import (
    azure_timeline,
    google_word_timeline,
    polly_timeline,
    ssml_with_word_marks,
)
from handlers.animation.timeline import rebase

# Polly's documented example text; marks as Polly writes them (one JSON object per line).
POLLY_TEXT = "Mary had a little lamb"
POLLY_MARKS = """\
{"time":6,"type":"word","start":0,"end":4,"value":"Mary"}
{"time":6,"type":"viseme","value":"p"}
{"time":73,"type":"viseme","value":"E"}
{"time":180,"type":"viseme","value":"r"}
{"time":292,"type":"viseme","value":"i"}
{"time":373,"type":"word","start":5,"end":8,"value":"had"}
{"time":373,"type":"viseme","value":"k"}
{"time":460,"type":"viseme","value":"a"}
{"time":521,"type":"viseme","value":"t"}
{"time":570,"type":"word","start":9,"end":10,"value":"a"}
{"time":570,"type":"viseme","value":"@"}
{"time":618,"type":"word","start":11,"end":17,"value":"little"}
{"time":618,"type":"viseme","value":"t"}
{"time":660,"type":"viseme","value":"i"}
{"time":702,"type":"viseme","value":"t"}
{"time":745,"type":"viseme","value":"t"}
{"time":795,"type":"word","start":18,"end":22,"value":"lamb"}
{"time":795,"type":"viseme","value":"t"}
{"time":850,"type":"viseme","value":"a"}
{"time":990,"type":"viseme","value":"p"}
{"time":1060,"type":"viseme","value":"sil"}
"""


def test_polly_speech_marks() -> None:
    timeline = polly_timeline(POLLY_MARKS.splitlines(), POLLY_TEXT, 1200)
    assert [(v.at_ms, v.viseme.value) for v in timeline.visemes][:4] == [
        (6, "PP"),
        (73, "E"),
        (180, "RR"),
        (292, "I"),
    ]
    assert timeline.visemes[-1] == timeline.visemes[-1].__class__(1060, Viseme.SIL)
    assert [w.text for w in timeline.words] == ["Mary ", "had ", "a ", "little ", "lamb"]
    assert [(w.start_ms, w.end_ms) for w in timeline.words][-1] == (795, 1060)
    assert timeline.source is TimingSource.PROVIDER


def test_polly_byte_offsets_are_not_characters() -> None:
    text = "Café au lait"
    marks = [
        {"time": 0, "type": "word", "start": 0, "end": 5, "value": "Café"},
        {"time": 300, "type": "word", "start": 6, "end": 8, "value": "au"},
        {"time": 450, "type": "word", "start": 9, "end": 13, "value": "lait"},
    ]
    timeline = polly_timeline(marks, text, 800)
    assert [w.text for w in timeline.words] == ["Café ", "au ", "lait"]


def azure_message(*items: dict[str, object]) -> str:
    return json.dumps({"Metadata": list(items)})


def test_azure_audio_metadata() -> None:
    text = "Hello, world."
    messages = [
        azure_message(
            {
                "Type": "WordBoundary",
                "Data": {
                    "Offset": 500_000,
                    "Duration": 3_000_000,
                    "text": {"Text": "Hello", "Length": 5, "BoundaryType": "WordBoundary"},
                },
            },
            {"Type": "Viseme", "Data": {"Offset": 500_000, "VisemeId": 12}},
            {"Type": "Viseme", "Data": {"Offset": 1_000_000, "VisemeId": 4}},
        ),
        azure_message(
            {
                "Type": "WordBoundary",
                "Data": {
                    "Offset": 3_500_000,
                    "Duration": 100_000,
                    "text": {"Text": ",", "Length": 1, "BoundaryType": "PunctuationBoundary"},
                },
            },
            {
                "Type": "WordBoundary",
                "Data": {
                    "Offset": 4_000_000,
                    "Duration": 4_000_000,
                    "text": {"Text": "world", "Length": 5, "BoundaryType": "WordBoundary"},
                },
            },
            {"Type": "Viseme", "Data": {"Offset": 4_000_000, "VisemeId": 7}},
            {"Type": "Viseme", "Data": {"Offset": 8_000_000, "VisemeId": 0}},
        ),
    ]
    timeline = azure_timeline(messages, text, 900)
    assert [(v.at_ms, v.viseme.value) for v in timeline.visemes] == [
        (50, "kk"),
        (100, "E"),
        (400, "U"),
        (800, "sil"),
    ]
    assert [(w.text, w.start_ms, w.end_ms) for w in timeline.words] == [
        ("Hello, ", 50, 350),
        ("world.", 400, 800),
    ]


def test_google_marks_before_each_word() -> None:
    text = "Fish & chips <now>"
    ssml, starts = ssml_with_word_marks(text)
    assert ssml == (
        '<speak><mark name="w0"/>Fish <mark name="w1"/>&amp; <mark name="w2"/>chips '
        '<mark name="w3"/>&lt;now&gt;</speak>'
    )
    points = [
        {"markName": "w0", "timeSeconds": 0.05},
        {"markName": "w1", "timeSeconds": 0.4},
        {"markName": "w2", "timeSeconds": 0.6},
        {"markName": "w3", "timeSeconds": 1.0},
    ]
    timeline = google_word_timeline(text, starts, points, 1500)
    assert "".join(w.text for w in timeline.words) == text
    assert [round(w.start_ms) for w in timeline.words] == [50, 400, 600, 1000]
    assert timeline.words[-1].end_ms == 1500 and timeline.visemes == ()


def test_a_delta_s_contract_fields_follow_the_session_flags() -> None:
    timeline = polly_timeline(POLLY_MARKS.splitlines(), POLLY_TEXT, 1200)
    (delta,) = rebase(timeline, [19200], 16000)
    visemes, words, source = delta.for_contract(visemes=True, words=False)
    message = ResponseAudioDelta(
        response_id="resp_0c9d8e7f6a5b4c3d",
        item_id="item_7f3a9c2e41b84d0a",
        sequence=0,
        audio=b"\0\0",
        format=OutputAudioFormat.PCM16,
        sample_rate=16000,
        final=True,
        visemes=visemes,
        words=words,
        timing_source=source,
    )
    dumped = message.model_dump(by_alias=True, exclude_none=True)
    assert dumped["visemes"][0] == {"offsetMs": 0, "id": "sil"}
    assert "words" not in dumped and dumped["timingSource"] == "provider"
    assert delta.for_contract(visemes=False, words=False) == (None, None, None)
