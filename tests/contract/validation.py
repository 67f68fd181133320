"""JSON Schema validation of event payloads as Python objects (reusable by any test).

``validate_event("response.audio.delta", payload)`` checks a payload as python-socketio hands it
over or sends it: binary attachments are ``bytes``. ``bytes`` count as strings where the schema
says ``format: binary`` (and only there); with ``strict_binary=True`` those fields take bytes only,
which is what a Socket.IO binary attachment is.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from codegen.runtime import HANDSHAKE_SCHEMA
from generated.events import json_schema

__all__ = ["HANDSHAKE_SCHEMA", "event_validator", "is_valid", "to_python", "validate_event"]

_TYPE = Draft202012Validator.VALIDATORS["type"]


def _types(types: Any) -> list[str]:
    return [types] if isinstance(types, str) else list(types)


def _type_binary_ok(
    validator: Validator, types: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, bytes):
        if schema.get("format") != "binary" or "string" not in _types(types):
            yield ValidationError(f"bytes ({len(instance)}) where no `format: binary` string is")
        return
    yield from _TYPE(validator, types, instance, schema)


def _type_binary_strict(
    validator: Validator, types: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and schema.get("format") == "binary":
        yield ValidationError("a `format: binary` field takes bytes (a binary attachment)")
        return
    yield from _type_binary_ok(validator, types, instance, schema)


_extend: Any = jsonschema.validators.extend  # untyped in types-jsonschema
_LOOSE: Any = _extend(Draft202012Validator, {"type": _type_binary_ok})
_STRICT: Any = _extend(Draft202012Validator, {"type": _type_binary_strict})


@functools.cache
def event_validator(event_name: str, *, strict_binary: bool = False) -> Validator:
    """A jsonschema validator (with a format checker) for an event's payload, or for the
    handshake (``HANDSHAKE_SCHEMA``)."""
    schema = json_schema(event_name)
    cls = _STRICT if strict_binary else _LOOSE
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator


def validate_event(event_name: str, payload: Any, *, strict_binary: bool = False) -> None:
    """Raise jsonschema.ValidationError unless ``payload`` matches the event's schema."""
    event_validator(event_name, strict_binary=strict_binary).validate(payload)


def is_valid(event_name: str, payload: Any, *, strict_binary: bool = False) -> bool:
    return bool(event_validator(event_name, strict_binary=strict_binary).is_valid(payload))


def to_python(event_name: str, payload: Any) -> Any:
    """A JSON payload (an example of the contract) as a Python client sends it: base64 text in
    `format: binary` object fields becomes bytes. Unions are left alone."""
    schema = json_schema(event_name)
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: dict[str, Any], value: Any) -> Any:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        if node.get("format") == "binary" and isinstance(value, str):
            return base64.b64decode(value, validate=True)
        if isinstance(value, dict) and "properties" in node:
            props: dict[str, Any] = node["properties"]
            return {k: walk(props[k], v) if k in props else v for k, v in value.items()}
        return value

    return walk(schema, payload)
