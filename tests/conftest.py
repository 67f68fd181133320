"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_service import HOST, PORT, RedisMissing, ensure_redis, stop


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of Redis on 127.0.0.1:6379, started for the session when nothing listens there.

    Fails (never skips) with how to install Redis when there is none to start."""
    try:
        started = ensure_redis(HOST, PORT)
    except RedisMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield f"redis://{HOST}:{PORT}/0"
    if started is not None:
        stop(started)
