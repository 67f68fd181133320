"""Every test here talks to Redis on 127.0.0.1:6379: it is started when missing (tests/conftest)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _redis(redis_server: str) -> str:
    return redis_server
