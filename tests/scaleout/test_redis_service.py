"""The tests' Redis: started when missing, a clear failure when it cannot be."""

from __future__ import annotations

import socket

import pytest

from tests.redis_service import RedisMissing, answers_ping, ensure_redis, stop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_redis_is_started_where_none_listens() -> None:
    port = free_port()
    assert not answers_ping("127.0.0.1", port)
    process = ensure_redis("127.0.0.1", port)
    assert process is not None
    try:
        assert answers_ping("127.0.0.1", port)
        assert ensure_redis("127.0.0.1", port) is None  # already there: nothing started
    finally:
        stop(process)
    assert not answers_ping("127.0.0.1", port)


def test_without_redis_server_the_message_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)
    port = free_port()
    with pytest.raises(RedisMissing, match="apt-get install redis-server"):
        ensure_redis("127.0.0.1", port)
