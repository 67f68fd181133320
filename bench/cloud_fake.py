"""The loopback fake of the OpenAI API for the cloud conversation benchmark, in its own process:
``python -m bench.cloud_fake [--cpu N]`` prints ``READY <url> <api key>`` and serves until SIGTERM.

It is tests/fakes/openai_api.py (the real wire format and the API's rules) with no added
latency: speech streams in 100 ms pieces without pauses, so what the benchmark measures is the
server's own cost on top of the providers'. Its own process keeps its CPU out of the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from bench.common import pin
from tests.fakes.openai_api import SPEECH_RATE, FakeOpenAIApi, RecordedRequest

SPEECH_PIECE_BYTES = 2 * SPEECH_RATE // 10
REPLY = "Sure, I can help with that. It looks mild and dry today."


async def serve() -> None:
    fake = FakeOpenAIApi()
    fake.speech_piece_sizes = (SPEECH_PIECE_BYTES,)
    fake.speech_piece_pause_s = 0.0
    fake.chat_reply = REPLY
    async with fake:
        # The request log would grow for as long as the benchmark runs.
        fake.requests = _Discard()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(f"READY {fake.url} {fake.api_key}", flush=True)
        await stop.wait()


class _Discard(list[RecordedRequest]):
    """A request log that keeps nothing."""

    def append(self, item: RecordedRequest) -> None:
        del item


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cloud_fake", description=__doc__)
    parser.add_argument("--cpu", type=int, help="pin the process to this core")
    args = parser.parse_args(argv)
    pin(args.cpu)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
