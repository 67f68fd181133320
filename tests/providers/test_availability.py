"""The availability command says, per stage, which providers this machine can use and why not."""

from __future__ import annotations

import subprocess
import sys

from handlers.providers.availability import availability


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
