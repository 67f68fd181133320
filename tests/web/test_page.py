"""The browser page in Debian's headless Chromium, with a fake microphone fed from a WAV.

The real server (embedded offline providers) runs on loopback; ``drive_page.mjs`` (Playwright's
``playwright-core`` against the system Chromium) opens the page, which connects a Sender and a
Receiver of one session, speaks the WAV into the microphone, and plays the reply. The test
checks what the page itself recorded: the transcript it shows and the audio it scheduled; the
page's Web Audio calls (every buffer source started and stopped, logged by the driver); and, for
turn-taking, what the server's TurnTaking got from it (``response.cancel``, the
``response.audio.played`` reports) and the history each report left.

Needs Chromium and Node.js with this folder's packages:
``apt-get install -y chromium nodejs npm && npm ci --prefix tests/web``.
"""

from __future__ import annotations

import asyncio
import json
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

from generated.models import ResponseAudioDelta, ResponseAudioPlayed, ResponseCancel
from handlers.pipeline import Reply
from handlers.turn_taking import TurnTaking
from handlers.web import catalog_json
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


@dataclass(slots=True)
class TurnTakingSpy:
    """What the server's turn-taking got from the page: response.cancel payloads, the played
    reports, and when each response's first delta went out."""

    cancels: list[ResponseCancel] = field(default_factory=list)
    reports: list[PlayedReport] = field(default_factory=list)
    first_sent: dict[str, float] = field(default_factory=dict)


@pytest.fixture
def turn_taking(monkeypatch: pytest.MonkeyPatch) -> TurnTakingSpy:
    """Wraps the server's TurnTaking (class-level: every session's) to record what it gets. The
    session, and with it its history, is gone once the browser closes, so the history is read
    as each report is applied."""
    spy = TurnTakingSpy()
    request_cancel, played, delta_sent = (
        TurnTaking.request_cancel,
        TurnTaking.played,
        TurnTaking.delta_sent,
    )

    async def recording_cancel(self: TurnTaking, payload: ResponseCancel) -> None:
        spy.cancels.append(payload)
        await request_cancel(self, payload)

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
        spy.first_sent.setdefault(delta.response_id, time.monotonic())
        delta_sent(self, reply, delta)

    monkeypatch.setattr(TurnTaking, "request_cancel", recording_cancel)
    monkeypatch.setattr(TurnTaking, "played", recording_played)
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
    assert report.played_ms == int(sounded_ms(result["webAudio"], float("inf"))), where
    # Sent once it had played, not when the audio arrived: playback starts after the first
    # delta went out, so the report cannot come sooner than the audio's length after it (less
    # 50 ms for the two clocks' granularity).
    took_s = report.at - turn_taking.first_sent[report.response_id]
    assert took_s >= report.audio_ms / 1000 - 0.05, (took_s, report)
    # All of it was heard: the history keeps the whole reply.
    assert report.assistant == page["replies"][0], where


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
