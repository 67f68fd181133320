"""The browser page: a Sender and a Receiver of one session on one page, served at ``/``.

Static files (``handlers/static/``, shipped as package data) plus two small JSON documents the
page reads at start: ``/catalog.json`` (the contract's providers, models and voices per stage,
from ``generated.catalog``) and ``/page-config.json`` (where the Socket.IO endpoint is).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from codegen.runtime import ProviderCatalog
from generated.catalog import CATALOG, DEFAULT_TTS_RESPONSE_TYPE
from generated.models import TtsResponseType

STATIC_DIR = Path(__file__).parent / "static"


def _provider_json(entry: ProviderCatalog) -> dict[str, Any]:
    described: dict[str, Any] = {"models": list(entry.models), "defaultModel": entry.default_model}
    if entry.voices is not None:
        described["voices"] = list(entry.voices)
        described["defaultVoice"] = entry.default_voice
    if entry.voice_pattern is not None:
        described["voicePattern"] = entry.voice_pattern
    return described


def catalog_json() -> dict[str, Any]:
    """``{stt|llm|tts: {provider: {models, defaultModel[, voices, defaultVoice, voicePattern]}},
    responseTypes, defaultResponseType}``, in the contract's order."""
    document: dict[str, Any] = {
        str(stage): {name: _provider_json(entry) for name, entry in providers.items()}
        for stage, providers in CATALOG.items()
    }
    document["responseTypes"] = [str(kind) for kind in TtsResponseType]
    document["defaultResponseType"] = str(DEFAULT_TTS_RESPONSE_TYPE)
    return document


def add_page_routes(app: web.Application, *, socketio_path: str) -> None:
    """Serve the page at ``/``, its assets under ``/static/``, and the JSON it reads."""
    catalog = catalog_json()
    page_config = {"socketioPath": socketio_path}
    index = STATIC_DIR / "index.html"

    async def page(_: web.Request) -> web.FileResponse:
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def catalog_document(_: web.Request) -> web.Response:
        return web.json_response(catalog)

    async def config_document(_: web.Request) -> web.Response:
        return web.json_response(page_config)

    app.router.add_get("/", page)
    app.router.add_get("/catalog.json", catalog_document)
    app.router.add_get("/page-config.json", config_document)
    app.router.add_static("/static/", STATIC_DIR)
