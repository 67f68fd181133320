"""List, for each stage, which providers this machine can use, and why not.

    python -m handlers.providers.availability      (or: metahuman-chat-providers)

A provider is available when its package imports and its credentials are in the environment;
nothing is sent over the network. After the providers it lists the default models that are
deprecated or retired (model lifecycle: what serves them, or that nothing does) and the failover
lists (METAHUMAN_<STAGE>_FALLBACK).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import Mapping

from handlers.providers.base import Stage
from handlers.providers.fallback import FallbackConfig
from handlers.providers.lifecycle import load_lifecycle
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


def outdated_defaults(env: Mapping[str, str], today: dt.date | None = None) -> list[str]:
    """One line per default model that is deprecated or retired on ``today``."""
    lifecycle = load_lifecycle(env)
    return [
        f"{found.stage} {found.provider} {found.requested}: {found.status}"
        + (f"; {found.notice}" if found.notice else "")
        for found in lifecycle.outdated_defaults(today=today)
    ]


def main() -> None:
    report = availability(os.environ)
    for stage, providers in report.items():
        print(f"{stage}:")
        width = max(len(name) for name in providers)
        for name, reason in providers.items():
            print(f"  {name:<{width}}  {'ok' if reason is None else 'unavailable: ' + reason}")
    outdated = outdated_defaults(os.environ)
    print("default models:", "all active" if not outdated else "")
    for line in outdated:
        print(f"  {line}")
    chains = FallbackConfig.from_env(os.environ).chains
    for stage, names in chains.items():
        if names:
            print(f"{stage} failover: {' -> '.join(names)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
