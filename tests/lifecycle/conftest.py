"""The server fixtures of tests/server, for the session.update checks of the lifecycle."""

from tests.server.conftest import local_stt, serve

__all__ = ["local_stt", "serve"]
