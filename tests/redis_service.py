"""Redis for the tests that need it: the one listening on 127.0.0.1:6379, or one started here.

Never a skip: with nothing listening and no ``redis-server`` installed, the tests fail with a line
saying how to install it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

HOST = "127.0.0.1"
PORT = 6379
INSTALL_HINT = (
    "install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)"
    " or start one on {host}:{port}"
)


class RedisMissing(Exception):
    pass


def answers_ping(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(
    host: str = HOST, port: int = PORT, *, start_within_s: float = 10.0
) -> subprocess.Popen[bytes] | None:
    """None when Redis already answers on ``host:port``; else the ``redis-server`` started there
    (stop it with ``stop``). RedisMissing when there is none and none can be started."""
    if answers_ping(host, port):
        return None
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisMissing(
            f"these tests need Redis on {host}:{port}: nothing answers there and redis-server is"
            f" not on PATH; {INSTALL_HINT.format(host=host, port=port)}"
        )
    process = subprocess.Popen(
        [executable, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + start_within_s
    while time.monotonic() < deadline:
        if answers_ping(host, port):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop(process)
    raise RedisMissing(
        f"redis-server did not start on {host}:{port} (exit code {process.returncode});"
        " is the port taken by something else?"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
