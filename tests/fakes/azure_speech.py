"""A local HTTP server speaking Azure AI Speech's text-to-speech REST protocol.

``POST /cognitiveservices/v1`` with an SSML body: the fake parses the SSML with xml.etree (so
unescaped text is a 400, as with Azure), checks the key, content type and output format headers,
records the voice, language, gender, rate and text, and streams real speech (a shared fixture
resampled to 24 kHz) as raw PCM16 in chunks cut at odd byte offsets, the way TCP may deliver it.
It can answer 429 or 500 a scripted number of times, or wait before answering.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from aiohttp import web

from handlers.audio import parse_wav, resample_pcm16
from tests.data import SPEECH_DIR

SHARED_AUDIO = SPEECH_DIR
KEY = "fake-azure-speech-key"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_GENDER = "{http://www.w3.org/XML/1998/namespace}gender"


def _local(tag: str) -> str:
    """An element's name without its namespace (Azure accepts SSML with or without xmlns)."""
    return tag.rsplit("}", 1)[-1]


@dataclass(frozen=True)
class SeenSynthesis:
    voice: str
    language: str
    voice_language: str
    gender: str | None
    rate: str | None
    text: str
    output_format: str
    user_agent: str


@dataclass
class AzureSpeechFake:
    fixture: str = "hello_how_are_you.wav"
    fail_status: int = 0
    fail_count: int = 0
    """The next ``fail_count`` requests answer ``fail_status``."""
    delay_s: float = 0.0
    """Wait before answering each request."""
    seen: list[SeenSynthesis] = field(default_factory=list)
    requests: int = 0
    served_pcm: bytes = b""
    pace_s: float = 0.002
    """The pause between pieces: audio comes out as it is synthesised, and the pause keeps the
    client from reading two pieces at once (which would make the odd sizes add up to even)."""
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a client leaves before the audio was all sent."""
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        pcm, rate = parse_wav((SHARED_AUDIO / self.fixture).read_bytes())
        self.served_pcm = resample_pcm16(pcm, rate, 24000)
        app = web.Application()
        app.router.add_post("/cognitiveservices/v1", self._synthesize)
        # Stopping must not wait for a scripted delay to run out.
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/cognitiveservices/v1"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _synthesize(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.headers.get("Ocp-Apim-Subscription-Key") != KEY:
            return web.Response(status=401, text="Access denied due to invalid subscription key.")
        if self.fail_count > 0:
            self.fail_count -= 1
            return web.Response(status=self.fail_status, text="scripted failure")
        if request.headers.get("Content-Type") != "application/ssml+xml":
            return web.Response(status=415, text="Content-Type must be application/ssml+xml")
        output_format = request.headers.get("X-Microsoft-OutputFormat", "")
        if output_format != "raw-24khz-16bit-mono-pcm":
            return web.Response(status=400, text=f"unexpected output format {output_format!r}")
        try:
            speak = ET.fromstring(body)
        except ET.ParseError as exc:
            return web.Response(status=400, text=f"SSML is not well-formed XML: {exc}")
        voice = next((e for e in speak if _local(e.tag) == "voice"), None)
        if _local(speak.tag) != "speak" or speak.get("version") != "1.0" or voice is None:
            return web.Response(status=400, text="expected <speak version='1.0'><voice ...>")
        prosody = next((e for e in voice if _local(e.tag) == "prosody"), None)
        text_element = prosody if prosody is not None else voice
        self.seen.append(
            SeenSynthesis(
                voice=voice.get("name", ""),
                language=speak.get(XML_LANG, ""),
                voice_language=voice.get(XML_LANG, ""),
                gender=voice.get(XML_GENDER),
                rate=None if prosody is None else prosody.get("rate"),
                text="".join(text_element.itertext()),
                output_format=output_format,
                user_agent=request.headers.get("User-Agent", ""),
            )
        )
        if not self.seen[-1].voice.endswith("Neural"):
            return web.Response(status=400, text="unknown voice")

        response = web.StreamResponse(headers={"Content-Type": "audio/x-wav"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        start, step = 0, 4095  # odd: every other chunk ends mid-sample
        while start < len(self.served_pcm):
            if request.transport is None or request.transport.is_closing():
                self.hung_up.set()
                return response
            try:
                await response.write(self.served_pcm[start : start + step])
            except ConnectionError:
                self.hung_up.set()
                return response
            await asyncio.sleep(self.pace_s)
            start += step
        await response.write_eof()
        return response
