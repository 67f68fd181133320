"""The base class of every generated model, and the validation context of client payloads."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from pydantic import (
    BaseModel,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

# Validate what a client sent with `context=WIRE`: JSON null is then not "absent" but an error,
# as in the JSON Schema (no field of the contract is nullable). Python code may still pass None
# for an optional field.
WIRE: Final[Mapping[str, Any]] = MappingProxyType({"wire": True})


def bytes_as_base64(value: Any, handler: SerializerFunctionWrapHandler) -> Any:
    """In JSON, bytes are standard base64 (pydantic's own "base64" is the URL-safe alphabet)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return handler(value)


class ContractModel(BaseModel):
    """Audio bytes (`format: binary`) are bytes in Python and go out as Socket.IO binary
    attachments; a JSON dump (model_dump_json, mode="json") writes them as base64 text, as
    AudioBase64 (for logs and tests: validating JSON text back into bytes is not supported)."""

    @field_serializer("*", mode="wrap", when_used="json")
    def _bytes_as_base64(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        return bytes_as_base64(value, handler)

    @model_validator(mode="before")
    @classmethod
    def _no_null_on_the_wire(cls, data: Any, info: ValidationInfo) -> Any:
        context = info.context
        if isinstance(data, dict) and isinstance(context, Mapping) and context.get("wire"):
            nulls = sorted(str(key) for key, value in data.items() if value is None)
            if nulls:
                raise PydanticCustomError(
                    "null_not_allowed",
                    "null is not allowed ({fields}): leave the field out",
                    {"fields": ", ".join(nulls)},
                )
        return data
