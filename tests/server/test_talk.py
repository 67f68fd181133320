"""The talk command against a live test server: one spoken turn, the reply written as WAV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.talk import talk
from tests.server.audio_checks import AUDIO_DIR, WEATHER, read_wav, rms, seconds
from tests.server.conftest import ServeFn


@pytest.mark.parametrize("mode", ["chain", "stream"])
async def test_talk_writes_the_spoken_reply(serve: ServeFn, tmp_path: Path, mode: str) -> None:
    server = await serve(tokens=frozenset({"talk-token"}))
    output = tmp_path / "reply.wav"
    result = await talk(
        server.url,
        server.path,
        AUDIO_DIR / WEATHER,
        output,
        mode=mode,
        token="talk-token",
        realtime=False,
        wait_seconds=30,
    )
    assert "weather" in result["transcript"].split()
    assert result["errors"] == []
    reply_words = len(result["reply"].split())
    assert reply_words > 0
    pcm, rate = read_wav(output.read_bytes())  # a whole, playable WAV file
    assert rate == 24000
    duration = seconds(pcm, rate)
    assert duration == pytest.approx(result["audio_seconds"])
    assert 0.1 * reply_words <= duration <= 1.0 * reply_words
    assert rms(pcm) > 300
    assert result["commit_to_transcript_ms"] >= 0
    assert result["commit_to_first_audio_ms"] >= result["commit_to_transcript_ms"]
    # The viseme track, on the reply's clock, beside the WAV.
    track = json.loads((tmp_path / "reply.visemes.json").read_text())
    assert track["timingSource"] == "provider"
    times = [mark["ms"] for mark in track["visemes"]]
    assert times and times == sorted(times) and times[-1] <= duration * 1000
    assert {mark["id"] for mark in track["visemes"]} - {"sil"}
    spoken = [w["text"].strip() for w in track["words"]]
    assert set(result["reply"].split()) <= set(spoken)
    ends = [d["startMs"] + d["durationMs"] for d in track["deltas"]]
    assert ends[-1] == pytest.approx(duration * 1000, abs=1)
