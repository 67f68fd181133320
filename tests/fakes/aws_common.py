"""What the AWS fakes share: fake credentials, SigV4 header checks, the shared speech clips."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from aiohttp import web

from handlers.audio import parse_wav
from tests.data import SPEECH_DIR

ACCESS_KEY_ID = "AKIAFAKEFAKEFAKE7EXA"
SECRET_ACCESS_KEY = "fake/Secret+Key/ForLoopbackTestsOnly0000"
REGION = "eu-west-1"

AUDIO_DIR = SPEECH_DIR

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def aws_env(**extra: str) -> dict[str, str]:
    """The env Mapping the tests hand to ``from_env``: fake keys, a region, fast policy."""
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
        "METAHUMAN_PROVIDER_TIMEOUT_S": "5",
        "METAHUMAN_PROVIDER_MAX_RETRIES": "2",
    }
    env.update(extra)
    return env


def sigv4_problem(authorization: str | None, service: str) -> str | None:
    """Why a SigV4 ``Authorization`` header is not the fake account's, or None when it is."""
    if not authorization:
        return "no Authorization header"
    match = _AUTHORIZATION.match(authorization)
    if match is None:
        return f"not a SigV4 Authorization header: {authorization[:40]!r}"
    expected = {"key": ACCESS_KEY_ID, "region": REGION, "service": service}
    for part, value in expected.items():
        if match[part] != value:
            return f"credential scope has {part}={match[part]!r}, expected {value!r}"
    if "host" not in match["signed"].split(";") or "x-amz-date" not in match["signed"].split(";"):
        return f"SignedHeaders lacks host/x-amz-date: {match['signed']}"
    return None


def signature_of(authorization: str) -> str:
    match = _AUTHORIZATION.match(authorization)
    assert match is not None
    return match["signature"]


@dataclass(frozen=True)
class SpeechClip:
    file: str
    text: str
    pcm: bytes
    sample_rate: int


@cache
def speech_clips() -> tuple[SpeechClip, ...]:
    """The shared 16 kHz speech WAVs with the words each one says (manifest ``text``)."""
    manifest = json.loads((AUDIO_DIR / "manifest.json").read_text())
    clips = []
    for entry in manifest:
        pcm, rate = parse_wav((AUDIO_DIR / entry["file"]).read_bytes())
        clips.append(SpeechClip(entry["file"], entry["text"], pcm, rate))
    return tuple(clips)


def clip(file: str) -> SpeechClip:
    return next(c for c in speech_clips() if c.file == file)


def client_hung_up(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def isolate_from_local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hide this machine's own AWS setup (process env, ~/.aws) from botocore's default chain."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CREDENTIAL_EXPIRATION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("BOTO_CONFIG", str(tmp_path / "no-boto-config"))
    # Would the chain reach the instance metadata service, it must not wait on it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class LoopbackEndpoint:
    """An aiohttp app on 127.0.0.1 at a free port, serving ``routes()``; ``endpoint`` is its URL.

    ``_closing`` is set at ``stop()`` so handlers holding a response open can let go.
    """

    def __init__(self) -> None:
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.endpoint = ""

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.endpoint = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
