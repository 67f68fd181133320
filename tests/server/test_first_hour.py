"""The first hour: each mistake a newcomer makes gets one clear line and an exit code, never a
traceback (the CLIs run as subprocesses, as a person runs them), and 8 kHz input to the local
recogniser is refused with a reason."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.server.audio_checks import AUDIO_DIR, TIME
from tests.server.conftest import ServeFn
from tests.server.harness import RunningServer

ROOT = Path(__file__).resolve().parents[2]
SPEECH = AUDIO_DIR / TIME


async def run_cli(module: str, *args: str, within: float = 60) -> tuple[int, str, str]:
    """Run ``python -m module args`` from the repository; (exit code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("METAHUMAN_LOG_LEVEL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the talk command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_path", "says"),
    [
        ("no/such/question.wav", "no such file"),
        ("tests", "is a directory"),
        ("pyproject.toml", "not a PCM16 WAV file"),
    ],
)
async def test_talk_bad_input(tmp_path: Path, input_path: str, says: str) -> None:
    code, _, err = await run_cli(
        "handlers.talk", str(tmp_path / "reply.wav"), "--input", input_path
    )
    assert code == 2
    line = one_line(err)
    assert line.startswith("metahuman-chat-talk: input ") and says in line
    assert not (tmp_path / "reply.wav").exists()


async def test_talk_output_folder_missing(tmp_path: Path) -> None:
    code, _, err = await run_cli(
        "handlers.talk", str(tmp_path / "nope" / "reply.wav"), "--input", str(SPEECH)
    )
    assert code == 2
    assert "does not exist" in one_line(err)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--output-format", "ogg"], "invalid choice: 'ogg'"),
        (["--mode", "loud"], "invalid choice: 'loud'"),
        ([], "required: --input"),
    ],
)
async def test_talk_bad_options(tmp_path: Path, args: list[str], says: str) -> None:
    extra = [] if not args else ["--input", str(SPEECH)]
    code, _, err = await run_cli("handlers.talk", str(tmp_path / "r.wav"), *extra, *args)
    assert code == 2
    assert says in one_line(err)


async def test_talk_no_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = await run_cli(
        "handlers.talk", str(tmp_path / "r.wav"), "--input", str(SPEECH), "--url", url
    )
    assert code == 3
    line = one_line(err)
    assert line.startswith(f"metahuman-chat-talk: no server at {url}")
    assert "metahuman-chat-server" in line


@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_talk_refused_token_says_its_code(
    serve: ServeFn, tmp_path: Path, token: str | None
) -> None:
    server = await serve(tokens=frozenset({"the-token"}))
    args = ["--input", str(SPEECH), "--url", server.url, "--path", server.path]
    code, _, err = await run_cli(
        "handlers.talk", str(tmp_path / "r.wav"), *args, *(["--token", token] if token else [])
    )
    assert code == 4
    why = "a token is required" if token is None else "invalid token"
    assert (
        one_line(err)
        == f"metahuman-chat-talk: the server refused the receiver: unauthorized: {why}"
    )


@pytest.mark.parametrize(("output_format", "magic"), [("wav", b"RIFF"), ("mp3", b"")])
async def test_talk_output_formats_and_timings(
    serve: ServeFn, tmp_path: Path, output_format: str, magic: bytes
) -> None:
    server = await serve()
    output = tmp_path / f"reply.{output_format}"
    code, out, err = await run_cli(
        "handlers.talk",
        str(output),
        "--input",
        str(SPEECH),
        "--url",
        server.url,
        "--path",
        server.path,
        "--fast",
        "--output-format",
        output_format,
    )
    assert code == 0, err
    assert "you said:   what time is it" in out
    timings = next(line for line in out.splitlines() if line.startswith("timings:"))
    assert "commit -> transcript" in timings and "commit -> first audio" in timings
    data = output.read_bytes()
    if output_format == "mp3":
        assert data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2") or data[:3] == b"ID3"
    else:
        assert data.startswith(magic) and data.count(b"RIFF") == 1  # one WAV, not glued ones


# -- the server ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--log-level", "LOUD"], "'LOUD' is not a log level"),
        (["--log-format", "xml"], "invalid choice: 'xml'"),
        (["--port", "eighty"], "invalid int value: 'eighty'"),
    ],
)
async def test_server_bad_options(args: list[str], says: str) -> None:
    code, _, err = await run_cli("handlers.server", *args)
    assert code == 2
    assert says in one_line(err)


async def test_server_port_in_use_never_says_listening() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run_cli("handlers.server", "--port", str(port), within=90)
    assert code == 1
    assert "Traceback" not in err and "listening" not in err
    assert err.strip().splitlines()[-1] == (
        f"metahuman-chat-server: port {port} on 127.0.0.1 is already in use (another server"
        " running?); stop it or choose another with --port"
    )


# -- 8 kHz input to the local recogniser ----------------------------------------------------------


async def test_8khz_input_to_the_local_recogniser_is_refused(server: RunningServer) -> None:
    sender, _ = await server.pair()
    mark = sender.mark()
    await sender.emit("session.update", {"inputAudio": {"format": "pcm16", "sampleRate": 8000}})
    error = await sender.wait_for("custom.error", after=mark)
    assert error["code"] == "unsupported_option"
    assert error["stage"] == "stt" and error["provider"] == "local"
    assert "16000 Hz" in error["message"] and "8000 Hz" in error["message"]
    assert "session.updated" not in sender.names(after=mark)
    # Nothing changed: a later update still shows 16 kHz input.
    await sender.emit("session.update", {"tts": {"responseType": "single"}})
    updated = await sender.wait_for("session.updated", after=mark)
    assert updated["inputAudio"]["sampleRate"] == 16000
