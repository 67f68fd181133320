"""Stream mode paces deltas: a provider's small chunks go out at once while the Receiver has
little audio queued (first audio is never held back), and merged into deltas of at most
``hold_ms`` once it has more, with every sample sent, in order."""

from __future__ import annotations

from collections.abc import AsyncIterator

from generated.models import TimingSource
from handlers.animation.timeline import Timeline
from handlers.pipeline import StreamPacing, merged
from handlers.providers.base import PcmChunk, TtsRequest
from handlers.providers.toolkit import NothingToClose
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import InstantStt, ScriptedLlm, tone

RATE = 24_000
CHUNK_MS = 20
CHUNKS = 60
"""1.2 s of speech per sentence, in 20 ms pieces, all at once (a provider faster than real time)."""


def chunk(ms: float, rate: int = RATE, timeline: Timeline | None = None) -> PcmChunk:
    return PcmChunk(bytes(2 * round(rate * ms / 1000)), rate, timeline)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_audio_and_a_short_queue_are_never_held() -> None:
    clock = Clock()
    pacing = StreamPacing(hold_ms=200, low_water_ms=400, clock=clock)

    assert not pacing.holds([chunk(20)], sent_ms=0, first_audio_at=None)
    # 1 s sent 0.7 s ago: 300 ms queued at the Receiver, under the low water mark.
    assert not pacing.holds([chunk(20)], sent_ms=1000, first_audio_at=clock.now - 0.7)


def test_a_long_queue_merges_chunks_up_to_hold_ms() -> None:
    clock = Clock()
    pacing = StreamPacing(hold_ms=200, low_water_ms=400, clock=clock)
    started = clock.now - 0.1  # 1 s sent from 0.1 s ago: 900 ms queued

    assert pacing.holds([chunk(20)] * 9, 1000, started)  # 180 ms, and another 20 fits
    assert not pacing.holds([chunk(20)] * 10, 1000, started)  # 200 ms: full
    assert not pacing.holds([chunk(120), chunk(120)], 1000, started)  # over, as one chunk can be
    assert pacing.holds([chunk(100)], 1000, started)


def test_merged_joins_runs_of_one_rate_and_keeps_the_last_timeline() -> None:
    first = Timeline((), (), 40.0, TimingSource.PROVIDER)
    last = Timeline((), (), 60.0, TimingSource.PROVIDER)
    pieces = merged(
        [chunk(20, timeline=first), chunk(20, timeline=last), chunk(20), chunk(10, rate=16_000)]
    )

    assert [(len(p.pcm), p.sample_rate, p.timeline) for p in pieces] == [
        (3 * 960, RATE, last),
        (320, 16_000, None),
    ]


class BurstTts(NothingToClose):
    """Speech for each sentence as CHUNKS pieces of CHUNK_MS, yielded without pause."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        samples = RATE * CHUNK_MS // 1000
        for index in range(CHUNKS):
            pcm = tone(samples, RATE, start=index * samples)
            self.sent.append(pcm)
            yield PcmChunk(pcm, RATE)


async def test_a_burst_of_small_chunks_goes_out_in_fewer_deltas_and_whole(serve: ServeFn) -> None:
    tts = BurstTts()
    server = await serve(
        factories={
            "stt": {"openai": lambda env: InstantStt()},
            "llm": {"openai": lambda env: ScriptedLlm()},
            "tts": {"openai": lambda env: tts},
        }
    )
    sender, receiver = await server.pair()
    await sender.emit(
        "session.update",
        {
            "stt": {"provider": "openai"},
            "llm": {"provider": "openai"},
            "tts": {"provider": "openai", "responseType": "stream"},
            "outputAudio": {"format": "pcm16", "sampleRate": RATE},
        },
    )
    await sender.wait_for("session.updated")
    await sender.send_pcm(clip(WEATHER))
    await sender.commit()

    final = await receiver.wait_for("response.audio.delta", lambda d: d["final"], within=20)
    deltas = [
        d for d in receiver.named("response.audio.delta") if d["responseId"] == final["responseId"]
    ]

    audio = b"".join(d["audio"] for d in deltas)
    assert audio == b"".join(tts.sent)  # every sample, in order, nothing twice
    chunk_bytes = 2 * RATE * CHUNK_MS // 1000
    assert len(deltas[0]["audio"]) == chunk_bytes  # first audio was not held back
    sizes_ms = [len(d["audio"]) / 2 / RATE * 1000 for d in deltas]
    assert max(sizes_ms) <= StreamPacing().hold_ms
    sentences = len(tts.sent) // CHUNKS
    assert sentences >= 2
    assert sum("text" in d for d in deltas) == sentences  # each sentence's text on its first
    # Once 400 ms are queued, 10 chunks a delta: far fewer deltas than chunks.
    assert len(deltas) < sentences * CHUNKS / 3, sizes_ms
