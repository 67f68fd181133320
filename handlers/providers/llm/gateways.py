"""OpenAI-compatible LLM gateways: AI Games, Clarity and Bayer.

Each is an OpenAI chat-completions endpoint behind its own base URL and key; the contract's
model name is sent as is, except where a gateway takes ids (Bayer, below).

Environment (both variables of a gateway are required to use it):

* ``AIGAMES_BASE_URL``, ``AIGAMES_API_KEY``
* ``CLARITY_BASE_URL``, ``CLARITY_API_KEY``, ``CLARITY_MODEL``: the contract lists no Clarity
  models and clients send ``"default"``, so ``CLARITY_MODEL`` names the gateway model that
  ``"default"`` (or an empty model) means; it is required because nothing else can be sent.
  Any other model name is passed through unchanged.
* ``BAYER_BASE_URL``, ``BAYER_API_KEY``. myGenAssist takes model ids (``gpt-4o-mini``), not
  the display names the contract lists ("GPT-4o mini"): a display name is sent as the id the
  lifecycle data or the operator's ``METAHUMAN_MODEL_MAP`` gives it (``{"llm": {"bayer":
  {"Claude Sonnet 4.5": "<gateway id>"}}}``), any other name as it is.

A base URL includes the API prefix, e.g. ``https://gateway.example.com/v1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from openai import AsyncOpenAI

from handlers.providers.base import CallPolicy, require_env
from handlers.providers.lifecycle import load_lifecycle
from handlers.providers.llm.openai import OpenAICompatibleLanguageModel
from handlers.providers.openai_common import openai_http_client


class GatewayLanguageModel(OpenAICompatibleLanguageModel):
    """Base: a subclass names its environment variables."""

    base_url_variable: ClassVar[str]
    api_key_variable: ClassVar[str]
    default_model_variable: ClassVar[str | None] = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        names = [cls.base_url_variable, cls.api_key_variable]
        if cls.default_model_variable:
            names.append(cls.default_model_variable)
        values = require_env(env, *names)
        policy = CallPolicy.from_env(env)
        client = AsyncOpenAI(
            api_key=values[1],
            base_url=values[0],
            timeout=policy.timeout_s,
            max_retries=policy.max_retries,
            http_client=openai_http_client(),
        )
        return cls(
            client,
            secrets=[values[1]],
            # Gateways in front of many vendors' models reliably accept max_tokens only.
            legacy_max_tokens=True,
            default_model=values[2] if len(values) > 2 else None,
            lifecycle=load_lifecycle(env),
        )


class AiGamesLanguageModel(GatewayLanguageModel):
    vendor = "AI Games"
    lifecycle_name = "aigames"
    base_url_variable = "AIGAMES_BASE_URL"
    api_key_variable = "AIGAMES_API_KEY"


class ClarityLanguageModel(GatewayLanguageModel):
    vendor = "Clarity"
    lifecycle_name = "clarity"
    base_url_variable = "CLARITY_BASE_URL"
    api_key_variable = "CLARITY_API_KEY"
    default_model_variable = "CLARITY_MODEL"


class BayerLanguageModel(GatewayLanguageModel):
    vendor = "Bayer"
    lifecycle_name = "bayer"
    maps_display_names = True
    base_url_variable = "BAYER_BASE_URL"
    api_key_variable = "BAYER_API_KEY"
