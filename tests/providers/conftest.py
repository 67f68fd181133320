"""The provider tests' fixtures: every fake, and ``builders``, from ``tests/fakes/fixtures.py``."""

from tests.fakes.fixtures import (  # noqa: F401 (fixtures are found by name)
    azure_speech,
    bedrock,
    builders,
    google_speech,
    mistral_api,
    openai_api,
    polly,
    transcribe,
)
