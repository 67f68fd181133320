"""Which browser origins may open a Socket.IO connection (CORS and the WebSocket Origin check).

The default is this server's own origin (the page it serves) and loopback origins (a page a
developer runs on localhost), never ``*``: with ``*`` any web page the developer visits could drive
their local server. ``--cors-origins`` adds origins; ``*`` among them allows any (a deliberate
choice for a public deployment behind its own checks). A request without an Origin header (not a
browser: the Python client, curl) is not a cross-origin request and is let through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

OriginCheck = Callable[[str | None, Mapping[str, Any]], bool]


def allowed_origins(configured: Iterable[str]) -> str | OriginCheck:
    """What to give python-socketio as ``cors_allowed_origins``."""
    extra = frozenset(origin.rstrip("/") for origin in configured)
    if "*" in extra:
        return "*"

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None:
            return True
        return origin in extra or is_loopback(origin) or is_own(origin, environ)

    return allowed


def is_loopback(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS
    except ValueError:
        return False


def is_own(origin: str, environ: Mapping[str, Any]) -> bool:
    """The page this server served: the origin names the Host the request came to."""
    host = environ.get("HTTP_HOST")
    scheme = environ.get("wsgi.url_scheme", "http")
    return host is not None and origin in (f"{scheme}://{host}", f"https://{host}")
