"""What an operator sees: /healthz, /readyz, /metrics (Prometheus) and one log line per event.

Everything lives here; the server, sessions and turns call it through one-line hooks:

* ``ObservedEmitter`` (the server's emitter) counts and logs every ``custom.error``;
  ``observe_refusals`` does the same for every refused handshake (``connect_error``).
* ``connected``/``disconnected``/``session_opened``/``session_closed`` keep the gauges.
* ``AUDIO_CHUNKS.count += 1`` is the only work per audio chunk: a plain int, read at scrape time.
* ``TurnTiming`` follows one turn (commit -> transcript -> first token -> first audio) and, when
  it ends, observes the histograms and logs ``turn.end`` with its stage timings.

Logs are JSON lines (``--log-format json``) or ``key=value`` text for terminals; each carries the
session, item and response ids it concerns. Fields whose names look like credentials are masked.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from generated.dispatch import Emitter
from generated.events import Event

if TYPE_CHECKING:
    import socketio
    from pydantic import BaseModel

    from codegen.runtime import Client
    from handlers.pipeline import Turn
    from handlers.providers.registry import ProviderRegistry

log = logging.getLogger("metahuman")

# -- metrics ------------------------------------------------------------------------------------

# The *_created series (when each labelled series first appeared) double the scrape for nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY: Final = CollectorRegistry()
"""This server's metrics (not prometheus_client's global registry: tests build many servers)."""

# Seconds: the stages of a spoken reply take from tens of milliseconds to several seconds.
LATENCY_BUCKETS: Final = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

SESSIONS: Final = Gauge("metahuman_sessions", "Sessions open on this node.", registry=REGISTRY)
CONNECTIONS: Final = Gauge(
    "metahuman_connections", "Connected clients, by role.", ["role"], registry=REGISTRY
)
TURNS: Final = Counter(
    "metahuman_turns",
    "Turns ended, by outcome (completed, no_speech, provider_error, internal_error, turn_timeout,"
    " cancelled).",
    ["outcome"],
    registry=REGISTRY,
)
ERRORS: Final = Counter(
    "metahuman_errors",
    "custom.error and connect_error sent to clients, by code.",
    ["code"],
    registry=REGISTRY,
)
STT_SECONDS: Final = Histogram(
    "metahuman_stt_seconds",
    "Commit -> transcript: how long the turn waited for recognition after the commit.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
LLM_FIRST_TOKEN_SECONDS: Final = Histogram(
    "metahuman_llm_first_token_seconds",
    "Language model asked -> its first text delta.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
TTS_FIRST_AUDIO_SECONDS: Final = Histogram(
    "metahuman_tts_first_audio_seconds",
    "First sentence handed to speech synthesis -> its first audio delta sent.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
FIRST_AUDIO_SECONDS: Final = Histogram(
    "metahuman_first_audio_seconds",
    "Commit -> first audio delta sent: what the user waits for.",
    ["stt", "llm", "tts"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


class ChunkCounter(Collector):
    """``metahuman_audio_chunks_total``: a plain int bumped per chunk, read when scraped.

    A prometheus_client Counter takes a lock on each ``inc``; this is the one metric on the
    per-chunk path, so it is an attribute increment instead (bench/observability.py measures it).
    """

    def __init__(self) -> None:
        self.count = 0

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "metahuman_audio_chunks", "input.buffer.append chunks received."
        )
        family.add_metric([], self.count)
        yield family


AUDIO_CHUNKS: Final = ChunkCounter()
REGISTRY.register(AUDIO_CHUNKS)


METRICS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The text format ``generate_latest`` writes (every Prometheus version reads it)."""


def metrics_text() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)


# -- log lines ----------------------------------------------------------------------------------

SECRET_NAMES: Final = frozenset(
    {"token", "auth", "authorization", "password", "secret", "api_key", "apikey", "secret_key"}
)
"""Field names whose values are credentials (the handshake's ``token``, keys): never logged."""


def masked(fields: Mapping[str, object]) -> dict[str, object]:
    """``fields`` with the value of any credential field replaced by ``***``."""
    return {key: "***" if key.lower() in SECRET_NAMES else value for key, value in fields.items()}


def log_event(name: str, fields: Mapping[str, object], level: int = logging.INFO) -> None:
    """One log line for ``name`` (``turn.end``, ``connect``...) carrying ``fields``."""
    if log.isEnabledFor(level):
        log.log(level, name, extra={"event": name, "fields": masked(fields)})


def _record_fields(record: logging.LogRecord) -> dict[str, object]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, Mapping) else {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, event and its fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if event is not None:
            entry["event"] = event
        entry.update(_record_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For terminals: ``time LEVEL logger: message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _record_fields(record)
        if not fields:
            return line
        pairs = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        head, _, tail = line.partition("\n")  # a traceback stays below the first line
        return f"{head} {pairs}" + (f"\n{tail}" if tail else "")


def configure_logging(level: str, log_format: str) -> None:
    """Send the server's logs to stderr at ``level`` in ``log_format`` (json or text)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if level != "DEBUG":
        # One line per HTTP request drowns the log: Engine.IO polls and upgrades are routine.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


# -- connections and sessions -------------------------------------------------------------------


def connected(client: Client) -> None:
    CONNECTIONS.labels(client.role.value).inc()
    log_event(
        "connect", {"session_id": client.session_id, "sid": client.sid, "role": client.role.value}
    )


def disconnected(client: Client) -> None:
    CONNECTIONS.labels(client.role.value).dec()
    log_event(
        "disconnect",
        {"session_id": client.session_id, "sid": client.sid, "role": client.role.value},
    )


def session_opened(session_id: str) -> None:
    SESSIONS.inc()
    log_event("session.open", {"session_id": session_id})


def session_closed(session_id: str) -> None:
    SESSIONS.dec()
    log_event("session.close", {"session_id": session_id})


class ObservedEmitter(Emitter):
    """The generated Emitter, counting and logging every ``custom.error`` it sends."""

    clients: Mapping[str, Client] = {}
    """Connected clients by sid (the Dispatcher's view): names the session of an error sent to
    one client."""

    async def emit(self, event: str, payload: BaseModel, to: str) -> None:
        if event == Event.CUSTOM_ERROR:
            self._error_sent(payload, to)
        await super().emit(event, payload, to)

    def _error_sent(self, payload: BaseModel, to: str) -> None:
        fields = payload.model_dump(mode="json", exclude_none=True)
        code = str(fields.get("code", "unknown"))
        ERRORS.labels(code).inc()
        client = self.clients.get(to)
        if client is not None:
            where = {"session_id": client.session_id, "sid": to, "role": client.role.value}
        else:
            session_id, _, role = to.rpartition("/")
            where = {"session_id": session_id, "role": role}
        # The client event that caused it is ``client_event``: ``event`` names the log line.
        fields["client_event"] = fields.pop("event", None)
        log_event("error", {**where, **_snake(fields)}, logging.WARNING)


def _snake(fields: Mapping[str, Any]) -> dict[str, object]:
    """Wire names (itemId) as log field names (item_id)."""
    return {
        "".join("_" + c.lower() if c.isupper() else c for c in key): value
        for key, value in fields.items()
    }


def observe_refusals(sio: socketio.AsyncServer, namespace: str = "/") -> None:
    """Count and log every refused handshake (``connect_error``) with its code."""
    import socketio

    connect = sio.handlers[namespace]["connect"]

    async def observed(sid: str, *args: Any) -> Any:
        # Socket.IO calls it (sid, environ, auth); a client's own "connect" event may bring any
        # arguments, which the dispatcher answers: pass them through as they came.
        auth = args[1] if len(args) > 1 else None
        try:
            return await connect(sid, *args)
        except socketio.exceptions.ConnectionRefusedError as exc:
            info = exc.error_args if isinstance(exc.error_args, dict) else {}
            data = info.get("data")
            code = str(data.get("code", "unknown")) if isinstance(data, dict) else "unknown"
            ERRORS.labels(code).inc()
            fields: dict[str, object] = {"sid": sid, "code": code, "message": info.get("message")}
            if isinstance(auth, dict):
                # Never the token: only what says which session and role tried.
                fields["session_id"] = auth.get("sessionId")
                fields["role"] = auth.get("role")
            log_event("connect.refused", fields, logging.WARNING)
            raise

    sio.handlers[namespace]["connect"] = observed


# -- turns --------------------------------------------------------------------------------------


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round((end - start) * 1000, 1)


class TurnTiming:
    """When each stage of one turn happened; ``finish`` records the metrics and logs the end."""

    __slots__ = (
        "committed_at",
        "first_audio_at",
        "first_token_at",
        "item_id",
        "outcome",
        "providers",
        "response_id",
        "session_id",
        "transcript_at",
        "tts_started_at",
    )

    def __init__(self, turn: Turn, response_id: str) -> None:
        settings = turn.settings
        self.session_id = turn.session_id
        self.item_id = turn.item_id
        self.response_id = response_id
        self.providers = (
            settings.stt.provider.value,
            settings.llm.provider.value,
            settings.tts.provider.value,
        )
        self.committed_at = turn.committed_at
        self.transcript_at: float | None = None
        self.first_token_at: float | None = None
        self.tts_started_at: float | None = None
        self.first_audio_at: float | None = None
        self.outcome: str | None = None
        """Set by a stage that ended the turn early (no_speech, provider_error...)."""
        log_event("turn.start", self._ids())

    def _ids(self) -> dict[str, object]:
        stt, llm, tts = self.providers
        return {
            "session_id": self.session_id,
            "item_id": self.item_id,
            "response_id": self.response_id,
            "stt": stt,
            "llm": llm,
            "tts": tts,
        }

    def transcribed(self, text: str) -> None:
        self.transcript_at = time.monotonic()
        if not text.strip():
            self.outcome = "no_speech"

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()

    def synthesizing(self) -> None:
        if self.tts_started_at is None:
            self.tts_started_at = time.monotonic()

    def audio_sent(self) -> None:
        if self.first_audio_at is None:
            self.first_audio_at = time.monotonic()

    def failed(self, outcome: str) -> None:
        self.outcome = self.outcome or outcome

    def stage_ms(self) -> dict[str, float | None]:
        """Each stage's time in milliseconds, None for a stage the turn did not reach."""
        return {
            "stt_ms": _ms(self.committed_at, self.transcript_at),
            "llm_first_token_ms": _ms(self.transcript_at, self.first_token_at),
            "tts_first_audio_ms": _ms(self.tts_started_at, self.first_audio_at),
            "first_audio_ms": _ms(self.committed_at, self.first_audio_at),
            "total_ms": _ms(self.committed_at, time.monotonic()),
        }

    def finish(self, task: asyncio.Task[None]) -> None:
        """The turn's task has ended: count its outcome, observe its stages, log its end."""
        outcome = "cancelled" if task.cancelled() else (self.outcome or "completed")
        TURNS.labels(outcome).inc()
        stt, llm, tts = self.providers
        for histogram, provider, start, end in (
            (STT_SECONDS, stt, self.committed_at, self.transcript_at),
            (LLM_FIRST_TOKEN_SECONDS, llm, self.transcript_at, self.first_token_at),
            (TTS_FIRST_AUDIO_SECONDS, tts, self.tts_started_at, self.first_audio_at),
        ):
            if start is not None and end is not None:
                histogram.labels(provider).observe(end - start)
        if self.first_audio_at is not None:
            FIRST_AUDIO_SECONDS.labels(stt, llm, tts).observe(
                self.first_audio_at - self.committed_at
            )
        log_event("turn.end", {**self._ids(), "outcome": outcome, **self.stage_ms()})


# -- health, readiness, metrics routes ---------------------------------------------------------

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""A named async check (its ``__name__`` names it in /readyz): None when ready, else why not."""


def providers_check(registry: ProviderRegistry) -> ReadinessCheck:
    """Ready when the default provider of each stage is built (the local engines loaded)."""
    from handlers.settings import Settings

    defaults = Settings.defaults()
    wanted = (
        ("stt", defaults.stt.provider.value),
        ("llm", defaults.llm.provider.value),
        ("tts", defaults.tts.provider.value),
    )

    async def providers() -> str | None:
        reasons = [
            f"{stage} {name}: {reason}"
            for stage, name in wanted
            if (reason := await registry.unavailable_reason(stage, name)) is not None  # type: ignore[arg-type]
        ]
        return "; ".join(reasons) or None

    return providers


def redis_check(url: str) -> ReadinessCheck:
    """Ready when Redis (the scale-out bus) answers PING."""
    from handlers.scaleout import RedisUnavailable, check_redis

    async def redis() -> str | None:
        try:
            await check_redis(url)
        except RedisUnavailable as exc:
            return str(exc)
        return None

    return redis


def add_ops_routes(app: web.Application, readiness_checks: Sequence[ReadinessCheck]) -> None:
    """``/healthz`` (the process answers), ``/readyz`` (every check passes), ``/metrics``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        results = await asyncio.gather(*(check() for check in readiness_checks))
        checks = {
            getattr(check, "__name__", f"check{index}"): reason or "ok"
            for index, (check, reason) in enumerate(zip(readiness_checks, results, strict=True))
        }
        ready = all(reason is None for reason in results)
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics_text)
        response = web.Response(body=body)
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
