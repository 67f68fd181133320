"""The availability command says, per stage, which providers this machine can use and why not."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from handlers.providers.availability import availability, outdated_defaults


def test_reasons_name_the_missing_variable_and_never_a_secret() -> None:
    report = availability({"OPENAI_API_KEY": "sk-test-secret-value"})
    assert report["stt"]["openai"] is None
    assert report["llm"]["openai"] is None
    assert report["tts"]["openai"] is None
    assert report["llm"]["local"] is None
    reason = report["tts"]["azure"]
    assert reason is not None and "AZURE_SPEECH_KEY" in reason
    mistral = report["stt"]["mistral"]
    assert mistral is not None and "MISTRAL_API_KEY" in mistral
    for stage in report.values():
        for why in stage.values():
            assert why is None or "sk-test-secret-value" not in why


def test_every_contract_provider_is_listed() -> None:
    report = availability({})
    assert set(report["stt"]) == {"local", "openai", "aws", "google", "mistral"}
    assert set(report["llm"]) == {"local", "openai", "aws", "azure", "aigames", "clarity", "bayer"}
    assert set(report["tts"]) == {"local", "openai", "aws", "azure", "google"}
    assert report["llm"]["openai"] is not None


def test_command_prints_each_stage() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    out = subprocess.run(
        [sys.executable, "-m", "handlers.providers.availability"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    ).stdout
    assert "stt:" in out and "llm:" in out and "tts:" in out
    assert "unavailable: missing environment variable OPENAI_API_KEY" in out


def test_outdated_defaults_are_listed_with_what_serves_them() -> None:
    # Today no default is retired; OpenAI's speech models are deprecated (shut down 2027-01-06).
    today = outdated_defaults({}, today=dt.date(2026, 11, 30))
    assert today and all(": deprecated;" in line for line in today), today
    assert any(line.startswith("tts openai gpt-4o-mini-tts: deprecated") for line in today)
    # After OpenAI's /v1/audio/speech shutdown (2027-01-06) the TTS default is retired, with
    # nothing on that endpoint to serve it: the operator sees it before a session fails.
    later = outdated_defaults({}, today=dt.date(2027, 1, 7))
    assert any(line.startswith("tts openai gpt-4o-mini-tts: retired") for line in later), later
    assert all("retired" in line or "deprecated" in line for line in later)


def test_command_lists_default_models_and_failover() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "METAHUMAN_LLM_FALLBACK": "openai,local",
    }
    out = subprocess.run(
        [sys.executable, "-m", "handlers.providers.availability"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    ).stdout
    assert "default models:" in out
    assert "llm failover: openai -> local" in out
