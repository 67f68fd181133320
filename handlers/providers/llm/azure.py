"""Azure OpenAI chat completions, streamed, through the OpenAI SDK's AsyncAzureOpenAI client.

The contract's model name is the *deployment* name: requests go to
``{AZURE_OPENAI_ENDPOINT}/openai/deployments/{model}/chat/completions?api-version=...``
with the key in the ``api-key`` header, so name each deployment after the model it serves.

Environment: ``AZURE_OPENAI_ENDPOINT`` (e.g. ``https://my-resource.openai.azure.com``) and
``AZURE_OPENAI_API_KEY`` (required), ``OPENAI_API_VERSION`` (optional, default
``2024-10-21``, the current GA data-plane version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from openai import AsyncAzureOpenAI

from handlers.providers.base import CallPolicy, require_env
from handlers.providers.llm.openai import OpenAICompatibleLanguageModel

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAILanguageModel(OpenAICompatibleLanguageModel):
    vendor = "Azure OpenAI"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        endpoint, api_key = require_env(env, "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")
        policy = CallPolicy.from_env(env)
        client = AsyncAzureOpenAI(
            azure_endpoint=endpoint,
            api_key=api_key,
            api_version=env.get("OPENAI_API_VERSION") or DEFAULT_API_VERSION,
            timeout=policy.timeout_s,
            max_retries=policy.max_retries,
        )
        # GA api-versions before 2024-12-01 know max_tokens for non-reasoning models only.
        return cls(client, secrets=[api_key], legacy_max_tokens=True)
