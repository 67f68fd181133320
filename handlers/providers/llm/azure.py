"""Azure OpenAI chat completions, streamed, through the OpenAI SDK's AsyncAzureOpenAI client.

The contract's model name is the *deployment* name: requests go to
``{AZURE_OPENAI_ENDPOINT}/openai/deployments/{model}/chat/completions?api-version=...``
with the key in the ``api-key`` header, so name each deployment after the model it serves.

Environment: ``AZURE_OPENAI_ENDPOINT`` (e.g. ``https://my-resource.openai.azure.com``) and
``AZURE_OPENAI_API_KEY`` (required), ``OPENAI_API_VERSION`` (optional, default
``2024-10-21``, the current GA data-plane version). Reasoning deployments (o-series, gpt-5*)
are served only from ``2024-12-01-preview`` on: their requests carry that api-version when the
configured one is older (``Lifecycle.azure_api_version``).

With the asynchronous content filter, stream chunks can carry filter results and no ``delta``;
they are skipped (``stream_chat_completion``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

from openai import AsyncAzureOpenAI

from handlers.providers.base import CallPolicy, require_env
from handlers.providers.lifecycle import Lifecycle, load_lifecycle
from handlers.providers.llm.openai import OpenAICompatibleLanguageModel, is_reasoning_model
from handlers.providers.openai_common import openai_http_client

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAILanguageModel(OpenAICompatibleLanguageModel):
    vendor = "Azure OpenAI"
    lifecycle_name = "azure"

    def __init__(
        self,
        client: AsyncAzureOpenAI,
        *,
        secrets: Sequence[str] = (),
        api_version: str | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        # GA api-versions before 2024-12-01 know max_tokens for non-reasoning models only.
        super().__init__(client, secrets=secrets, legacy_max_tokens=True, lifecycle=lifecycle)
        self._api_version = api_version

    def query(self, model: str) -> Mapping[str, str] | None:
        version = self._lifecycle.azure_api_version(
            model, self._api_version, reasoning=is_reasoning_model(model)
        )
        return {"api-version": version}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        endpoint, api_key = require_env(env, "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")
        policy = CallPolicy.from_env(env)
        api_version = env.get("OPENAI_API_VERSION") or DEFAULT_API_VERSION
        client = AsyncAzureOpenAI(
            azure_endpoint=endpoint,
            api_key=api_key,
            api_version=api_version,
            timeout=policy.timeout_s,
            max_retries=policy.max_retries,
            http_client=openai_http_client(),
        )
        return cls(
            client, secrets=[api_key], api_version=api_version, lifecycle=load_lifecycle(env)
        )
