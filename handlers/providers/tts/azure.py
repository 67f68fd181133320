"""Azure AI Speech text-to-speech over its REST API (aiohttp).

The REST API rather than the native Speech SDK: the SDK's endpoint is a WebSocket service with a
proprietary framing that no local fake can stand in for, while the REST API is plain HTTP.
``POST {region}.tts.speech.microsoft.com/cognitiveservices/v1`` with an SSML body answers with raw
24 kHz PCM16 mono (``X-Microsoft-OutputFormat: raw-24khz-16bit-mono-pcm``), sent chunked as it is
synthesised; it is passed on as it arrives.

Models: the contract lists model names for Azure TTS (gpt-4, gpt-4o, ...); they are accepted and
ignored, since an Azure neural voice has no model to select (the voice name picks the voice model).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Self
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import aiohttp

from handlers.audio import WholeSamples
from handlers.providers.base import (
    CallPolicy,
    PcmChunk,
    ProviderError,
    ProviderUnavailable,
    TtsRequest,
    require_env,
)
from handlers.providers.retry import stream_with_retries
from handlers.providers.toolkit import LoopBound, connection_error, default_voice, http_status_error

SYNTHESIS_SAMPLE_RATE = 24000
OUTPUT_FORMAT = "raw-24khz-16bit-mono-pcm"
SYNTHESIS_PATH = "/cognitiveservices/v1"
USER_AGENT = "metahuman-ai-chat"
DEFAULT_VOICE = default_voice("azure")
"""Besides the contract's voices, any other Azure neural voice name is passed through."""
WHAT = "Azure text-to-speech"
_GENDERS = {"unspecified": None, "neutral": "Neutral", "male": "Male", "female": "Female"}
# Azure's prosody rate spans half to double speed.
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0
# Characters XML 1.0 forbids even when escaped (control codes an LLM may emit).
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_REGION = re.compile(r"[a-z0-9-]+")


def build_ssml(text: str, *, voice: str, language: str, gender: str | None, speed: float) -> str:
    """The SSML document for one utterance; text and attributes are XML-escaped."""
    rate = round((min(max(speed, _MIN_SPEED), _MAX_SPEED) - 1) * 100)
    gender_attribute = f" xml:gender={quoteattr(gender)}" if gender else ""
    body = escape(_NOT_XML_CHARS.sub("", text))
    return (
        f"<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis'"
        f" xml:lang={quoteattr(language)}>"
        f"<voice xml:lang={quoteattr(language)}{gender_attribute} name={quoteattr(voice)}>"
        f"<prosody rate={quoteattr(f'{rate:+d}%')}>{body}</prosody>"
        "</voice></speak>"
    )


# The hosts of AZURE_SPEECH_ENDPOINT in the forms the Azure portal shows (Keys and Endpoint page):
# the regional Azure AI services host serves tokens, not synthesis, so its region's TTS host is
# used; a custom subdomain takes the service name as the first path element (learn.microsoft.com
# speech-services-private-link, "Construct endpoint URL": /tts/cognitiveservices/...).
_REGIONAL_API_HOST = re.compile(
    r"(?P<region>[a-z0-9-]+)\.api\.cognitive\.(?P<cloud>microsoft\.com|azure\.cn)"
)
_CUSTOM_SUBDOMAIN_HOST = re.compile(r"[a-z0-9-]+\.cognitiveservices\.azure\.(com|cn)")


def synthesis_url(endpoint: str) -> str:
    """The REST synthesis URL for ``AZURE_SPEECH_ENDPOINT`` in any form the portal shows:

    * ``https://<region>.tts.speech.microsoft.com`` -> ``…/cognitiveservices/v1``
    * ``https://<region>.api.cognitive.microsoft.com/`` (regional Keys and Endpoint value) ->
      ``https://<region>.tts.speech.microsoft.com/cognitiveservices/v1``
    * ``https://<name>.cognitiveservices.azure.com/`` (custom subdomain) ->
      ``https://<name>.cognitiveservices.azure.com/tts/cognitiveservices/v1``

    An endpoint with a path of its own (a custom voice deployment) is used as given.
    """
    parts = urlsplit(endpoint.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/")
    scheme = parts.scheme or "https"
    regional = _REGIONAL_API_HOST.fullmatch(host)
    if regional is not None and path in ("", "/sts/v1.0/issuetoken", "/sts/v1.0/issueToken"):
        tts_host = f"{regional['region']}.tts.speech.{regional['cloud']}"
        return f"{scheme}://{tts_host}{SYNTHESIS_PATH}"
    if path:
        return endpoint.strip()
    base = f"{scheme}://{parts.netloc}"
    if _CUSTOM_SUBDOMAIN_HOST.fullmatch(host):
        return f"{base}/tts{SYNTHESIS_PATH}"
    return base + SYNTHESIS_PATH  # the tts.speech host, or a local server


class AzureTextToSpeech:
    def __init__(self, key: str, url: str, policy: CallPolicy) -> None:
        self._url = url
        self._policy = policy
        self._headers = {
            "Ocp-Apim-Subscription-Key": key,
            "Content-Type": "application/ssml+xml",
            "X-Microsoft-OutputFormat": OUTPUT_FORMAT,
            "User-Agent": USER_AGENT,
        }
        self._secrets = (key,)
        self._sessions = LoopBound(self._new_session, aiohttp.ClientSession.close)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        endpoint = env.get("AZURE_SPEECH_ENDPOINT")
        if endpoint:
            (key,) = require_env(env, "AZURE_SPEECH_KEY")
            url = synthesis_url(endpoint)
        else:
            key, region = require_env(env, "AZURE_SPEECH_KEY", "AZURE_SPEECH_REGION")
            if not _REGION.fullmatch(region):
                raise ProviderUnavailable("AZURE_SPEECH_REGION is not an Azure region name")
            url = f"https://{region}.tts.speech.microsoft.com{SYNTHESIS_PATH}"
        return cls(key, url, CallPolicy.from_env(env))

    def _new_session(self) -> aiohttp.ClientSession:
        """One session (one connection pool) for every call, made on the loop that uses it."""
        # stream_with_retries bounds each wait; no whole-response limit for long replies.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._policy.timeout_s)
        return aiohttp.ClientSession(timeout=timeout)

    async def aclose(self) -> None:
        await self._sessions.aclose()

    async def synthesize(self, text: str, request: TtsRequest) -> AsyncIterator[PcmChunk]:
        # request.model is deliberately unused: see the module docstring.
        if request.ssml_gender not in _GENDERS:
            raise ProviderError(f"unknown SSML gender {request.ssml_gender!r}")
        ssml = build_ssml(
            text,
            voice=DEFAULT_VOICE if request.voice == "default" else request.voice,
            language=request.language,
            gender=_GENDERS[request.ssml_gender],
            speed=request.speed,
        ).encode()
        # aclosing: a listener who stops early (barge-in) ends the HTTP response now, not at GC.
        pcms = stream_with_retries(lambda: self._post(ssml), self._policy)
        async with aclosing(pcms):
            async for pcm in pcms:
                yield PcmChunk(pcm, SYNTHESIS_SAMPLE_RATE)

    async def _post(self, ssml: bytes) -> AsyncIterator[bytes]:
        """One synthesis request: its PCM as it arrives, cut to whole samples."""
        session = self._sessions.get()
        try:
            async with session.post(self._url, data=ssml, headers=self._headers) as response:
                if response.status != 200:
                    detail = (await response.text(errors="replace")).strip()[:200]
                    raise http_status_error(WHAT, response.status, detail, self._secrets)
                async for pcm in WholeSamples(response.content.iter_any()):
                    yield pcm
        except aiohttp.ClientError as exc:
            # Connection refused or reset, a cut-off body, ...: worth another attempt.
            raise connection_error(WHAT, exc) from exc
