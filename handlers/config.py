"""Server configuration: command-line flags, each with a METAHUMAN_* environment fallback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit, urlunsplit

from handlers.auth import TokenPolicy, TokenSecretError
from handlers.cli import OneLineParser
from handlers.connections import TrustedProxies


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    socketio_path: str = "/socketio"
    cors_origins: tuple[str, ...] = ()
    """Origins a browser page may connect from besides the server's own and loopback; * for any."""
    redis_url: str | None = None
    """When set, Socket.IO emits go through Redis so several nodes serve one set of sessions."""
    redis_channel: str = "metahuman-ai-chat"
    """The pub/sub channel the nodes of one deployment share."""
    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    """Static handshake tokens, opening any session as any role (METAHUMAN_TOKENS)."""
    token_secret: bytes | None = field(default=None, repr=False)
    """The key of signed handshake tokens (METAHUMAN_TOKEN_SECRET); see handlers.auth."""
    events_per_second: float = 500.0
    """Sustained client events per connection; beyond it events are dropped (rate_limited)."""
    event_burst: float = 5000.0
    max_event_bytes: int = 1024 * 1024
    """The largest client packet or binary attachment (payload_too_large beyond)."""
    max_connections_per_session: int = 16
    max_connections_per_address: int = 256
    connect_timeout_seconds: float = 10.0
    """An Engine.IO connection that joins no Socket.IO namespace this long is closed."""
    forwarded_allow_ips: tuple[str, ...] = ()
    """Reverse proxies (addresses or CIDRs) whose X-Forwarded-For gives the client's address
    (handlers.connections.TrustedProxies); from any other peer the header is ignored."""
    max_buffer_seconds: float = 60.0
    max_queued_turns: int = 4
    history_turns: int = 8
    """How many earlier exchanges the language model sees."""
    shutdown_grace_seconds: float = 10.0
    log_level: str = "INFO"
    log_format: str = "json"
    """json: one JSON object per line; text: for terminals."""
    # -- fair shares and bounds (issue 12; see handlers/admission.py and handlers/deadlines.py) --
    utterance_idle_seconds: float = 5.0
    """An uncommitted utterance with no audio for this long is dropped (`utterance_timeout`)."""
    turns_in_flight: int = field(default_factory=lambda: default_turns_in_flight())
    """Turns running at once on this node, all sessions together (a session runs one at a time)."""
    admission_wait_seconds: float = 30.0
    """A committed turn that waits longer than this for a slot is refused (`server_busy`)."""
    audio_rate: float = 1.5
    """Audio a Sender may append, as a multiple of real time (0: no limit)."""
    audio_burst_seconds: float = 10.0
    """Seconds of audio a Sender may append at once before ``audio_rate`` applies."""
    stt_deadline_seconds: float = 20.0
    """From the commit to the transcript, retries and waiting for a decoder included."""
    llm_deadline_seconds: float = 60.0
    """The language model's whole reply, retries included."""
    tts_deadline_seconds: float = 30.0
    """Each speech synthesis call (a sentence, or the whole reply in `single` mode)."""
    turn_deadline_seconds: float = 180.0
    """A whole turn, from when it starts running to its last delta."""
    receiver_queue_packets: int = 512
    """Packets a client may have queued unsent before it is disconnected as too slow."""

    def describe(self) -> list[str]:
        """Lines to print at start-up; secrets are never printed."""
        lines = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "token_secret":
                continue
            if item.name == "tokens":
                value = self.token_policy.describe()
            elif item.name == "cors_origins" and not value:
                value = "this server's own origin and loopback"
            elif item.name == "forwarded_allow_ips" and not value:
                value = "none (X-Forwarded-For is ignored)"
            elif item.name == "redis_url" and value:
                value = redact_url(value)
            elif isinstance(value, tuple):
                value = ", ".join(value)
            lines.append(f"{item.name}: {value}")
        return lines

    @property
    def token_policy(self) -> TokenPolicy:
        return TokenPolicy(self.tokens, self.token_secret)

    @property
    def trusted_proxies(self) -> TrustedProxies:
        return TrustedProxies.parse(self.forwarded_allow_ips)


TURNS_IN_FLIGHT_PER_CORE = 64
"""A turn holds its slot for as long as its reply speaks (seconds, mostly waiting on providers),
and the embedded engines queue work fairly in pools of their own: the bound is a guard against
floods, not a scheduler. At 4 a core, 50 sessions committing at once on 2 cores waited up to
30 s for their replies to start (bench latency, 2026-11-30)."""


def default_turns_in_flight() -> int:
    """``TURNS_IN_FLIGHT_PER_CORE`` turns per CPU core."""
    return TURNS_IN_FLIGHT_PER_CORE * (os.cpu_count() or 1)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


LOG_FORMATS = ("json", "text")


def default_log_format() -> str:
    """Text on a terminal, JSON lines otherwise (a log collector reads them)."""
    return "text" if sys.stderr.isatty() else "json"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str) -> str:
    """A logging level name, any case; argparse reports anything else as a bad value."""
    level = value.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a log level (choose from {', '.join(LOG_LEVELS)})"
        )
    return level


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_config(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> ServerConfig:
    env = os.environ if env is None else env
    defaults = ServerConfig()
    parser = OneLineParser(
        prog="metahuman-chat-server",
        description="MetaHuman AI Chat Socket.IO server. "
        "Each flag falls back to the METAHUMAN_* variable named in its help.",
    )

    def flag(name: str, variable: str, default: object, what: str, kind: type = str) -> None:
        """``--name``, falling back to ``METAHUMAN_<variable>``, then to ``default``."""
        raw = env.get(f"METAHUMAN_{variable}")
        value = kind(raw) if raw is not None else default
        parser.add_argument(name, type=kind, default=value, help=f"{what} (METAHUMAN_{variable})")

    flag("--host", "HOST", defaults.host, "interface to listen on")
    flag("--port", "PORT", defaults.port, "port to listen on", int)
    flag("--path", "SOCKETIO_PATH", defaults.socketio_path, "Socket.IO path")
    flag(
        "--cors-origins",
        "CORS_ORIGINS",
        ",".join(defaults.cors_origins),
        "comma-separated browser origins allowed besides the server's own and loopback, * for any",
    )
    flag("--redis-url", "REDIS_URL", None, "redis://host:port/db to scale out over several nodes")
    flag(
        "--redis-channel",
        "REDIS_CHANNEL",
        defaults.redis_channel,
        "pub/sub channel shared by the nodes of one deployment",
    )
    flag(
        "--max-buffer-seconds",
        "MAX_BUFFER_SECONDS",
        defaults.max_buffer_seconds,
        "longest utterance kept",
        float,
    )
    flag(
        "--max-queued-turns",
        "MAX_QUEUED_TURNS",
        defaults.max_queued_turns,
        "committed turns a session may have waiting",
        int,
    )
    flag(
        "--history-turns",
        "HISTORY_TURNS",
        defaults.history_turns,
        "earlier exchanges the language model sees",
        int,
    )
    flag(
        "--shutdown-grace-seconds",
        "SHUTDOWN_GRACE_SECONDS",
        defaults.shutdown_grace_seconds,
        "how long turns in flight may finish at shutdown",
        float,
    )
    # A string default goes through ``type`` too: a bad METAHUMAN_LOG_LEVEL is a usage error.
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=env.get("METAHUMAN_LOG_LEVEL") or defaults.log_level,
        help=f"one of {', '.join(LOG_LEVELS)} (METAHUMAN_LOG_LEVEL)",
    )
    parser.set_defaults(log_format=env.get("METAHUMAN_LOG_FORMAT") or default_log_format())
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="json lines, or text for terminals (the default on a terminal) (METAHUMAN_LOG_FORMAT)",
    )
    bounds: list[tuple[str, str, type, str]] = [
        ("utterance_idle_seconds", "UTTERANCE_IDLE_SECONDS", float,
         "an uncommitted utterance silent this long is dropped (utterance_timeout)"),
        ("turns_in_flight", "TURNS_IN_FLIGHT", int,
         "turns running at once, all sessions together (default 64 per CPU core)"),
        ("admission_wait_seconds", "ADMISSION_WAIT_SECONDS", float,
         "longest wait of a committed turn for a slot (then server_busy)"),
        ("audio_rate", "AUDIO_RATE", float,
         "audio a Sender may append, times real time; 0 for no limit (then rate_limited)"),
        ("audio_burst_seconds", "AUDIO_BURST_SECONDS", float,
         "seconds of audio a Sender may append at once"),
        ("stt_deadline_seconds", "STT_DEADLINE_SECONDS", float,
         "commit to transcript, retries included (then provider_error)"),
        ("llm_deadline_seconds", "LLM_DEADLINE_SECONDS", float,
         "the language model's whole reply, retries included (then provider_error)"),
        ("tts_deadline_seconds", "TTS_DEADLINE_SECONDS", float,
         "each speech synthesis call, retries included (then provider_error)"),
        ("turn_deadline_seconds", "TURN_DEADLINE_SECONDS", float,
         "a whole turn, from its start to its last delta"),
        ("receiver_queue_packets", "RECEIVER_QUEUE_PACKETS", int,
         "packets queued for a client that does not read before it is disconnected"),
        ("connect_timeout_seconds", "CONNECT_TIMEOUT_SECONDS", float,
         "a connection that sends no Socket.IO CONNECT (or is refused) this long is closed"),
    ]  # fmt: skip
    for name, variable, kind, what in bounds:
        flag("--" + name.replace("_", "-"), variable, getattr(defaults, name), what, kind)
    flag(
        "--events-per-second",
        "EVENTS_PER_SECOND",
        defaults.events_per_second,
        "sustained client events per connection",
        float,
    )
    flag("--event-burst", "EVENT_BURST", defaults.event_burst, "client events at once", float)
    flag(
        "--max-event-bytes",
        "MAX_EVENT_BYTES",
        defaults.max_event_bytes,
        "largest client packet or attachment",
        int,
    )
    flag(
        "--max-connections-per-session",
        "MAX_CONNECTIONS_PER_SESSION",
        defaults.max_connections_per_session,
        "clients one session may have on this node",
        int,
    )
    flag(
        "--max-connections-per-address",
        "MAX_CONNECTIONS_PER_ADDRESS",
        defaults.max_connections_per_address,
        "clients one remote address may have on this node",
        int,
    )
    flag(
        "--forwarded-allow-ips",
        "FORWARDED_ALLOW_IPS",
        ",".join(defaults.forwarded_allow_ips),
        "comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed (none)",
    )
    args = parser.parse_args(argv)
    forwarded_allow_ips = _split(args.forwarded_allow_ips)
    try:
        TrustedProxies.parse(forwarded_allow_ips)
    except ValueError as exc:
        parser.error(f"--forwarded-allow-ips: {exc}")
    if args.log_format not in LOG_FORMATS:
        parser.error(f"METAHUMAN_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    # Tokens come only from the environment: a flag would show them in the process list.
    try:
        policy = TokenPolicy.from_env(env)
    except TokenSecretError as exc:
        parser.error(str(exc))
    return ServerConfig(
        host=args.host,
        port=args.port,
        socketio_path=args.path,
        cors_origins=_split(args.cors_origins),
        redis_url=args.redis_url or None,
        redis_channel=args.redis_channel,
        tokens=policy.static_tokens,
        token_secret=policy.secret,
        events_per_second=args.events_per_second,
        event_burst=args.event_burst,
        max_event_bytes=args.max_event_bytes,
        max_connections_per_session=args.max_connections_per_session,
        max_connections_per_address=args.max_connections_per_address,
        forwarded_allow_ips=forwarded_allow_ips,
        max_buffer_seconds=args.max_buffer_seconds,
        max_queued_turns=args.max_queued_turns,
        history_turns=args.history_turns,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
        log_level=args.log_level,
        log_format=args.log_format,
        **{name: getattr(args, name) for name, *_ in bounds},
    )
