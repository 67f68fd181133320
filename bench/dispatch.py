"""Dispatch cost: CPU time per client event through the contract dispatcher, no network.

python-socketio calls the handler the dispatcher registered for an event as ``handler(sid,
*args)``; this calls it the same way, on a stub server, with a handler whose methods do
nothing. So the figure is the dispatcher's own cost: role check, validation (WIRE context),
the handler call and its error guard. ``input.buffer.append`` (a 20 ms PCM16 chunk, as bytes
and as base64 text) is the hot path; ``input.buffer.commit`` has no payload.

``python -m bench.dispatch [--against REV]``: with ``--against``, the generated dispatcher of
git revision REV (before codegen.runtime, it was generated/dispatch.py) is measured in the same
process, side by side, alternating runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHUNK = bytes(640)  # 20 ms of 16 kHz PCM16
SID = "sid-1"
EVENTS: dict[str, tuple[str, Any]] = {
    "append bytes": ("input.buffer.append", CHUNK),
    "append base64": ("input.buffer.append", base64.b64encode(CHUNK).decode("ascii")),
    "commit": ("input.buffer.commit", None),
}
Receive = Callable[..., Awaitable[Any]]


class StubManager:
    def is_connected(self, sid: str, namespace: str) -> bool:
        return False  # connect/disconnect calls are the lifecycle, not client events


class StubServer:
    """What the dispatcher uses of socketio.AsyncServer."""

    def __init__(self) -> None:
        self.handlers: dict[str, Receive] = {}
        self.manager = StubManager()
        self.emitted = 0

    def on(self, event: str, handler: Receive, namespace: str = "/") -> None:
        self.handlers[event] = handler

    async def enter_room(self, sid: str, room: str, namespace: str = "/") -> None:
        pass

    async def emit(self, event: str, data: Any, to: str, namespace: str = "/") -> None:
        self.emitted += 1  # an error would be a wrong measurement: checked below


CALLS = [0]  # handler calls, to check each event reached the handler


async def noop(self: Any, *args: Any) -> None:
    CALLS[0] += 1


async def connected(dispatch: ModuleType, emitter_base: Any, register: Any) -> StubServer:
    """A stub server with a Sender connected through the dispatcher's connect handler."""
    base = dispatch.ClientEventHandler
    handler_class = type("Noop", (base,), dict.fromkeys(base.__abstractmethods__, noop))
    sio = StubServer()
    register(sio, handler_class(), emitter_base(sio))
    await sio.handlers["connect"](SID, {}, {"role": "sender", "sessionId": "s1"})
    return sio


async def per_event_us(sio: StubServer, event: str, payload: Any, count: int) -> float:
    receive = sio.handlers[event]
    args = () if payload is None else (payload,)
    calls = CALLS[0]
    start = time.process_time_ns()
    for _ in range(count):
        await receive(SID, *args)
    elapsed = time.process_time_ns() - start
    if sio.emitted or CALLS[0] - calls != count:
        raise RuntimeError(f"{event} did not reach the handler: the measurement is wrong")
    return elapsed / count / 1000


def old_dispatch(revision: str, into: Path) -> ModuleType:
    """REV's generated/ as the package ``generated_old`` (its models import generated.base)."""
    archive = subprocess.run(
        ["git", "archive", revision, "generated"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    package = into / "generated_old"
    (into / "generated").rename(package)
    models = package / "models.py"
    text = models.read_text(encoding="utf-8").replace("from generated.base", "from .base")
    models.write_text(text, encoding="utf-8")
    sys.path.insert(0, str(into))
    return importlib.import_module("generated_old.dispatch")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("--against", metavar="REV", help="also measure REV's dispatcher")
    parser.add_argument("--count", type=int, default=20_000, help="events per run")
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (the best counts)")
    args = parser.parse_args(argv)

    from codegen import runtime
    from generated import dispatch

    servers = {"now": await connected(dispatch, dispatch.Emitter, runtime.register)}
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        if args.against:
            old = old_dispatch(args.against, Path(tmp))
            servers[args.against] = await connected(old, old.Emitter, old.register)
        best: dict[tuple[str, str], float] = {}
        for _ in range(args.runs):
            for label, (event, payload) in EVENTS.items():
                for name, sio in servers.items():
                    figure = await per_event_us(sio, event, payload, args.count)
                    best[name, label] = min(best.get((name, label), figure), figure)
    print(f"CPU us per event (best of {args.runs} runs of {args.count}):")
    print(f"{'event':<16}" + "".join(f"{name:>12}" for name in servers))
    for label in EVENTS:
        print(f"{label:<16}" + "".join(f"{best[name, label]:>12.2f}" for name in servers))


if __name__ == "__main__":
    asyncio.run(main())
