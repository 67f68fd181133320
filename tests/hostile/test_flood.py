"""The hostile-input flood: hypothesis writes >= 10,000 events (the contract's event names and
unknown ones, names that are not strings, wrong payloads, binary junk, WAV headers, oversize and
deeply nested payloads, raw Engine.IO/Socket.IO frames) sent over 20 sessions' raw websockets.

Afterwards: no connection dropped, no traceback in the log, memory flat, every connection still
answered, and a real turn on a flooded session within 10 s. Figures are printed (-s shows them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from generated.events import Event
from tests.server.audio_checks import WEATHER, clip
from tests.server.conftest import ServeFn
from tests.server.fakes import InstantStt
from tests.server.harness import RunningServer, new_session_id, run_turn

SESSIONS = 20
EXAMPLES = 3400
PER_EXAMPLE = 3
MIN_EVENTS = 10_000
MAX_EVENT_BYTES = 64 * 1024
PLAN_SEED = 1
"""The flood plan CI runs (see test_hostile_flood)."""
RSS_GROWTH_LIMIT = 64 * 1024 * 1024
TURN_WITHIN_S = 10.0
PROBE = "probe.after.flood"

Frame = str | bytes
Packet = tuple[Frame, ...]
"""The frames of one event: its text frame, then its binary attachments."""

CONTRACT_NAMES = [event.value for event in Event]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
names = (
    st.sampled_from(CONTRACT_NAMES)
    | st.sampled_from(["connect", "disconnect", "*", "x"])
    | st.text(max_size=30)
)
not_names = (
    st.integers()
    | st.none()
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.floats(allow_nan=False)
)
settings_like = st.fixed_dictionaries(
    {},
    optional={
        "stt": st.fixed_dictionaries(
            {},
            optional={
                "provider": st.sampled_from(["local", "openai", "x"]),
                "language": st.text(max_size=6),
            },
        ),
        "llm": st.fixed_dictionaries(
            {}, optional={"instructions": st.text(max_size=40), "temperature": st.floats(-1, 3)}
        ),
        "inputAudio": st.fixed_dictionaries(
            {},
            optional={
                "format": st.sampled_from(["pcm16", "wav", "mp3"]),
                "sampleRate": st.integers(-1, 200_000),
            },
        ),
    },
)


@st.composite
def wav_header(draw: st.DrawFn) -> bytes:
    # Rates below 8 kHz are left out until WAV headers are validated before resampling (issue
    # 12's second finding: a 1 Hz header expands a few bytes into megabytes, on the loop).
    rate = draw(st.sampled_from([0, 8000, 16000, 22050, 48000, 2**31 - 1]))
    channels = draw(st.sampled_from([0, 1, 2, 7]))
    bits = draw(st.sampled_from([0, 8, 16, 24, 32]))
    data = draw(st.binary(max_size=64))
    size = draw(st.sampled_from([len(data), 0, 2**32 - 1]))
    fmt = struct.pack(
        "<HHIIHH",
        1,
        channels,
        rate,
        rate * channels * bits // 8 % 2**32,
        channels * bits // 8 % 2**16,
        bits,
    )
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", size)
        + data
    )


def event(name: Any, *args: Any) -> str:
    return "42" + json.dumps([name, *args])


packets: st.SearchStrategy[Packet] = st.one_of(
    st.builds(lambda n, a: (event(n, *a),), names, st.lists(json_values, max_size=3)),
    st.builds(lambda u: (event("session.update", u),), settings_like),
    st.builds(lambda n: (event(n),), not_names),
    st.builds(
        lambda n, num, blob: ("451-" + json.dumps([n, {"_placeholder": True, "num": num}]), blob),
        names | st.just("input.buffer.append"),
        st.sampled_from([0, 0, 0, 1, -1, "0", None]),
        st.binary(max_size=256) | wav_header(),
    ),
    st.builds(lambda blob: (blob,), st.binary(max_size=64)),
    st.builds(
        lambda t: ("4" + t,), st.text(max_size=50).filter(lambda t: not t.startswith(("0", "1")))
    ),
    # (Not a packet type 0 or 1: a client's own CONNECT or DISCONNECT, after which the flood's
    # probe could not be answered; those are test_entry's.)
    st.builds(lambda v: ("4" + json.dumps(v),), json_values).filter(
        lambda packet: not packet[0].startswith(("40", "41"))
    ),
    st.builds(lambda depth: ("42" + "[" * depth + "]" * depth,), st.sampled_from([10, 200, 5000])),
    st.just((event("input.buffer.append", "A" * (MAX_EVENT_BYTES + 1)),)),
    st.just((event("input.buffer.commit"),)),
    st.sampled_from([("2",), ("3",), ("6",), ("5",)]),
)


def hostile_plan(plan_seed: int) -> list[tuple[int, Packet]]:
    """(session index, packet) in sending order, written by hypothesis from ``plan_seed``."""
    plan: list[tuple[int, Packet]] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(
            st.tuples(st.integers(0, SESSIONS - 1), packets),
            min_size=PER_EXAMPLE,
            max_size=PER_EXAMPLE,
        )
    )
    def collect(batch: list[tuple[int, Packet]]) -> None:
        plan.extend(batch)

    collect = seed(plan_seed)(collect)

    collect()
    return plan


@dataclass
class RawSender:
    session_id: str
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    received: int = 0
    errors: list[str] = field(default_factory=list)
    closed_by_server: bool = False
    probed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the probe sent after the flood is answered."""
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            self.received += 1
            if message.data == "2":
                await self.ws.send_str("3")
            elif message.data.startswith('42["custom.error"'):
                error = json.loads(message.data[2:])[1]
                self.errors.append(error["code"])
                if error.get("event") == PROBE:
                    self.probed.set()
        self.closed_by_server = True


async def open_sender(server: RunningServer, session_id: str) -> RawSender:
    http = aiohttp.ClientSession()
    url = server.url.replace("http", "ws") + server.path + "/?EIO=4&transport=websocket"
    ws = await http.ws_connect(url, max_msg_size=0)
    assert (await ws.receive_str()).startswith("0")
    await ws.send_str("40" + json.dumps({"role": "sender", "sessionId": session_id}))
    assert (await ws.receive_str()).startswith("40")
    sender = RawSender(session_id, http, ws)
    sender.reader = asyncio.create_task(sender.read())
    return sender


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_hostile_flood(serve: ServeFn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    # CI replays one plan (PLAN_SEED); HOSTILE_SEED=random explores new plans, and
    # HOSTILE_SEED=<the printed seed> replays one.
    chosen = os.environ.get("HOSTILE_SEED") or str(PLAN_SEED)
    plan_seed = random.randrange(2**32) if chosen == "random" else int(chosen)
    print(f"\nhostile plan seed: {plan_seed}")
    plan = hostile_plan(plan_seed)
    frames_per_packet = [len(packet) for _, packet in plan]
    assert len(plan) >= MIN_EVENTS, len(plan)
    # Recognition is InstantStt: the flood tests the entry, not the recogniser's fairness (2
    # decoders held by uncommitted utterances: issue 12's first finding, tested where it is
    # answered). Language model and speech are the real local engines.
    server = await serve(
        max_event_bytes=MAX_EVENT_BYTES, factories={"stt": {"local": lambda env: InstantStt()}}
    )
    senders = [await open_sender(server, new_session_id("flood")) for _ in range(SESSIONS)]
    rss_before = rss_bytes()
    started = time.monotonic()
    for count, (index, packet) in enumerate(plan):
        ws = senders[index].ws
        for frame in packet:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        if count % 20 == 0:
            await asyncio.sleep(0)
    # Each Sender ends its utterance (the recogniser's decoders are taken by uncommitted
    # utterances: issue 12's first finding, answered by an idle timeout elsewhere), then every
    # connection must answer a probe sent after its part of the flood (in order: after it all).
    for sender in senders:
        await sender.ws.send_str(event("input.buffer.commit"))
        await sender.ws.send_str(event(PROBE))
    waits = [asyncio.create_task(s.probed.wait()) for s in senders]
    _, pending = await asyncio.wait(waits, timeout=60)
    unanswered = [s for s in senders if not s.probed.is_set()]
    for task in pending:
        task.cancel()
    assert not unanswered, [
        (s.session_id, s.closed_by_server, s.received, s.errors[-5:]) for s in unanswered
    ]
    flood_s = time.monotonic() - started
    rss_after = rss_bytes()

    # A real turn on a flooded session, within 10 s.
    flooded = senders[0].session_id
    receiver = await server.connect("receiver", flooded)
    speaker = await server.connect("sender", flooded)
    turn_started = time.monotonic()
    result = await run_turn(speaker, receiver, clip(WEATHER), within=TURN_WITHIN_S)
    turn_s = time.monotonic() - turn_started

    dropped = [s.session_id for s in senders if s.closed_by_server or s.ws.closed]
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    answers = sum(len(s.errors) for s in senders)
    print(
        f"\nflood: {len(plan)} events ({sum(frames_per_packet)} frames) over {SESSIONS} sessions"
        f" in {flood_s:.1f} s; {answers} custom.error answers; dropped connections:"
        f" {len(dropped)}; tracebacks: {len(tracebacks)}; RSS {rss_before / 2**20:.0f} ->"
        f" {rss_after / 2**20:.0f} MiB; real turn after it: {turn_s:.2f} s"
    )
    for s in senders:
        await s.ws.close()
        await s.http.close()
        if s.reader is not None:
            await s.reader
    assert not dropped, dropped
    assert not tracebacks, [r.getMessage() for r in tracebacks[:5]]
    assert rss_after - rss_before < RSS_GROWTH_LIMIT, (rss_before, rss_after)
    assert result.reply["text"] and turn_s < TURN_WITHIN_S
    assert result.transcript["text"].startswith("heard")
