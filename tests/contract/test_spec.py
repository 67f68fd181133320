"""asyncapi.yaml itself: parsers, structure, and what the original (seed) contract promised."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from codegen import loader
from generated.events import validate_payload
from handlers.providers.lifecycle import Stage, load_lifecycle
from tests.contract.validation import is_valid
from tests.data import SEED_CONTRACT

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "asyncapi.yaml"
SEED = SEED_CONTRACT
LIFECYCLE_AS_OF = date(2026, 11, 30)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return data


# -- the seed: the original contract, as rendered by the AsyncAPI HTML template -------------------


@dataclass
class SeedEnum:
    title: str
    values: list[str] = field(default_factory=list)
    value_titles: dict[str, str] = field(default_factory=dict)
    default: str | None = None


@dataclass
class Seed:
    operations: dict[str, tuple[str, str]]  # operation id -> (SEND/RECEIVE, event)
    enums: dict[str, SeedEnum]  # every `string` schema with a title, values or not


def parse_seed(text: str) -> Seed:
    lines = text.splitlines()
    operations: dict[str, tuple[str, str]] = {}
    enums: dict[str, SeedEnum] = {}
    current_op: tuple[str, str] | None = None
    current: SeedEnum | None = None
    for i, line in enumerate(lines):
        if m := re.fullmatch(r"  • (SEND|RECEIVE) (\S+)", line):
            current_op, current = (m[1], m[2]), None
        elif (m := re.fullmatch(r"\s+Operation ID(\S+)", line)) and current_op:
            operations[m[1]] = current_op
        elif m := re.fullmatch(r"  • (\S+)", line):
            following = next((x for x in lines[i + 1 :] if x.strip()), "")
            current = SeedEnum(m[1]) if following.strip() == "string" else None
            if current:
                enums[current.title] = current
        elif current and (m := re.fullmatch(r'\s+Default value:"(.*)"', line)):
            current.default = m[1]
        elif current and (m := re.fullmatch(r"    • (.+)", line)):
            value = json.loads(m[1])
            if isinstance(value, dict):
                current.values.append(value["name"])
                current.value_titles[value["name"]] = value["title"]
            else:
                current.values.append(value)
    return Seed(operations, enums)


@pytest.fixture(scope="module")
def seed() -> Seed:
    assert SEED.is_file(), f"the seed contract must be at {SEED} (shipped in tests/data/seed)"
    return parse_seed(SEED.read_text(encoding="utf-8"))


def test_the_seed_parser_reads_the_seed(seed: Seed) -> None:
    assert len(seed.operations) == 8
    assert len([e for e in seed.enums.values() if e.values]) == 17
    assert seed.enums["ttsAwsVoice"].values[:3] == ["Aditi", "Adriano", "Amy"]
    assert seed.enums["LLM_Provider"].value_titles["aigames"] == "AI_Games"
    assert seed.enums["llmAwsModel"].default == "anthropic.claude-instant-v1"
    assert "sttAwsModel" in seed.enums  # a titled string schema without values


def test_operation_ids_and_events_are_the_seeds(document: dict[str, Any], seed: Seed) -> None:
    for op_id, (verb, event) in seed.operations.items():
        op = document["operations"][op_id]
        # The seed was written from the client's side (SEND = the client sends); this
        # document describes the server (receive = the server receives).
        assert op["action"] == {"SEND": "receive", "RECEIVE": "send"}[verb], op_id
        assert loader.resolve(document, op["channel"]["$ref"])["address"] == event


def test_every_seed_enum_value_and_title_is_in_the_spec(
    document: dict[str, Any], seed: Seed
) -> None:
    # The seed's titles (STT_Provider, sttLocalModel) are display names; generators name classes
    # after titles, so the schemas drop them and their keys spell the same words (SttProvider).
    schemas = document["components"]["schemas"]
    by_words = {key.lower(): schema for key, schema in schemas.items()}
    for title, enum in seed.enums.items():
        words = title.replace("_", "").lower()
        assert words in by_words, f"no schema named like {title}"
        schema = by_words[words]
        assert set(enum.values) <= set(schema.get("enum", [])), title
        names = schema.get("x-enum-varnames", [])
        for value, value_title in enum.value_titles.items():
            assert names[schema["enum"].index(value)] == value_title, (title, value)
        if enum.default is not None and schema["x-default"] != enum.default:
            # A seed default its provider has retired gives way to an active model (issue 11):
            # clients that send the old value are still served, by its successor.
            assert seed_default_is_retired(title, enum.default), (title, enum.default)
            assert not seed_default_is_retired(title, schema["x-default"]), title


def seed_default_is_retired(title: str, model: str) -> bool:
    match = re.fullmatch(r"(stt|llm|tts)([A-Z][A-Za-z]*)Model", title)
    assert match, f"only model defaults may change, not {title}"
    stage = cast(Stage, match[1])
    entry = load_lifecycle({}).entry(stage, match[2].lower(), model)
    assert entry is not None, f"{model} has no lifecycle entry"
    return entry.status_on(LIFECYCLE_AS_OF) == "retired"


# -- structure -------------------------------------------------------------------------------------


def test_the_loader_reads_the_operations(document: dict[str, Any]) -> None:
    contract = loader.load(SPEC)
    handshake = "connect.subscribe"  # Socket.IO's CONNECT packet, not in the event table
    assert handshake in document["operations"]
    assert [op.operation_id for op in contract.operations] == [
        name for name in document["operations"] if name != handshake
    ]
    first = contract.operations[0]
    assert (first.operation_id, first.action, first.event, first.message) == (
        "session.update.subscribe",
        "receive",
        "session.update",
        "SessionUpdate",
    )
    assert [op.event for op in contract.operations if op.reserved] == ["connect_error"]


def test_the_loader_rejects_a_direction_that_contradicts_the_action(tmp_path: Path) -> None:
    broken: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    broken["operations"]["session.update.subscribe"]["x-direction"] = "server-to-client"
    path = tmp_path / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    with pytest.raises(loader.ContractError, match="contradicts action"):
        loader.load(path)


def test_every_operation_carries_its_channels_messages(document: dict[str, Any]) -> None:
    # One message per channel, except input.buffer.append: a binary and a JSON message.
    several = {"input_buffer_append": 2}
    for channel_id, channel in document["channels"].items():
        assert len(channel["messages"]) == several.get(channel_id, 1), channel_id
    for op_id, op in document["operations"].items():
        channel = loader.resolve(document, op["channel"]["$ref"])
        mine = [loader.deref(document, ref) for ref in op["messages"]]
        theirs = [loader.deref(document, ref) for ref in channel["messages"].values()]
        assert [id(m) for m in mine] == [id(m) for m in theirs], op_id


def test_directions_and_audiences(document: dict[str, Any]) -> None:
    for op_id, op in document["operations"].items():
        expected = {"receive": "client-to-server", "send": "server-to-client"}[op["action"]]
        assert op["x-direction"] == expected, op_id
        assert op["x-audience"] in {"sender", "receivers", "client"}, op_id


@pytest.mark.parametrize("spelling", ["gpt_4o_mini_transcribe", "gpt-4o-mini-transcribe"])
def test_both_spellings_of_gpt_4o_mini_transcribe_are_accepted(spelling: str) -> None:
    payload = {"stt": {"provider": "openai", "model": spelling}}
    assert is_valid("session.update", payload)
    update = validate_payload("session.update", payload)
    assert update.stt.model == spelling


@pytest.mark.parametrize(
    "payload",
    [
        {"llm": {"provider": "aws", "model": "global.anthropic.claude-haiku-4-5-20251001-v1:0"}},
        {"llm": {"provider": "aws", "model": "anthropic.claude-instant-v1"}},  # the seed's, retired
        {"llm": {"provider": "openai", "model": "gpt-5.6-luna"}},
        {"llm": {"provider": "bayer", "model": "gpt-4o-mini"}},
        {"stt": {"provider": "openai", "model": "gpt-transcribe"}},
        {"tts": {"provider": "openai", "model": "gpt-4o-mini-tts", "voice": "marin"}},
    ],
)
def test_current_models_are_accepted_beside_the_seeds(payload: dict[str, Any]) -> None:
    assert is_valid("session.update", payload)


def test_a_model_of_another_provider_is_still_refused() -> None:
    assert not is_valid(
        "session.update", {"llm": {"provider": "openai", "model": "gpt-transcribe"}}
    )
