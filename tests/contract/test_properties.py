"""Property tests: the JSON Schemas and the pydantic models accept and reject the same payloads.

Valid payloads come from hypothesis-jsonschema's ``from_schema``; `format: binary` fields are
drawn as bytes (Socket.IO binary attachments). Mutants of valid payloads are checked against
both: the schema (tests.contract.validation, binary = bytes) and the model (as the dispatcher
validates: generated.events.validate_payload).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from pydantic import ValidationError

from codegen.runtime import HANDSHAKE_SCHEMA
from generated import catalog
from generated.events import OPERATIONS, json_schema, payload_adapter
from generated.events import validate_payload as model_validate
from tests.contract.validation import is_valid, validate_event

EVENTS = [str(e) for e, op in OPERATIONS.items() if op.payload is not None] + [HANDSHAKE_SCHEMA]
BYTES_FORMAT = "x-test-bytes-hex"
BYTES_MARK = "\x00\x01bytes:"  # never produced for a real string field: see _binary_marked

# Drawing a SessionUpdate (three oneOf unions, enums of up to 95 values) is slow, so hypothesis
# flags it as too_slow; the data is what it is, so that health check is suppressed.
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MUTANT_SETTINGS = settings(SETTINGS, max_examples=100)  # spread over 3 or 4 kinds of mutation


def _binary_marked(node: Any) -> Any:
    """The schema with `format: binary` strings drawn from a custom format (hex with a mark)."""
    if isinstance(node, dict):
        out = {k: _binary_marked(v) for k, v in node.items() if k != "$comment"}
        if node.get("format") == "binary":
            out["format"] = BYTES_FORMAT
            out.pop("contentMediaType", None)
        return out
    if isinstance(node, list):
        return [_binary_marked(v) for v in node]
    return node


def _unmark(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(BYTES_MARK):
        return bytes.fromhex(value[len(BYTES_MARK) :])
    if isinstance(value, dict):
        return {k: _unmark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unmark(v) for v in value]
    return value


@functools.cache
def payloads(event: str) -> st.SearchStrategy[Any]:
    """Valid Python payloads of an event (bytes for binary fields)."""
    hex_bytes = st.binary(max_size=32).map(lambda b: BYTES_MARK + b.hex())
    schema = _binary_marked(json_schema(event))
    return from_schema(schema, custom_formats={BYTES_FORMAT: hex_bytes}).map(_unmark)


def model_accepts(event: str, payload: Any) -> bool:
    try:
        model_validate(event, payload)
    except ValidationError:
        return False
    return True


def schema_accepts(event: str, payload: Any) -> bool:
    return is_valid(event, payload, strict_binary=True)


@pytest.mark.parametrize("event", EVENTS)
@SETTINGS
@given(data=st.data())
def test_valid_payloads_round_trip(event: str, data: st.DataObject) -> None:
    payload = data.draw(payloads(event), label="payload")
    validate_event(event, payload, strict_binary=True)
    value = model_validate(event, payload)
    adapter = payload_adapter(event)
    wire = adapter.dump_python(value, mode="python", by_alias=True, exclude_none=True)
    validate_event(event, wire, strict_binary=True)
    assert wire == payload  # nothing added (no defaults filled in), nothing lost
    as_json = adapter.dump_python(value, mode="json", by_alias=True, exclude_none=True)
    validate_event(event, as_json)  # bytes as base64 text


# -- mutants -----------------------------------------------------------------------------------


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every value (the root included) inside dicts."""
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*path, key)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = dict(value)
    out[path[0]] = new if len(path) == 1 else _replace(value[path[0]], path[1:], new)
    return out


def _json_class(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


OTHER_TYPES = [None, True, 7, 0.5, "zz", b"\x00\x01", [1], {"zz": 1}]


@st.composite
def wrong_type(draw: st.DrawFn, event: str, payload: Any) -> tuple[Any, bool]:
    path = draw(st.sampled_from(_paths(payload)))
    old = _get(payload, path)
    new = draw(st.sampled_from([v for v in OTHER_TYPES if _json_class(v) != _json_class(old)]))
    # Only InputBufferAppend's root takes several types (bytes, base64 text, an object).
    surely_invalid = bool(path) or event != "input.buffer.append"
    return _replace(payload, path, new), surely_invalid


@st.composite
def missing_field(draw: st.DrawFn, event: str, payload: Any) -> tuple[Any, bool]:
    objects = [
        p for p in _paths(payload) if isinstance(_get(payload, p), dict) and _get(payload, p)
    ]
    if not objects:
        return payload, False
    path = draw(st.sampled_from(objects))
    node = _get(payload, path)
    key = draw(st.sampled_from(sorted(node)))
    return _replace(payload, path, {k: v for k, v in node.items() if k != key}), False


@st.composite
def unknown_field(draw: st.DrawFn, event: str, payload: Any) -> tuple[Any, bool]:
    objects = [p for p in _paths(payload) if isinstance(_get(payload, p), dict)]
    if not objects:
        return {"unknownField": payload}, True
    path = draw(st.sampled_from(objects))
    key = draw(st.sampled_from(["unknownField", "Provider", "model_", "session_id"]))
    node = _get(payload, path)
    return _replace(payload, path, {**node, key: draw(st.sampled_from(OTHER_TYPES))}), True


@st.composite
def wrong_pair(draw: st.DrawFn, event: str, payload: Any) -> tuple[Any, bool]:
    """A model or voice of another provider of the same stage (session.update only)."""
    stages = [s for s in ("stt", "llm", "tts") if isinstance(payload, dict) and s in payload]
    if event != "session.update" or not stages:
        return payload, False
    stage = draw(st.sampled_from(stages))
    node = payload[stage]
    providers = getattr(catalog, stage.upper())
    field = draw(st.sampled_from(["model", "voice"] if stage == "tts" else ["model"]))
    if "provider" in node:
        own = providers[node["provider"]]
        allowed = own.accepts_model if field == "model" else own.accepts_voice
    else:

        def allowed(value: str) -> bool:
            return False  # without a provider, a model or voice is never accepted

    choices = sorted(
        {v for p in providers.values() for v in (p.models if field == "model" else p.voices or ())}
    )
    candidates = [v for v in choices if not allowed(v)]
    if not candidates:
        return payload, False
    return _replace(payload, (stage, field), draw(st.sampled_from(candidates))), True


MUTATIONS = {
    "wrong_type": wrong_type,
    "missing_field": missing_field,
    "unknown_field": unknown_field,
    "wrong_pair": wrong_pair,
}


def mutations_for(event: str) -> list[str]:
    return sorted(m for m in MUTATIONS if m != "wrong_pair" or event == "session.update")


@pytest.mark.parametrize("event", EVENTS)
@settings(MUTANT_SETTINGS)
@given(data=st.data())
def test_mutants_are_judged_alike(event: str, data: st.DataObject) -> None:
    payload = data.draw(payloads(event), label="payload")
    mutation = data.draw(st.sampled_from(mutations_for(event)), label="mutation")
    mutant, surely_invalid = data.draw(MUTATIONS[mutation](event, payload), label="mutant")
    schema_ok = schema_accepts(event, mutant)
    if surely_invalid:
        assert not schema_ok, "the mutation should break the contract"
    assert model_accepts(event, mutant) == schema_ok


# -- every provider/model and provider/voice pair, exhaustively ---------------------------------


@pytest.mark.parametrize("stage", ["stt", "llm", "tts"])
def test_every_provider_takes_its_own_models_and_voices_only(stage: str) -> None:
    providers = getattr(catalog, stage.upper())
    fields = ["model", "voice"] if stage == "tts" else ["model"]
    for field in fields:
        values = sorted(
            {v for p in providers.values() for v in (p.models if field == "model" else p.voices)}
        )
        for name, entry in providers.items():
            own = entry.accepts_model if field == "model" else entry.accepts_voice
            for value in values:
                payload = {stage: {"provider": str(name), field: value}}
                expected = own(value)
                assert schema_accepts("session.update", payload) == expected, payload
                assert model_accepts("session.update", payload) == expected, payload
            # A model or voice without its provider is refused.
            assert not schema_accepts("session.update", {stage: {field: values[0]}})
            assert not model_accepts("session.update", {stage: {field: values[0]}})
