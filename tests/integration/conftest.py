"""The integration tests' fixtures: the fakes they start, from ``tests/fakes/fixtures.py``."""

from tests.fakes.fixtures import bedrock, openai_api, polly  # noqa: F401 (found by name)
