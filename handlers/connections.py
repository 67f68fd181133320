"""Who may connect, and how client mistakes are logged.

``ConnectionCounts`` bounds the connections of one session and of one remote address on this node
(refused with ``too_many_connections``). ``ClientErrorLog`` writes client errors (bad packets,
floods, refusals) as single lines carrying the session id, at most ``per_second`` a second for
the whole process: a client must not be able to fill the disk. A traceback in the log means a
bug in the server, never a client's doing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("metahuman.clients")


@dataclass(slots=True)
class ConnectionCounts:
    per_session: int
    per_address: int
    sessions: Counter[str] = field(default_factory=Counter)
    addresses: Counter[str] = field(default_factory=Counter)

    def refusal(self, session_id: str, address: str) -> str | None:
        """Why one more connection of ``session_id`` from ``address`` is refused, or None."""
        if self.sessions[session_id] >= self.per_session:
            return f"this session already has {self.per_session} connections on this node"
        if self.addresses[address] >= self.per_address:
            return f"this address already has {self.per_address} connections on this node"
        return None

    def add(self, session_id: str, address: str) -> None:
        self.sessions[session_id] += 1
        self.addresses[address] += 1

    def remove(self, session_id: str, address: str) -> None:
        for counter, key in ((self.sessions, session_id), (self.addresses, address)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]


@dataclass(slots=True)
class ClientErrorLog:
    per_second: float = 10.0
    clock: Callable[[], float] = time.monotonic
    suppressed: int = 0
    _window: float = 0.0
    _written: int = 0

    def warning(self, session_id: str | None, code: str, message: str) -> None:
        now = self.clock()
        if now - self._window >= 1.0:
            if self.suppressed:
                log.warning("%d client error lines suppressed in the last second", self.suppressed)
            self._window, self._written, self.suppressed = now, 0, 0
        if self._written >= self.per_second:
            self.suppressed += 1
            return
        self._written += 1
        # The message is ours (never a client's payload); the code is one of the contract's.
        log.warning("client error %s in session %s: %s", code, session_id or "-", message[:200])


def client_address(environ: Mapping[str, Any] | None) -> str:
    """The remote address of a connection (python-engineio's aiohttp environ fixes REMOTE_ADDR
    at 127.0.0.1: the real one is on the aiohttp request). Behind a proxy this is the proxy."""
    if environ is None:
        return "-"
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    return str(remote) if remote else str(environ.get("REMOTE_ADDR", "-"))
