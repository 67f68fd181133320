"""AWS event-stream framing (``application/vnd.amazon.eventstream``), written from the spec.

A message is: prelude (total length u32, headers length u32, CRC32 of those 8 bytes),
headers, payload, CRC32 of everything before it. A header is: name length u8,
name, value type u8, value (strings and bytes carry a u16 length). Bedrock's
ConverseStream answers in these frames; Transcribe streaming uses them both ways,
its audio events wrapped in signed envelopes (``:date`` + ``:chunk-signature``).

Independent of the SDKs on purpose, so the fakes check the SDKs rather than
reuse them; tests cross-check this encoder against botocore's decoder.
"""

from __future__ import annotations

import datetime
import struct
import zlib
from dataclasses import dataclass, field

HeaderValue = bool | int | str | bytes | datetime.datetime

_TRUE, _FALSE, _BYTE, _SHORT, _INT, _LONG, _BYTES, _STRING, _TIMESTAMP, _UUID = range(10)
_PRELUDE = struct.Struct("!III")


class FrameError(ValueError):
    """Bytes that are not a well-formed event-stream message (bad length or CRC)."""


def encode_headers(headers: dict[str, HeaderValue]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name
        if isinstance(value, bool):
            out += struct.pack("!B", _TRUE if value else _FALSE)
        elif isinstance(value, int):
            out += struct.pack("!Bq", _LONG, value)
        elif isinstance(value, str):
            raw = value.encode()
            out += struct.pack("!BH", _STRING, len(raw)) + raw
        elif isinstance(value, bytes):
            out += struct.pack("!BH", _BYTES, len(value)) + value
        else:
            millis = int(value.timestamp() * 1000)
            out += struct.pack("!Bq", _TIMESTAMP, millis)
    return bytes(out)


def encode_message(headers: dict[str, HeaderValue], payload: bytes) -> bytes:
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    return encode_message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
        payload,
    )


def exception(exception_type: str, payload: bytes) -> bytes:
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        payload,
    )


@dataclass
class Message:
    headers: dict[str, HeaderValue]
    payload: bytes
    encoded_headers: dict[str, bytes] = field(repr=False)
    """Each header exactly as it was encoded (event signatures hash these bytes)."""


def decode_headers(raw: bytes) -> tuple[dict[str, HeaderValue], dict[str, bytes]]:
    headers: dict[str, HeaderValue] = {}
    encoded: dict[str, bytes] = {}
    at = 0
    while at < len(raw):
        start = at
        (name_length,) = struct.unpack_from("!B", raw, at)
        name = raw[at + 1 : at + 1 + name_length].decode()
        at += 1 + name_length
        (kind,) = struct.unpack_from("!B", raw, at)
        at += 1
        value: HeaderValue
        if kind in (_TRUE, _FALSE):
            value = kind == _TRUE
        elif kind in (_BYTE, _SHORT, _INT, _LONG):
            fmt = {_BYTE: "!b", _SHORT: "!h", _INT: "!i", _LONG: "!q"}[kind]
            (value,) = struct.unpack_from(fmt, raw, at)
            at += struct.calcsize(fmt)
        elif kind in (_BYTES, _STRING):
            (length,) = struct.unpack_from("!H", raw, at)
            data = raw[at + 2 : at + 2 + length]
            value = data.decode() if kind == _STRING else data
            at += 2 + length
        elif kind == _TIMESTAMP:
            (millis,) = struct.unpack_from("!q", raw, at)
            value = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
            at += 8
        elif kind == _UUID:
            value = raw[at : at + 16]
            at += 16
        else:
            raise FrameError(f"unknown header value type {kind}")
        headers[name] = value
        encoded[name] = raw[start:at]
    return headers, encoded


class Decoder:
    """Feed bytes as they arrive; ``feed`` returns the messages completed so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while len(self._buffer) >= _PRELUDE.size:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(self._buffer)
            if zlib.crc32(bytes(self._buffer[:8])) != prelude_crc:
                raise FrameError("prelude CRC mismatch")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = struct.unpack("!I", frame[-4:])
            if zlib.crc32(frame[:-4]) != message_crc:
                raise FrameError("message CRC mismatch")
            headers, encoded = decode_headers(frame[12 : 12 + headers_length])
            messages.append(Message(headers, frame[12 + headers_length : -4], encoded))
        return messages
