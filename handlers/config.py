"""Server configuration: command-line flags, each with a METAHUMAN_* environment fallback."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    socketio_path: str = "/socketio"
    cors_origins: tuple[str, ...] = ("*",)
    redis_url: str | None = None
    """When set, Socket.IO emits go through Redis so several nodes serve one set of sessions."""
    redis_channel: str = "metahuman-ai-chat"
    """The pub/sub channel the nodes of one deployment share."""
    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    """Accepted handshake tokens; empty means no token is required."""
    max_buffer_seconds: float = 60.0
    max_queued_turns: int = 4
    history_turns: int = 8
    """How many earlier exchanges the language model sees."""
    shutdown_grace_seconds: float = 10.0
    log_level: str = "INFO"

    def describe(self) -> list[str]:
        """Lines to print at start-up; secrets are never printed."""
        lines = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "tokens":
                value = (
                    f"{len(value)} configured" if value else "none (handshake tokens not required)"
                )
            elif item.name == "redis_url" and value:
                value = redact_url(value)
            elif isinstance(value, tuple):
                value = ", ".join(value)
            lines.append(f"{item.name}: {value}")
        return lines


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_config(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> ServerConfig:
    env = os.environ if env is None else env
    defaults = ServerConfig()
    parser = argparse.ArgumentParser(
        prog="metahuman-chat-server",
        description="MetaHuman AI Chat Socket.IO server. "
        "Each flag falls back to the METAHUMAN_* variable named in its help.",
    )

    def env_or(name: str, default: object) -> str:
        return env.get(f"METAHUMAN_{name}", str(default))

    parser.add_argument("--host", default=env_or("HOST", defaults.host), help="METAHUMAN_HOST")
    parser.add_argument(
        "--port", type=int, default=int(env_or("PORT", defaults.port)), help="METAHUMAN_PORT"
    )
    parser.add_argument(
        "--path",
        default=env_or("SOCKETIO_PATH", defaults.socketio_path),
        help="METAHUMAN_SOCKETIO_PATH",
    )
    parser.add_argument(
        "--cors-origins",
        default=env_or("CORS_ORIGINS", ",".join(defaults.cors_origins)),
        help="comma-separated allowed origins, * for any (METAHUMAN_CORS_ORIGINS)",
    )
    parser.add_argument(
        "--redis-url",
        default=env.get("METAHUMAN_REDIS_URL"),
        help="redis://host:port/db to scale out over several nodes (METAHUMAN_REDIS_URL)",
    )
    parser.add_argument(
        "--redis-channel",
        default=env_or("REDIS_CHANNEL", defaults.redis_channel),
        help="pub/sub channel shared by the nodes of one deployment (METAHUMAN_REDIS_CHANNEL)",
    )
    parser.add_argument(
        "--max-buffer-seconds",
        type=float,
        default=float(env_or("MAX_BUFFER_SECONDS", defaults.max_buffer_seconds)),
        help="longest utterance kept (METAHUMAN_MAX_BUFFER_SECONDS)",
    )
    parser.add_argument(
        "--max-queued-turns",
        type=int,
        default=int(env_or("MAX_QUEUED_TURNS", defaults.max_queued_turns)),
        help="committed turns a session may have waiting (METAHUMAN_MAX_QUEUED_TURNS)",
    )
    parser.add_argument(
        "--history-turns",
        type=int,
        default=int(env_or("HISTORY_TURNS", defaults.history_turns)),
        help="earlier exchanges the language model sees (METAHUMAN_HISTORY_TURNS)",
    )
    parser.add_argument(
        "--shutdown-grace-seconds",
        type=float,
        default=float(env_or("SHUTDOWN_GRACE_SECONDS", defaults.shutdown_grace_seconds)),
        help="how long turns in flight may finish at shutdown (METAHUMAN_SHUTDOWN_GRACE_SECONDS)",
    )
    parser.add_argument(
        "--log-level", default=env_or("LOG_LEVEL", defaults.log_level), help="METAHUMAN_LOG_LEVEL"
    )
    args = parser.parse_args(argv)
    # Tokens come only from the environment: a flag would show them in the process list.
    tokens = frozenset(_split(env.get("METAHUMAN_TOKENS", "")))
    return ServerConfig(
        host=args.host,
        port=args.port,
        socketio_path=args.path,
        cors_origins=_split(args.cors_origins),
        redis_url=args.redis_url or None,
        redis_channel=args.redis_channel,
        tokens=tokens,
        max_buffer_seconds=args.max_buffer_seconds,
        max_queued_turns=args.max_queued_turns,
        history_turns=args.history_turns,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
        log_level=args.log_level.upper(),
    )
