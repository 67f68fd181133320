"""A loopback Amazon Transcribe streaming endpoint: HTTP/2 over TLS, event streams both ways.

Speaks what ``transcribestreaming.<region>.amazonaws.com`` speaks to the SDK:

* TLS with ALPN ``h2`` (a throwaway self-signed certificate for 127.0.0.1, which
  the adapter trusts through ``AWS_CA_BUNDLE``), then HTTP/2 (the ``h2`` package).
* ``POST /stream-transcription`` with ``x-amzn-transcribe-language-code``,
  ``-sample-rate``, ``-media-encoding`` and a SigV4 ``Authorization`` header,
  answered with response headers at once (the SDK waits for them before it sends
  audio).
* A request body of signed event-stream envelopes (``:date``, ``:chunk-signature``)
  each wrapping an ``AudioEvent`` message of raw PCM; an envelope with an empty
  payload ends the audio. Every envelope's signature is verified: the chain starts
  at the request's SigV4 signature and uses the fake secret key, so a wrong secret,
  a reordered or a tampered event is caught.
* A response body of ``TranscriptEvent`` messages: partial results while audio
  arrives, then final ones. Their words come from the audio received: the PCM is
  matched against the shared speech clips (byte for byte, or by correlation for
  audio the adapter resampled) and the matching clip's manifest text is answered,
  so sending the wrong audio gives the wrong words.
* Errors as the service sends them: an HTTP status with ``x-amzn-errortype`` and a
  JSON ``Message``, or an ``exception`` message inside the event stream.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import ipaddress
import json
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes import aws_eventstream
from tests.fakes.aws_common import (
    REGION,
    SECRET_ACCESS_KEY,
    SpeechClip,
    signature_of,
    sigv4_problem,
    speech_clips,
)

Scenario = Literal["ok", "throttle", "error500", "hang", "exception_event"]

PARTIAL_EVERY_BYTES = 32000
"""A partial result after each second of 16 kHz audio, as the service does."""
WORDS_PER_FINAL = 8
"""Longer utterances come back as several final results, as the service splits them."""


@dataclass
class StreamSession:
    """One ``/stream-transcription`` call as the fake saw it."""

    headers: dict[str, str]
    scenario: Scenario
    problem: str | None = None
    pcm: bytearray = field(default_factory=bytearray)
    audio_events: int = 0
    bad_signatures: int = 0
    audio_ended: bool = False
    """The SDK sent the empty envelope that ends the audio."""
    clip: SpeechClip | None = None
    exact_match: bool = False
    answered_text: str = ""
    partials_sent: int = 0
    finals_sent: int = 0
    prior_signature: bytes = b""
    decoder: aws_eventstream.Decoder = field(default_factory=aws_eventstream.Decoder)
    finished: bool = False
    bytes_since_partial: int = 0


def identify(pcm: bytes) -> tuple[SpeechClip | None, bool]:
    """The shared clip this PCM is, and whether byte for byte (else resampled/altered)."""
    for candidate in speech_clips():
        if pcm == candidate.pcm:
            return candidate, True
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    best: SpeechClip | None = None
    best_score = 0.0
    for candidate in speech_clips():
        reference = np.frombuffer(candidate.pcm, dtype="<i2").astype(np.float64)
        if abs(len(samples) - len(reference)) > 0.02 * len(reference):
            continue
        n = min(len(samples), len(reference))
        a, b = samples[:n], reference[:n]
        denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
        score = float(np.dot(a, b)) / denominator if denominator else 0.0
        if score > best_score:
            best, best_score = candidate, score
    return (best, False) if best_score > 0.9 else (None, False)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-transcribe")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "fake-transcribe.pem"
    key_file = directory / "fake-transcribe.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def event_signature(
    date: datetime.datetime, encoded_date: bytes, payload: bytes, prior: bytes
) -> bytes:
    """What ``:chunk-signature`` must be for an envelope (SigV4 for event streams)."""
    timestamp = date.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{timestamp[:8]}/{REGION}/transcribe/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            prior.hex(),
            hashlib.sha256(encoded_date).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + SECRET_ACCESS_KEY).encode(), timestamp[:8].encode())
    for part in (REGION, "transcribe", "aws4_request"):
        key = _hmac(key, part.encode())
    return _hmac(key, string_to_sign.encode())


def transcript_event(words: list[str], *, partial: bool, result_id: str, start_s: float) -> bytes:
    items = [
        {
            "Content": word,
            "Type": "pronunciation",
            "StartTime": round(start_s + 0.3 * i, 3),
            "EndTime": round(start_s + 0.3 * i + 0.25, 3),
            "VocabularyFilterMatch": False,
            **({} if partial else {"Confidence": 0.97}),
        }
        for i, word in enumerate(words)
    ]
    body = {
        "Transcript": {
            "Results": [
                {
                    "Alternatives": [{"Items": items, "Transcript": " ".join(words)}],
                    "ChannelId": "ch_0",
                    "EndTime": round(start_s + 0.3 * len(words), 3),
                    "IsPartial": partial,
                    "ResultId": result_id,
                    "StartTime": start_s,
                }
            ]
        }
    }
    return aws_eventstream.event("TranscriptEvent", json.dumps(body).encode())


class _Connection(asyncio.Protocol):
    def __init__(self, fake: FakeTranscribeStreaming) -> None:
        self._fake = fake
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self._transport: asyncio.Transport | None = None
        self._sessions: dict[int, StreamSession] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._fake.connections.add(self)
        self._h2.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fake.connections.discard(self)
        if any(not session.finished for session in self._sessions.values()):
            self._fake.hung_up.set()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection now, without waiting for the client's TLS close_notify."""
        if self._transport is not None:
            self._transport.abort()

    def _flush(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self._on_request(event.stream_id, dict(event.headers or []))  # type: ignore[arg-type]
            elif isinstance(event, h2.events.DataReceived):
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                session = self._sessions.get(event.stream_id)
                if session is not None and event.data:
                    self._on_data(event.stream_id, session, event.data)
            elif isinstance(event, h2.events.StreamReset):
                session = self._sessions.get(event.stream_id)
                if session is not None and not session.finished:
                    self._fake.hung_up.set()
            elif isinstance(event, h2.events.StreamEnded):
                session = self._sessions.get(event.stream_id)
                if session is not None and not session.finished:
                    self._fake.hung_up.set()
                if session is not None and session.scenario == "ok" and not session.finished:
                    self._finish(event.stream_id, session)
        self._flush()

    def _on_request(self, stream_id: int, headers: dict[str, str]) -> None:
        scenario = self._fake.scenarios.pop(0) if self._fake.scenarios else "ok"
        session = StreamSession(headers=headers, scenario=scenario)
        self._fake.sessions.append(session)
        self._sessions[stream_id] = session
        session.problem = self._request_problem(headers)
        if session.problem is not None:
            kind = (
                "BadRequestException"
                if "sigv4" not in session.problem
                else "UnrecognizedClientException"
            )
            status = 400 if kind == "BadRequestException" else 403
            self._error(stream_id, session, status, kind, session.problem)
        elif scenario == "throttle":
            self._error(
                stream_id,
                session,
                429,
                "LimitExceededException",
                "You have reached your limit of concurrent streams.",
            )
        elif scenario == "error500":
            self._error(
                stream_id, session, 500, "InternalFailureException", "An internal error occurred."
            )
        elif scenario == "hang":
            pass  # never answers: the client's timeout must fire
        else:
            session.prior_signature = bytes.fromhex(signature_of(headers["authorization"]))
            self._h2.send_headers(
                stream_id,
                [
                    (":status", "200"),
                    ("content-type", "application/vnd.amazon.eventstream"),
                    ("x-amzn-request-id", str(uuid.uuid4())),
                    ("x-amzn-transcribe-session-id", str(uuid.uuid4())),
                    ("x-amzn-transcribe-language-code", headers["x-amzn-transcribe-language-code"]),
                    ("x-amzn-transcribe-media-encoding", "pcm"),
                    ("x-amzn-transcribe-sample-rate", headers["x-amzn-transcribe-sample-rate"]),
                ],
            )

    def _request_problem(self, headers: dict[str, str]) -> str | None:
        if headers.get(":method") != "POST" or headers.get(":path") != "/stream-transcription":
            return f"unexpected {headers.get(':method')} {headers.get(':path')}"
        problem = sigv4_problem(headers.get("authorization"), "transcribe")
        if problem is not None:
            return f"sigv4: {problem}"
        expected = {
            "x-amzn-transcribe-language-code": self._fake.expected_language,
            "x-amzn-transcribe-sample-rate": "16000",
            "x-amzn-transcribe-media-encoding": "pcm",
        }
        for name, value in expected.items():
            if headers.get(name) != value:
                return f"{name} is {headers.get(name)!r}, expected {value!r}"
        return None

    def _error(
        self, stream_id: int, session: StreamSession, status: int, kind: str, message: str
    ) -> None:
        session.finished = True
        body = json.dumps({"Message": message}).encode()
        self._h2.send_headers(
            stream_id,
            [
                (":status", str(status)),
                ("content-type", "application/x-amz-json-1.1"),
                (
                    "x-amzn-errortype",
                    f"{kind}:http://internal.amazon.com/coral/com.amazonaws.transcribe.streaming/",
                ),
                ("x-amzn-request-id", str(uuid.uuid4())),
                ("content-length", str(len(body))),
            ],
        )
        self._h2.send_data(stream_id, body, end_stream=True)

    def _on_data(self, stream_id: int, session: StreamSession, data: bytes) -> None:
        if session.finished or session.scenario == "hang":
            return
        try:
            envelopes = session.decoder.feed(data)
        except aws_eventstream.FrameError as exc:
            self._exception(stream_id, session, "SerializationException", str(exc))
            return
        for envelope in envelopes:
            date = envelope.headers.get(":date")
            signature = envelope.headers.get(":chunk-signature")
            if not isinstance(date, datetime.datetime) or not isinstance(signature, bytes):
                self._exception(stream_id, session, "BadRequestException", "unsigned event")
                return
            expected = event_signature(
                date, envelope.encoded_headers[":date"], envelope.payload, session.prior_signature
            )
            if not hmac.compare_digest(expected, signature):
                session.bad_signatures += 1
                self._exception(
                    stream_id, session, "BadRequestException", "event signature does not match"
                )
                return
            session.prior_signature = signature
            if not envelope.payload:
                session.audio_ended = True
                self._fake.hung_up.set()
                self._finish(stream_id, session)
                return
            for message in aws_eventstream.Decoder().feed(envelope.payload):
                if message.headers.get(":event-type") != "AudioEvent":
                    self._exception(stream_id, session, "BadRequestException", "not an AudioEvent")
                    return
                session.audio_events += 1
                self._fake.audio_received.set()
                session.pcm += message.payload
                session.bytes_since_partial += len(message.payload)
            if session.scenario == "exception_event":
                self._exception(
                    stream_id,
                    session,
                    "BadRequestException",
                    "Your request timed out because no new audio was received for 15 seconds.",
                )
                return
            if session.bytes_since_partial >= PARTIAL_EVERY_BYTES:
                session.bytes_since_partial = 0
                self._partial(stream_id, session)

    def _partial(self, stream_id: int, session: StreamSession) -> None:
        received = bytes(session.pcm)
        for candidate in speech_clips():
            if candidate.pcm.startswith(received):
                words = candidate.text.split()
                count = max(1, round(len(words) * len(received) / len(candidate.pcm)))
                frame = transcript_event(
                    words[:count], partial=True, result_id=f"partial-{stream_id}", start_s=0.25
                )
                self._h2.send_data(stream_id, frame)
                session.partials_sent += 1
                return

    def _finish(self, stream_id: int, session: StreamSession) -> None:
        session.finished = True
        session.clip, session.exact_match = identify(bytes(session.pcm))
        words = session.clip.text.split() if session.clip else []
        session.answered_text = " ".join(words)
        start_s = 0.25
        for index in range(0, len(words), WORDS_PER_FINAL):
            segment = words[index : index + WORDS_PER_FINAL]
            self._h2.send_data(
                stream_id,
                transcript_event(
                    segment, partial=False, result_id=f"{stream_id}-{index}", start_s=start_s
                ),
            )
            session.finals_sent += 1
            start_s += 0.3 * len(segment)
        self._h2.send_data(stream_id, b"", end_stream=True)

    def _exception(self, stream_id: int, session: StreamSession, kind: str, message: str) -> None:
        session.finished = True
        payload = json.dumps({"Message": message}).encode()
        self._h2.send_data(stream_id, aws_eventstream.exception(kind, payload), end_stream=True)


class FakeTranscribeStreaming:
    """``await start(cert_dir)``, then point the adapter at ``endpoint``, trusting ``ca_file``."""

    def __init__(self, expected_language: str = "en-US") -> None:
        self.expected_language = expected_language
        self.scenarios: list[Scenario] = []
        """What the next calls do, in order; "ok" once empty."""
        self.sessions: list[StreamSession] = []
        self.connections: set[_Connection] = set()
        self.audio_received = asyncio.Event()
        """Set at the first audio event of any stream."""
        self.hung_up = asyncio.Event()
        """Set when a client ends its side of a stream (the empty envelope, END_STREAM), resets
        it or drops the connection before the service finished it: after a cancelled turn the
        call must not stay open until the service's own 15 s idle timeout."""
        self.ca_file = Path()
        self._server: asyncio.Server | None = None

    async def start(self, cert_dir: Path) -> None:
        cert_file, key_file = make_certificate(cert_dir)
        self.ca_file = cert_file
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        context.set_alpn_protocols(["h2"])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), "127.0.0.1", 0, ssl=context
        )

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"https://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self.connections):
            connection.abort()
        await self._server.wait_closed()
        await asyncio.sleep(0)  # let the aborted transports run connection_lost
        self._server = None
