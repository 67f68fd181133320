"""What a provider can serve, checked at ``session.update`` so that a setting it cannot serve is
refused there (``unsupported_option``, the previous settings staying) instead of failing every
later turn."""

from __future__ import annotations

from handlers.settings import Settings

LOCAL_STT_LANGUAGES = frozenset({"en-us", "en"})
"""pocketsphinx's bundled model is US English only."""


def unsupported(settings: Settings) -> str | None:
    """Why ``settings`` ask a provider for something it cannot do, or None."""
    stt = settings.stt
    if stt.provider.value == "local" and stt.language.lower() not in LOCAL_STT_LANGUAGES:
        return (
            f"the local recogniser (pocketsphinx) understands US English (en-US) only, not"
            f" {stt.language!r}: choose a cloud stt provider for that language"
        )
    return None
