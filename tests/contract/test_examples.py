"""Every example in asyncapi.yaml matches its JSON Schema and its pydantic model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from codegen import loader, schemas
from codegen.runtime import HANDSHAKE_SCHEMA, WIRE
from generated import models
from generated.events import OPERATIONS, Event, payload_adapter, validate_payload
from tests.contract.validation import to_python, validate_event

CONTRACT = loader.load(Path(__file__).resolve().parents[2] / "asyncapi.yaml")
MESSAGE_EXAMPLES = [
    pytest.param(op.event, i, example, id=f"{op.event}-{i}")
    for op in CONTRACT.operations
    for i, example in enumerate(op.examples)
]
SCHEMA_EXAMPLES = [
    pytest.param(name, example, id=f"{name}-{i}")
    for name, schema in CONTRACT.schemas.items()
    for i, example in enumerate(schema.get("examples", []))
]


def test_every_message_has_an_example() -> None:
    assert {op.event for op in CONTRACT.operations} == {p.values[0] for p in MESSAGE_EXAMPLES}


@pytest.mark.parametrize(("event", "index", "example"), MESSAGE_EXAMPLES)
def test_message_example(event: str, index: int, example: Any) -> None:
    if OPERATIONS[Event(event)].payload is None:
        assert example is None  # input.buffer.commit is emitted with no argument
        return
    validate_event(event, example)  # as JSON: base64 text in binary fields
    wire = to_python(event, example)  # as a Python client sends it: bytes for binary fields
    validate_event(event, wire, strict_binary=True)
    value = validate_payload(event, wire)
    dumped = payload_adapter(event).dump_python(
        value, mode="python", by_alias=True, exclude_none=True
    )
    assert dumped == wire


@pytest.mark.parametrize(("name", "example"), SCHEMA_EXAMPLES)
def test_schema_example(name: str, example: Any) -> None:
    schema = schemas.bundle(CONTRACT, name, name)
    jsonschema.validate(example, schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    TypeAdapter(getattr(models, name)).validate_python(example, context=WIRE)  # no binary ones
    if name == CONTRACT.handshake_schema:
        validate_event(HANDSHAKE_SCHEMA, example)
        assert validate_payload(HANDSHAKE_SCHEMA, example).session_id == example["sessionId"]
