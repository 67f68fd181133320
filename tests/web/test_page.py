"""The browser page in Debian's headless Chromium, with a fake microphone fed from a WAV.

The real server (embedded offline providers) runs on loopback; ``drive_page.mjs`` (Playwright's
``playwright-core`` against the system Chromium) opens the page, which connects a Sender and a
Receiver of one session, speaks the WAV into the microphone, and plays the reply. The test
checks what the page itself recorded: the transcript it shows and the audio it scheduled; the
page's Web Audio calls (every buffer source started and stopped, logged by the driver); and, for
turn-taking, what the server's TurnTaking got from it (``response.cancel``, the
``response.audio.played`` reports, a barge-in by voice under server VAD) and the history each
report left.

Needs Chromium and Node.js with this folder's packages:
``apt-get install -y chromium nodejs npm && npm ci --prefix tests/web``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from generated.models import (
    CancelReason,
    ResponseAudioDelta,
    ResponseAudioPlayed,
    ResponseCancel,
    ResponseCancelled,
)
from handlers.pipeline import Reply
from handlers.providers.base import LlmRequest
from handlers.providers.llm.local import LocalLanguageModel
from handlers.turn_taking import TurnTaking
from handlers.vad import SpeechStarted, TurnEvent
from handlers.web import catalog_json
from tests.server.audio_checks import TIME, clip, make_wav, manifest
from tests.server.harness import RunningServer, make_config, make_registry, new_session_id

WEB_DIR = Path(__file__).parent
SPEECH = Path(__file__).parents[1] / "data" / "speech" / "what_is_the_weather_like_today.wav"
CHROMIUM = os.environ.get("METAHUMAN_CHROMIUM", "/usr/bin/chromium")
INSTALL = "apt-get install -y chromium nodejs npm && npm ci --prefix tests/web"
DRIVE_TIMEOUT_S = 100.0


def browser_tools() -> tuple[str, str]:
    """Node and Chromium, or a failure that says how to install them (never a skip)."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node (Node.js)")
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (or set METAHUMAN_CHROMIUM)")
    if not (WEB_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core in tests/web/node_modules")
    if missing:
        pytest.fail(f"the page test needs {', '.join(missing)}; install with: {INSTALL}")
    assert node is not None
    return node, CHROMIUM


def padded_wav(path: Path, before_s: float, after_s: float) -> Path:
    """The question with silence around it, 16-bit (what Chromium's fake capture reads). The fake
    microphone loops the file; the silence after it lets the page's detector commit."""
    with wave.open(str(SPEECH), "rb") as source:
        rate, width, channels = source.getframerate(), source.getsampwidth(), source.getnchannels()
        frames = source.readframes(source.getnframes())
    assert width == 2, "Chromium's fake capture wants 16-bit PCM"

    def silence(s: float) -> bytes:
        return b"\0" * (int(rate * s) * width * channels)

    with wave.open(str(path), "wb") as padded:
        padded.setnchannels(channels)
        padded.setsampwidth(width)
        padded.setframerate(rate)
        padded.writeframes(silence(before_s) + frames + silence(after_s))
    return path


async def drive(url: str, wav: Path | None, screenshot: Path, *extra: str) -> dict[str, Any]:
    """Run drive_page.mjs; what the page recorded, with the browser's console."""
    node, chromium = browser_tools()
    microphone = ["--wav", str(wav)] if wav is not None else []
    process = await asyncio.create_subprocess_exec(
        node,
        str(WEB_DIR / "drive_page.mjs"),
        "--url",
        url,
        *microphone,
        "--screenshot",
        str(screenshot),
        "--chromium",
        chromium,
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=WEB_DIR,
    )
    try:
        async with asyncio.timeout(DRIVE_TIMEOUT_S):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the browser did not finish within {DRIVE_TIMEOUT_S:g} s") from None
    assert process.returncode == 0, f"drive_page.mjs failed:\n{err.decode()[-4000:]}"
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where the screenshot goes: METAHUMAN_PAGE_SCREENSHOTS (a folder) to keep it, else tmp."""
    folder = Path(os.environ.get("METAHUMAN_PAGE_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


TOKEN = "page-token"


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    """The real server with the embedded providers; it wants a token (the page sends it)."""
    running = await RunningServer(make_config(tokens=frozenset({TOKEN})), make_registry()).start()
    try:
        yield running
    finally:
        await running.stop()


@dataclass(frozen=True, slots=True)
class PlayedReport:
    """One response.audio.played as the server took it, and what it made of it."""

    response_id: str
    played_ms: int
    audio_ms: int
    """The response's audio sent so far, by the server's count."""
    final: bool
    """Its final delta had been sent."""
    assistant: str | None
    """The history's last assistant message right after the report was applied."""
    heard: str
    """What the server's cut (Playback.heard) makes of ``played_ms``."""
    at: float
    """time.monotonic() when the report was applied."""


@dataclass(frozen=True, slots=True)
class Stopped:
    """One TurnTaking.cancel: why, when (time.monotonic()), and the responses it stopped."""

    reason: CancelReason
    at: float
    stopped: list[ResponseCancelled]


@dataclass(slots=True)
class TurnTakingSpy:
    """What the server's turn-taking got from the page: response.cancel payloads, the played
    reports, the cancels (the page's and barge-ins), when each response's first delta went out
    (and how far the microphone's audio had reached then), and the history the language model
    was given each turn."""

    cancels: list[ResponseCancel] = field(default_factory=list)
    reports: list[PlayedReport] = field(default_factory=list)
    stops: list[Stopped] = field(default_factory=list)
    first_sent: dict[str, float] = field(default_factory=dict)
    first_sent_heard_ms: dict[str, int] = field(default_factory=dict)
    """Per response: the Sender's audio the server had got (ms) when its first delta went out."""
    prompts: list[list[tuple[str, str]]] = field(default_factory=list)
    """The messages the language model got, per turn."""
    speech_started: list[SpeechStarted] = field(default_factory=list)
    """Server VAD's speech onsets (on the clock of the Sender's audio)."""


@pytest.fixture
def turn_taking(monkeypatch: pytest.MonkeyPatch) -> TurnTakingSpy:
    """Wraps the server's TurnTaking (class-level: every session's) to record what it gets. The
    session, and with it its history, is gone once the browser closes, so the history is read
    as each report is applied."""
    spy = TurnTakingSpy()
    request_cancel, cancel, played, delta_sent, handle = (
        TurnTaking.request_cancel,
        TurnTaking.cancel,
        TurnTaking.played,
        TurnTaking.delta_sent,
        TurnTaking._handle,
    )
    respond = LocalLanguageModel.respond

    async def recording_cancel(self: TurnTaking, payload: ResponseCancel) -> None:
        spy.cancels.append(payload)
        await request_cancel(self, payload)

    async def recording_stop(
        self: TurnTaking, reason: CancelReason, response_id: str | None = None
    ) -> list[ResponseCancelled]:
        at = time.monotonic()
        stopped = await cancel(self, reason, response_id)
        spy.stops.append(Stopped(reason, at, stopped))
        return stopped

    async def recording_handle(self: TurnTaking, sid: str, event: TurnEvent) -> None:
        if isinstance(event, SpeechStarted):
            spy.speech_started.append(event)
        await handle(self, sid, event)

    def recording_played(self: TurnTaking, payload: ResponseAudioPlayed) -> None:
        played(self, payload)
        playback = self.responses[payload.response_id]
        assistant = [m.content for m in self.session.turns.history if m.role == "assistant"]
        spy.reports.append(
            PlayedReport(
                response_id=payload.response_id,
                played_ms=payload.played_ms,
                audio_ms=playback.audio_ms,
                final=playback.final,
                assistant=assistant[-1] if assistant else None,
                heard=playback.heard(payload.played_ms),
                at=time.monotonic(),
            )
        )

    def recording_delta_sent(self: TurnTaking, reply: Reply, delta: ResponseAudioDelta) -> None:
        if delta.response_id not in spy.first_sent:
            spy.first_sent[delta.response_id] = time.monotonic()
            heard_ms = [sender.stream.pushed_ms for sender in self.inputs.values()]
            spy.first_sent_heard_ms[delta.response_id] = max(heard_ms, default=0)
        delta_sent(self, reply, delta)

    def recording_respond(self: LocalLanguageModel, request: LlmRequest) -> AsyncIterator[str]:
        spy.prompts.append([(m.role, m.content) for m in request.messages])
        return respond(self, request)

    monkeypatch.setattr(TurnTaking, "request_cancel", recording_cancel)
    monkeypatch.setattr(TurnTaking, "cancel", recording_stop)
    monkeypatch.setattr(TurnTaking, "played", recording_played)
    monkeypatch.setattr(TurnTaking, "_handle", recording_handle)
    monkeypatch.setattr(LocalLanguageModel, "respond", recording_respond)
    monkeypatch.setattr(TurnTaking, "delta_sent", recording_delta_sent)
    return spy


STOP_AFTER_MS = 1200
"""How far into the reply the stop control is clicked: a few words heard, most of it not."""


def sounded_ms(web_audio: list[dict[str, Any]], now: float) -> float:
    """Milliseconds of the buffers started (the page's Web Audio calls) that sound by context
    time ``now``, were none of them stopped: the played length an honest page reports."""
    return 1000 * sum(
        min(float(call["duration"]), max(0.0, now - float(call["when"])))
        for call in web_audio
        if call["op"] == "start"
    )


def assert_turn_went_through(result: dict[str, Any]) -> None:
    page = result["page"]
    where = f"page: {json.dumps(page)[:3000]}\nconsole: {result['console']}"
    assert page is not None, where
    assert page["connected"] == {"sender": True, "receiver": True}, where
    assert page["chunksSent"] > 0 and page["commits"] >= 1, where
    assert any("weather" in text.split() for text in page["transcripts"]), where
    assert "weather" in page["logText"], where  # shown on the page, not only recorded
    assert page["replies"] and page["replies"][0] in page["logText"], where
    assert page["deltas"] > 0, where
    assert page["scheduledSeconds"] > 1.0, where
    assert page["errors"] == [], where
    assert page["sessionUpdated"]["outputAudio"]["format"] == "pcm16", where
    assert not [line for line in result["console"] if line.startswith("pageerror")], where
    # Everything the page loads is served (a browser asks for /favicon.ico unless told).
    assert not [
        line
        for line in result["console"]
        if line.startswith("http ") or "Failed to load resource" in line
    ], where


async def test_kiosk_page_hears_the_microphone_and_plays_the_reply(
    server: RunningServer, tmp_path: Path
) -> None:
    wav = padded_wav(tmp_path / "question.wav", before_s=1.0, after_s=4.0)
    shot = screenshot_path(tmp_path, "kiosk")
    url = f"{server.url}/?autostart=1&sessionId={new_session_id('kiosk')}#token={TOKEN}"
    result = await drive(url, wav, shot)
    assert_turn_went_through(result)
    assert result["page"]["mouthMaxRy"] > 2.0  # the mouth opens while the reply plays
    assert shot.stat().st_size > 10_000


async def test_push_to_talk_with_settings_from_the_form(
    server: RunningServer, tmp_path: Path
) -> None:
    # The settings form switches the reply to `stream` (session.update -> session.updated). The
    # fake microphone starts when the page first asks for it (on the key press): 1.5 s of
    # silence (time for the microphone to open), the 2.1 s question, then silence; the space
    # bar is held for 4.5 s.
    wav = padded_wav(tmp_path / "question.wav", before_s=1.5, after_s=6.0)
    shot = screenshot_path(tmp_path, "push-to-talk")
    url = f"{server.url}/?sessionId={new_session_id('ptt')}&token={TOKEN}"
    result = await drive(url, wav, shot, "--push-to-talk", "4500", "--response-type", "stream")
    assert_turn_went_through(result)
    page = result["page"]
    assert page["commits"] == 1
    assert page["sessionUpdated"]["tts"]["responseType"] == "stream"
    assert page["deltas"] > 3  # streamed in chunks, played back to back


async def test_mouth_follows_the_visemes_of_a_delta(server: RunningServer, tmp_path: Path) -> None:
    url = f"{server.url}/?sessionId={new_session_id('visemes')}#token={TOKEN}"
    result = await drive(url, None, screenshot_path(tmp_path, "visemes"), "--visemes")
    mouth = result["page"]
    assert mouth is not None, result["console"]
    assert mouth["visemesScheduled"] == 2
    assert mouth["duringAa"] > 15, mouth  # wide open on "aa", though the audio is silent
    assert mouth["duringPP"] < 5, mouth  # shut on "PP"


async def test_stop_control_cancels_the_reply_and_reports_what_played(
    server: RunningServer, turn_taking: TurnTakingSpy, tmp_path: Path
) -> None:
    # Hands-free: the question, then 30 s of silence (the fake microphone loops the file; no
    # second turn within the test). The stop control is clicked once STOP_AFTER_MS of the
    # reply (7.4 s of audio) have played.
    wav = padded_wav(tmp_path / "question.wav", before_s=1.0, after_s=30.0)
    url = f"{server.url}/?autostart=1&sessionId={new_session_id('stop')}#token={TOKEN}"
    shot = screenshot_path(tmp_path, "stop")
    result = await drive(url, wav, shot, "--stop-after-ms", str(STOP_AFTER_MS))
    page, web_audio, click = result["page"], result["webAudio"], result["stopClick"]
    where = f"page: {json.dumps(page)[:3000]}\nconsole: {result['console']}\nspy: {turn_taking}"
    assert page is not None and click is not None, where
    assert page["errors"] == [], where

    # The page named the response playing; the server got that response.cancel.
    [response_id] = page["cancelsSent"]
    assert response_id is not None, where
    assert [c.response_id for c in turn_taking.cancels] == [response_id], where
    # It got response.cancelled back, recorded it and says so.
    [cancelled] = page["cancelled"]
    assert (cancelled["responseId"], cancelled["reason"]) == (response_id, "client_cancel"), where
    assert "reply stopped (client_cancel)" in page["logText"], where

    # The audio stopped at once: after the page's first stop() no buffer was started (not even
    # for the late delta the driver handed over after the click: dropped), and every buffer
    # still to sound then was stopped.
    assert page["dropped"] == 1, where
    calls = [call["op"] for call in web_audio]
    assert "stop" in calls, web_audio
    first_stop = calls.index("stop")
    assert "start" not in calls[first_stop:], web_audio
    stopped_at = web_audio[first_stop]["at"]
    stopped = {call["node"] for call in web_audio if call["op"] == "stop"}
    unfinished = {
        call["node"]
        for call in web_audio
        if call["op"] == "start" and call["when"] + call["duration"] > stopped_at
    }
    assert unfinished and unfinished <= stopped, web_audio

    # What it played, by the audio clock: between what had sounded just before the click and
    # just after it was handled (1 ms: the page rounds down to whole ms), and less than what it
    # had received. The stop and the server's response.cancelled each sent the report.
    reports = [r for r in turn_taking.reports if r.response_id == response_id]
    assert reports, where
    played_ms = reports[-1].played_ms
    assert {r.played_ms for r in reports} == {played_ms}, where
    assert page["played"] == [{"responseId": response_id, "playedMs": played_ms}] * len(reports)
    low, high = sounded_ms(web_audio, click["before"]), sounded_ms(web_audio, click["after"])
    assert low >= STOP_AFTER_MS and low - 1 <= played_ms <= high, (low, played_ms, high, where)
    received_ms = sounded_ms(web_audio, float("inf"))
    assert played_ms < received_ms - 500 and played_ms < reports[-1].audio_ms - 500, where

    # The history keeps what was heard: the reply cut where the page stopped it.
    reply = page["replies"][0]
    kept = reports[-1].assistant
    assert kept == reports[-1].heard, where
    assert kept and reply.startswith(kept) and len(kept) < len(reply), (kept, reply)


async def test_reply_played_to_its_end_is_reported_whole(
    server: RunningServer, turn_taking: TurnTakingSpy, tmp_path: Path
) -> None:
    wav = padded_wav(tmp_path / "question.wav", before_s=1.0, after_s=30.0)
    url = f"{server.url}/?autostart=1&sessionId={new_session_id('played')}#token={TOKEN}"
    result = await drive(url, wav, screenshot_path(tmp_path, "played"), "--until-played")
    page = result["page"]
    where = f"page: {json.dumps(page)[:3000]}\nconsole: {result['console']}\nspy: {turn_taking}"
    assert page is not None, where
    assert page["errors"] == [] and page["cancelled"] == [] and turn_taking.cancels == [], where

    [report] = turn_taking.reports
    assert page["played"] == [{"responseId": report.response_id, "playedMs": report.played_ms}]
    # The whole reply: the server counts its audio in whole ms rounded down, the page sums its
    # buffers' lengths and rounds down, so the two differ by under 1 ms.
    assert report.final and report.audio_ms > 1000, where
    assert abs(report.played_ms - report.audio_ms) <= 1, where
    # Rounded as the page rounds (down, past a float sum's last-bit error: 7363.999999999999
    # is 7364 ms of buffers), so the two agree to the ms.
    assert report.played_ms == math.floor(sounded_ms(result["webAudio"], float("inf")) + 1e-6), (
        where
    )
    # Sent once it had played, not when the audio arrived: playback starts after the first
    # delta went out, so the report cannot come sooner than the audio's length after it (less
    # 50 ms for the two clocks' granularity).
    took_s = report.at - turn_taking.first_sent[report.response_id]
    assert took_s >= report.audio_ms / 1000 - 0.05, (took_s, report)
    # All of it was heard: the history keeps the whole reply.
    assert report.assistant == page["replies"][0], where


HISTORY = "tell_me_about_the_history_of.wav"
SPEECH_EDGE_S = 0.25
"""Silence at each end of a speech clip (tests/data/speech/README.md)."""
BARGE_IN_WAV = (1.0, HISTORY, 6.5, TIME, 2.0)
"""The microphone's take, played once: 1 s of silence (the page connects and opens the
microphone), the first question (5.2 s of words), 6.5 s of silence between the clips, the second
question, silence. The first reply (11.5 s of audio: sentences of 5.1, 4.8 and 1.7 s) starts
playing about 1 s after the question's words end; the second question's words start 7 s after
them: about 6 s into the reply, in its second sentence, with 5 s of it left (room for a reply
that comes seconds later on a loaded machine)."""
JITTER_S = 0.12
"""app.js's JITTER_S: a reply starts playing this long after its first delta arrives."""


def conversation_wav(path: Path, *parts: str | float) -> tuple[Path, list[tuple[float, float]]]:
    """A WAV of speech clips (names in tests/data/speech) and silences (seconds), for the fake
    microphone; with where each clip's words start and end in it (seconds)."""
    rate = 16_000
    pcm, words = b"", []
    for part in parts:
        if isinstance(part, str):
            start = len(pcm) / 2 / rate
            end = start + float(manifest()[part]["seconds"])
            words.append((start + SPEECH_EDGE_S, end - SPEECH_EDGE_S))
            pcm += clip(part)
        else:
            pcm += bytes(2 * round(part * rate))
    path.write_bytes(make_wav(pcm, rate))
    return path, words


async def test_speaking_over_the_reply_stops_it_and_starts_a_new_turn(
    server: RunningServer, turn_taking: TurnTakingSpy, tmp_path: Path
) -> None:
    # Hands-free with server VAD (kiosk mode): the question, silence while the reply comes and
    # plays, then a second question over the reply: a barge-in, heard by the server's VAD.
    wav, [_, (second_from_s, _)] = conversation_wav(tmp_path / "barge-in.wav", *BARGE_IN_WAV)
    url = f"{server.url}/?autostart=1&vad=server&sessionId={new_session_id('barge')}#token={TOKEN}"
    shot = screenshot_path(tmp_path, "barge-in")
    result = await drive(url, wav, shot, "--barge-in", "--no-loop", "--timeout-ms", "25000")
    page, web_audio, seen = result["page"], result["webAudio"], result["cancelsSeen"]
    where = (
        f"page: {json.dumps(page)[:3000]}\nconsole: {result['console']}\n"
        f"cancels seen: {seen}\nweb audio: {web_audio}\nspy: {turn_taking}"
    )
    assert page is not None and page["errors"] == [], where
    assert not [line for line in result["console"] if line.startswith("pageerror")], where

    # Two turns, one reply each; the first was stopped by the second question, a barge-in.
    assert page["commits"] == 2 and len(page["transcripts"]) == 2, where
    assert "history" in page["transcripts"][0].split(), where
    assert "time" in page["transcripts"][1].split(), where
    assert page["replies"][1] in page["logText"], where
    first_id, second_id = list(turn_taking.first_sent)
    [barge_in] = turn_taking.stops
    assert barge_in.reason is CancelReason.BARGE_IN, where
    assert [c.response_id for c in barge_in.stopped] == [first_id], where
    assert turn_taking.cancels == [] and page["cancelsSent"] == [], where  # no stop control
    # It was the person's speech over the reply that did it: the second question's onset (on
    # the server's clock of the microphone's audio) fell while the first reply played.
    _, second_onset = turn_taking.speech_started
    reply_from_ms = turn_taking.first_sent_heard_ms[first_id] + 1000 * JITTER_S
    audio_ms = barge_in.stopped[0].audio_sent_ms
    assert reply_from_ms < second_onset.audio_start_ms < reply_from_ms + audio_ms, where
    assert abs(second_onset.audio_start_ms - 1000 * second_from_s) < 500, where

    # The page got response.cancelled (barge_in) and says so.
    [cancelled] = page["cancelled"]
    assert (cancelled["responseId"], cancelled["reason"]) == (first_id, "barge_in"), where
    assert "reply stopped (barge_in)" in page["logText"], where
    [handled] = seen
    assert handled["responseId"] == first_id, where

    # The reply's audio stopped at once: every buffer of it still to sound was stopped while
    # the page handled response.cancelled, none of it started after, and the late delta handed
    # over then was dropped. The second reply starts at once, not after the stopped one's tail.
    first_reply = [c for c in web_audio if c["op"] == "start" and c.get("response") == first_id]
    second_reply = [c for c in web_audio if c["op"] == "start" and c.get("response") == second_id]
    stops = [c for c in web_audio if c["op"] == "stop"]
    assert first_reply and second_reply and stops, where
    assert all(handled["before"] <= c["at"] <= handled["after"] for c in stops), where
    assert all(c["at"] < handled["before"] for c in first_reply), where
    unfinished = {c["node"] for c in first_reply if c["when"] + c["duration"] > handled["before"]}
    assert unfinished and unfinished == {c["node"] for c in stops}, where
    assert page["dropped"] == 1, where
    assert second_reply[0]["when"] <= second_reply[0]["at"] + JITTER_S + 0.01, where

    # What the page reports it played: what had sounded by the audio clock when it stopped
    # (1 ms: it rounds down), less than the reply's audio, and what had played between the
    # reply's start and the server's cancel (its first delta went out, the cancel, both by the
    # server's clock: 150 ms for the page to get them).
    [report] = turn_taking.reports  # sent on response.cancelled; the second reply still plays
    played_ms = report.played_ms
    assert page["played"] == [{"responseId": first_id, "playedMs": played_ms}], where
    low, high = sounded_ms(web_audio, handled["before"]), sounded_ms(web_audio, handled["after"])
    assert low - 1 <= played_ms <= high, (low, played_ms, high, where)
    assert played_ms < audio_ms - 1000, where
    until_cancel_ms = 1000 * (barge_in.at - turn_taking.first_sent[first_id] - JITTER_S)
    assert abs(played_ms - until_cancel_ms) < 150, (played_ms, until_cancel_ms, where)
    # ... and it stopped soon after the person started to speak (VAD takes min_speech_ms, 250,
    # and a few frames to be sure): the reply had played up to about the second onset.
    late_ms = reply_from_ms + played_ms - second_onset.audio_start_ms
    assert 0 < late_ms < 1000, (late_ms, where)

    # The history keeps what was heard: the reply cut where the page stopped it; the second
    # question's turn was answered with that history.
    reply = page["replies"][0]
    kept = report.assistant
    assert kept == report.heard, where
    assert kept and reply.startswith(kept) and len(kept) < len(reply), (kept, reply)
    first_question, second_question = page["transcripts"]
    assert turn_taking.prompts == [
        [("user", first_question)],
        [("user", first_question), ("assistant", kept), ("user", second_question)],
    ], where


async def test_page_shows_a_refused_token(server: RunningServer, tmp_path: Path) -> None:
    url = f"{server.url}/?sessionId={new_session_id('refused')}#token=wrong"
    result = await drive(url, None, screenshot_path(tmp_path, "refused"), "--load-only")
    page = result["page"]
    assert page is not None, result["console"]
    assert page["refused"] == {"sender": "unauthorized", "receiver": "unauthorized"}, page
    assert page["connected"] == {"sender": False, "receiver": False}, page
    assert "connection refused (unauthorized)" in page["logText"], page["logText"]


async def test_page_shows_a_custom_error(server: RunningServer, tmp_path: Path) -> None:
    url = f"{server.url}/?sessionId={new_session_id('error')}#token={TOKEN}"
    shot = screenshot_path(tmp_path, "error")
    result = await drive(url, None, shot, "--load-only", "--empty-commit")
    page = result["page"]
    assert page is not None, result["console"]
    assert [(e["role"], e["code"]) for e in page["errors"]] == [("sender", "empty_buffer")], page
    assert "sender error empty_buffer" in page["logText"], page["logText"]


async def test_page_assets_and_catalog_are_served(server: RunningServer) -> None:
    async with ClientSession() as http:
        async with http.get(f"{server.url}/") as response:
            assert response.status == 200
            html = await response.text()
        assert '<script src="static/vendor/socket.io.min.js">' in html
        for asset in ("app.js", "capture-worklet.js", "page.css", "vendor/socket.io.min.js"):
            async with http.get(f"{server.url}/static/{asset}") as response:
                assert response.status == 200, asset
        async with http.get(f"{server.url}/catalog.json") as response:
            catalog = await response.json()
        async with http.get(f"{server.url}/page-config.json") as response:
            assert await response.json() == {"socketioPath": server.path}
    assert catalog == catalog_json()
    assert catalog["tts"]["local"]["defaultVoice"] in catalog["tts"]["local"]["voices"]
    assert set(catalog["responseTypes"]) == {"single", "chain", "stream"}
    assert "local" in catalog["stt"] and "openai" in catalog["llm"]
