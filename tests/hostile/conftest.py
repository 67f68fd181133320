"""The server tests' fixtures (a real server per test, contract checks on every event)."""

from tests.server.conftest import local_stt, serve, server

__all__ = ["local_stt", "serve", "server"]
