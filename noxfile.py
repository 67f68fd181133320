"""Developer and CI entry points.

`nox -s tests`, `nox -s codegen [-- --check]`, `nox -s spec`, `nox -s lint`, `nox -s serve`,
`nox -s talk -- reply.wav --input question.wav`, `nox -s bench`. Sessions run on the Python that
runs nox (3.11 or newer).
"""

from __future__ import annotations

import shutil

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

# The AsyncAPI CLI that client teams use to validate the contract.
ASYNCAPI_CLI = "@asyncapi/cli@6"


@nox.session
def tests(session: nox.Session) -> None:
    """Install everything and run the whole test suite.

    The browser page's test (tests/web) also needs Debian's Chromium (`apt-get install -y
    chromium`) and Node.js; its npm packages are installed here when npm is present (without
    npm, that test fails and says how to install it)."""
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


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict over all Python code."""
    session.install("-e", ".[test,codegen,lint]")
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
