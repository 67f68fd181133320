"""The contract's lip-sync fields: visemes, words and timingSource on deltas; animation settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from codegen import loader
from generated.events import validate_payload
from generated.models import ResponseAudioDelta, TimingSource, Viseme
from handlers.animation.visemes import AZURE_TO_VISEME, POLLY_TO_VISEME
from tests.contract.validation import is_valid, validate_event

CONTRACT = loader.load(Path(__file__).resolve().parents[2] / "asyncapi.yaml")
OVR_VISEMES = [
    "sil",
    "PP",
    "FF",
    "TH",
    "DD",
    "kk",
    "CH",
    "SS",
    "nn",
    "RR",
    "aa",
    "E",
    "I",
    "O",
    "U",
]


def delta(**extra: Any) -> dict[str, Any]:
    return {
        "responseId": "resp_0c9d8e7f6a5b4c3d",
        "itemId": "item_7f3a9c2e41b84d0a",
        "sequence": 0,
        "audio": b"\0\0\0\0",
        "format": "pcm16",
        "sampleRate": 24000,
        "final": False,
        **extra,
    }


TIMED = {
    "visemes": [{"offsetMs": 0, "id": "sil"}, {"offsetMs": 12, "id": "kk"}],
    "words": [{"text": "Hello.", "offsetMs": 12, "durationMs": 400}],
    "timingSource": "provider",
}


def test_the_viseme_enum_is_ovr_lipsync_in_order() -> None:
    assert [v.value for v in Viseme] == OVR_VISEMES
    assert CONTRACT.schemas["Viseme"]["enum"] == OVR_VISEMES
    assert set(CONTRACT.schemas["Viseme"]["x-enum-descriptions"]) == set(OVR_VISEMES)


def test_a_delta_with_timings_is_valid_and_round_trips() -> None:
    payload = delta(**TIMED)
    validate_event("response.audio.delta", payload, strict_binary=True)
    model = validate_payload("response.audio.delta", payload)
    assert isinstance(model, ResponseAudioDelta)
    assert model.visemes is not None and model.visemes[1].id is Viseme.KK
    assert model.words is not None and model.words[0].duration_ms == 400
    assert model.timing_source is TimingSource.PROVIDER
    assert model.model_dump(by_alias=True, exclude_none=True) == payload


def test_a_delta_without_timings_is_as_before() -> None:
    payload = delta()
    validate_event("response.audio.delta", payload, strict_binary=True)
    model = validate_payload("response.audio.delta", payload)
    assert model.visemes is None and model.words is None and model.timing_source is None


@pytest.mark.parametrize(
    "bad",
    [
        {"visemes": [{"offsetMs": -1, "id": "sil"}]},
        {"visemes": [{"offsetMs": 0, "id": "ih"}]},  # OVR's name, not the contract's value
        {"visemes": [{"offsetMs": 0, "id": 21}]},  # an Azure id must be mapped first
        {"visemes": [{"offsetMs": 1.5, "id": "sil"}]},
        {"visemes": [{"offsetMs": 0, "id": "sil", "weight": 1}]},
        {"words": [{"text": "Hi", "offsetMs": 0}]},
        {"words": [{"text": "Hi", "offsetMs": 0, "durationMs": -5}]},
        {"timingSource": "guessed"},
    ],
)
def test_bad_timings_are_invalid_in_schema_and_model(bad: dict[str, Any]) -> None:
    payload = delta(**bad)
    assert not is_valid("response.audio.delta", payload)
    with pytest.raises(ValidationError):
        validate_payload("response.audio.delta", payload)


def test_session_update_takes_animation_and_rejects_non_booleans() -> None:
    for animation in ({"visemes": False}, {"words": True}, {}, {"visemes": True, "words": False}):
        model = validate_payload("session.update", {"animation": animation})
        assert model.animation is not None
    for bad in ({"visemes": "yes"}, {"visemes": 1}, {"lipsync": True}):
        assert not is_valid("session.update", {"animation": bad})
        with pytest.raises(ValidationError):
            validate_payload("session.update", {"animation": bad})


def test_session_updated_animation_names_both_flags() -> None:
    schema = CONTRACT.schemas["Animation"]
    assert set(schema["required"]) == {"visemes", "words"}


def _pairs(text: str, pattern: str) -> dict[str, str]:
    return dict(re.findall(pattern, text))


def test_the_documented_azure_and_polly_mappings_are_the_code_s() -> None:
    doc = " ".join(CONTRACT.schemas["Viseme"]["description"].split())
    azure_part, polly_part = doc.split("Amazon Polly")
    azure = _pairs(azure_part, r"(\d+) \([^)]*\) (\w+)")
    azure["0"] = re.search(r"0 (\w+);", azure_part).group(1)  # type: ignore[union-attr]
    assert {int(k): v for k, v in azure.items()} == {k: v.value for k, v in AZURE_TO_VISEME.items()}
    polly = _pairs(polly_part.split("map as", 1)[1], r"([\w@]+) (\w+)[;.]")
    assert polly == {k: v.value for k, v in POLLY_TO_VISEME.items()}
