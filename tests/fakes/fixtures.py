"""The fixtures that start each loopback fake for one test and stop it after, said once.

``tests/providers/conftest.py`` and ``tests/integration/conftest.py`` import them; ``builders``
hands out ``ProviderBuilder``s (``tests/fakes/common.py``) and closes every provider they built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.aws_bedrock import FakeBedrockRuntime
from tests.fakes.aws_polly import FakePolly
from tests.fakes.aws_transcribe import FakeTranscribeStreaming
from tests.fakes.azure_speech import AzureSpeechFake
from tests.fakes.common import Builders
from tests.fakes.google_speech import GoogleSpeechFake
from tests.fakes.mistral_api import FakeMistralApi
from tests.fakes.openai_api import FakeOpenAIApi


@pytest.fixture
async def builders() -> AsyncIterator[Builders]:
    made = Builders()
    yield made
    await made.aclose()


@pytest.fixture
async def openai_api() -> AsyncIterator[FakeOpenAIApi]:
    async with FakeOpenAIApi() as fake:
        yield fake


@pytest.fixture
async def mistral_api() -> AsyncIterator[FakeMistralApi]:
    async with FakeMistralApi() as fake:
        yield fake


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrockRuntime]:
    fake = FakeBedrockRuntime()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def polly() -> AsyncIterator[FakePolly]:
    fake = FakePolly()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def transcribe(tmp_path: Path) -> AsyncIterator[FakeTranscribeStreaming]:
    fake = FakeTranscribeStreaming()
    await fake.start(tmp_path)
    yield fake
    await fake.stop()


@pytest.fixture
async def google_speech() -> AsyncIterator[GoogleSpeechFake]:
    fake = GoogleSpeechFake()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def azure_speech() -> AsyncIterator[AzureSpeechFake]:
    fake = AzureSpeechFake()
    await fake.start()
    yield fake
    await fake.stop()
