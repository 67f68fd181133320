"""List, for each stage, which providers this machine can use, and why not.

    python -m handlers.providers.availability      (or: metahuman-chat-providers)

A provider is available when its package imports and its credentials are in the environment;
nothing is sent over the network.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

from handlers.providers.base import Stage
from handlers.providers.registry import PROVIDER_PATHS, ProviderRegistry

STAGES: tuple[Stage, ...] = ("stt", "llm", "tts")


def availability(env: Mapping[str, str]) -> dict[Stage, dict[str, str | None]]:
    """stage -> provider -> None when usable, else the reason. Not for use on an event loop."""
    return asyncio.run(_unavailable_reasons(env))


async def _unavailable_reasons(env: Mapping[str, str]) -> dict[Stage, dict[str, str | None]]:
    registry = ProviderRegistry(env)
    try:
        pairs = [(stage, name) for stage in STAGES for name in PROVIDER_PATHS[stage]]
        reasons = await asyncio.gather(
            *(registry.unavailable_reason(stage, name) for stage, name in pairs)
        )
        report: dict[Stage, dict[str, str | None]] = {stage: {} for stage in STAGES}
        for (stage, name), reason in zip(pairs, reasons, strict=True):
            report[stage][name] = reason
        return report
    finally:
        await registry.aclose()


def main() -> None:
    report = availability(os.environ)
    for stage, providers in report.items():
        print(f"{stage}:")
        width = max(len(name) for name in providers)
        for name, reason in providers.items():
            print(f"  {name:<{width}}  {'ok' if reason is None else 'unavailable: ' + reason}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
