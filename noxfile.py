"""Developer and CI entry points.

`nox -s tests`, `nox -s codegen [-- --check]`, `nox -s spec`, `nox -s clients`, `nox -s docs`,
`nox -s lint`, `nox -s serve`, `nox -s talk -- reply.wav --input question.wav`, `nox -s bench`.
Sessions run on the Python that runs nox (3.11 or newer).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

# The AsyncAPI CLI that client teams use to validate the contract.
ASYNCAPI_CLI = "@asyncapi/cli@6"


# Programs the tests drive as real peers: Redis (scale-out), HAProxy (two nodes behind a
# balancer), Chromium and Node.js (the browser page). Command -> Debian package.
TEST_PROGRAMS = {
    "redis-server": "redis-server",
    "haproxy": "haproxy",
    "chromium": "chromium",
    "node": "nodejs",
    "npm": "npm",
}


def _install_test_programs(session: nox.Session) -> None:
    """On a fresh Debian/Ubuntu machine as root, install the programs the tests need; elsewhere
    the tests that need a missing one fail and say how to install it (they never skip)."""
    missing = sorted({pkg for cmd, pkg in TEST_PROGRAMS.items() if not shutil.which(cmd)})
    if not missing:
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        session.log(f"installing {', '.join(missing)} with apt-get")
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", *missing, external=True)
    else:
        session.warn(f"missing {', '.join(missing)}: install them (e.g. apt-get install ...)")


@nox.session
def tests(session: nox.Session) -> None:
    """Install everything and run the whole test suite.

    The tests also drive Redis, HAProxy, Chromium and Node.js: installed here with apt-get when
    missing and run as root on Debian/Ubuntu (elsewhere their tests fail and say how to
    install them). The page test's npm packages are installed here when npm is present."""
    _install_test_programs(session)
    session.install("-e", ".[test,codegen]")
    if shutil.which("npm"):
        session.run(
            "npm",
            "ci",
            "--prefix",
            "tests/web",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            external=True,
        )
    session.run("pytest", *session.posargs)


@nox.session
def codegen(session: nox.Session) -> None:
    """Regenerate generated/ from asyncapi.yaml; `-- --check` fails when generated/ is stale."""
    session.install("-e", ".[codegen]")
    session.run("python", "-m", "codegen", *session.posargs)


@nox.session(python=False)
def spec(session: nox.Session) -> None:
    """Validate asyncapi.yaml with the official AsyncAPI CLI (needs Node.js and npm)."""
    session.env["SUPPRESS_NO_CONFIG_WARNING"] = "1"
    session.run(
        "npx",
        "--yes",
        ASYNCAPI_CLI,
        "validate",
        "asyncapi.yaml",
        "--fail-severity",
        "error",
        external=True,
    )


def _client_tools(session: nox.Session) -> None:
    """The AsyncAPI CLI, its html-template and tsc, pinned by clients/package-lock.json.

    `npm ci` wipes node_modules and takes minutes; it runs only when the lockfile changed since
    the last install (a stamp in node_modules records the lockfile's hash)."""
    # The html-template depends on puppeteer (for PDF output); skip its Chromium download.
    session.env["PUPPETEER_SKIP_DOWNLOAD"] = "1"
    session.env["SUPPRESS_NO_CONFIG_WARNING"] = "1"
    lock = hashlib.sha256(Path("clients/package-lock.json").read_bytes()).hexdigest()
    stamp = Path("clients/node_modules/.installed-lockfile")
    if stamp.is_file() and stamp.read_text() == lock:
        return
    session.run(
        "npm", "ci", "--prefix", "clients", "--prefer-offline", "--no-audit", "--no-fund",
        external=True,
    )  # fmt: skip
    stamp.write_text(lock)


@nox.session(python=False)
def clients(session: nox.Session) -> None:
    """What client teams generate: Modelina models (TypeScript, Python, Java) through the
    official CLI, with no AnonymousSchema, compiled (tsc --strict, py_compile, javac when
    present); and handlers/static/contract.js current with generated/contract.ts (tsc --strict).
    `-- --update` rewrites contract.js after `nox -s codegen`. Needs Node.js 20+ and npm."""
    _client_tools(session)
    session.run(sys.executable, "clients/check.py", *session.posargs, external=True)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """HTML docs of the contract with the official html-template, into docs/html (not committed)."""
    _client_tools(session)
    session.run(
        "clients/node_modules/.bin/asyncapi", "generate", "fromTemplate", "asyncapi.yaml",
        "clients/node_modules/@asyncapi/html-template", "-o", "docs/html", "--force-write",
        *session.posargs,
        external=True,
    )  # fmt: skip


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict over all Python code."""
    session.install("-e", ".[test,codegen,lint,bench]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def serve(session: nox.Session) -> None:
    """Start the server on 127.0.0.1:8000 with the embedded offline providers."""
    session.install("-e", ".")
    session.run("metahuman-chat-server", *session.posargs)


@nox.session
def talk(session: nox.Session) -> None:
    """Speak one turn to a running server: `nox -s talk -- reply.wav --input question.wav`."""
    session.install("-e", ".")
    session.run("metahuman-chat-talk", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmark scripts: they print figures and write bench/results/*.json and the
    conversation table and plot (bench/results/; a full run also bench/figures/)."""
    session.install("-e", ".[test,bench]")
    session.run("python", "-m", "bench", *session.posargs)
