"""generated/{base,events,catalog,dispatch,__init__}.py and generated/schemas/*.json."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loader import Contract, ContractError, OperationSpec, deref, schema_name
from .schemas import bundle

TEMPLATES = Path(__file__).parent / "templates"
HEADER = "# generated from asyncapi.yaml by codegen — do not edit"
JSON_COMMENT = "generated from asyncapi.yaml by codegen — do not edit"
HANDSHAKE_FILE = "handshake"
ROLE_OF_AUDIENCE = {"sender": "SENDER", "receivers": "RECEIVER"}


def const(name: str) -> str:
    """``session.update`` -> ``SESSION_UPDATE``."""
    return name.replace(".", "_").replace("-", "_").upper()


def snake(name: str) -> str:
    """``session.update`` -> ``session_update``."""
    return name.replace(".", "_").replace("-", "_").lower()


def module(doc: str, body: str) -> str:
    return f'{HEADER}\n"""{doc}"""\n\n{body.strip()}\n'


# -- schemas/*.json ------------------------------------------------------------------------------


def json_schemas(contract: Contract) -> dict[str, str]:
    """File name (without .json) -> text, for every message payload and the handshake."""
    named = [(op.event, op.payload_schema) for op in contract.operations if op.payload_schema]
    named.append((HANDSHAKE_FILE, contract.handshake_schema))
    out = {}
    for file_name, schema in named:
        doc = {"$comment": JSON_COMMENT, **bundle(contract, schema, schema)}
        out[file_name] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return out


# -- base.py -------------------------------------------------------------------------------------

BASE = module(
    "The base class of every generated model, and the validation context of client payloads.",
    '''
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
''',
)


# -- events.py -----------------------------------------------------------------------------------


def events(contract: Contract) -> str:
    ops = contract.operations
    payload_names = sorted({op.payload_schema for op in ops if op.payload_schema})
    members = "\n".join(f'    {const(op.event)} = "{op.event}"' for op in ops)
    table = "\n".join(
        f"""    Event.{const(op.event)}: Operation(
        event=Event.{const(op.event)},
        operation_id="{op.operation_id}",
        direction=Direction.{const(op.direction)},
        audience=Audience.{const(op.audience)},
        payload={op.payload_schema},
        reserved={op.reserved},
    ),"""
        for op in ops
    )
    body = f'''
import copy
import enum
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, TypeAdapter, WrapSerializer

from .base import WIRE, bytes_as_base64
from .models import {", ".join([*payload_names, contract.handshake_schema])}


class Event(enum.StrEnum):
    """Socket.IO event names (the channel addresses)."""

{members}


class Direction(enum.StrEnum):
    CLIENT_TO_SERVER = "client-to-server"
    SERVER_TO_CLIENT = "server-to-client"


class Audience(enum.StrEnum):
    """Who gets a server event, or who may send a client event (x-audience)."""

    SENDER = "sender"  # the session's Senders
    RECEIVERS = "receivers"  # the session's Receivers
    CLIENT = "client"  # the one client concerned


@dataclass(frozen=True)
class Operation:
    event: Event
    operation_id: str
    direction: Direction
    audience: Audience
    # The payload type: a model class, or a type alias (InputBufferAppend: bytes | str |
    # AudioObject) to validate with pydantic.TypeAdapter; None when the event has no payload.
    payload: Any
    # Sent by Socket.IO itself (connect_error), not by an Emitter method.
    reserved: bool


OPERATIONS: Final[Mapping[Event, Operation]] = MappingProxyType({{
{table}
}})
CLIENT_EVENTS: Final = frozenset(
    e for e, op in OPERATIONS.items() if op.direction is Direction.CLIENT_TO_SERVER
)
SERVER_EVENTS: Final = frozenset(
    e for e, op in OPERATIONS.items() if op.direction is Direction.SERVER_TO_CLIENT
)
HANDSHAKE_SCHEMA: Final = "{HANDSHAKE_FILE}"


@functools.cache
def payload_adapter(name: str) -> TypeAdapter[Any]:
    """A TypeAdapter for an event's payload type, or for the handshake (HANDSHAKE_SCHEMA)."""
    kind: Any = (
        {contract.handshake_schema} if name == HANDSHAKE_SCHEMA else OPERATIONS[Event(name)].payload
    )
    if kind is None:
        raise KeyError(f"{{name}} has no payload")
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return TypeAdapter(kind)
    # A type alias (InputBufferAppend): bytes as base64 in JSON, like the models.
    wrapped: Any = Annotated[kind, WrapSerializer(bytes_as_base64, when_used="json")]
    return TypeAdapter(wrapped)


def validate_payload(name: str, data: Any) -> Any:
    """Validate what a client sent (a Python payload: bytes for binary attachments) as the
    dispatcher does: with the WIRE context. Raises pydantic.ValidationError."""
    return payload_adapter(name).validate_python(data, context=WIRE)


@functools.cache
def _load_schema(name: str) -> str:
    return (resources.files(__package__) / "schemas" / f"{{name}}.json").read_text("utf-8")


def json_schema(name: str) -> dict[str, Any]:
    """The self-contained JSON Schema (draft 2020-12) of an event's payload, or of the
    handshake (``json_schema(HANDSHAKE_SCHEMA)``). A fresh copy on each call."""
    if name != HANDSHAKE_SCHEMA and OPERATIONS[Event(name)].payload is None:
        raise KeyError(f"{{name}} has no payload")
    document: dict[str, Any] = json.loads(_load_schema(name))
    return copy.deepcopy(document)
'''
    return module("Event names and the table of operations of the contract.", body)


# -- catalog.py ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Provider:
    provider: str
    models: tuple[str, ...]
    default_model: str
    voices: tuple[str, ...] | None  # None: no voice field
    voice_pattern: str | None
    default_voice: str | None


def _enum_default(contract: Contract, node: Any, what: str) -> tuple[tuple[str, ...], str]:
    schema = deref(contract.document, node)
    if "default" not in schema:
        raise ContractError(f"{what}: the referenced schema has no default")
    return tuple(schema.get("enum", ())), str(schema["default"])


def _providers(contract: Contract, stage: str) -> tuple[str, str, list[_Provider]]:
    """(union schema, provider enum schema, providers) of a stage."""
    union_name = schema_name(contract.schemas["SessionUpdate"]["properties"][stage])
    settings = deref(contract.document, contract.schemas["SessionUpdated"]["properties"][stage])
    provider_enum = schema_name(settings["properties"]["provider"])
    out: list[_Provider] = []
    for variant_ref in contract.schemas[union_name]["oneOf"]:
        variant_name = schema_name(variant_ref)
        props = contract.schemas[variant_name]["properties"]
        if "provider" not in props:
            continue  # the "Options" variant: keeps the provider
        provider = props["provider"]["const"]
        models, default_model = _enum_default(contract, props["model"], variant_name + ".model")
        voices = pattern = default_voice = None
        if "voice" in props:
            voice = deref(contract.document, props["voice"])
            voices, default_voice = _enum_default(contract, props["voice"], variant_name + ".voice")
            pattern = voice.get("pattern")
            if not voices and not pattern:
                raise ContractError(f"{variant_name}.voice: neither an enum nor a pattern")
        out.append(_Provider(provider, models, default_model, voices, pattern, default_voice))
    declared = contract.schemas[provider_enum]["enum"]
    if sorted(p.provider for p in out) != sorted(declared):
        raise ContractError(f"{union_name}: its providers differ from {provider_enum}")
    return union_name, provider_enum, out


def catalog(contract: Contract) -> str:
    stages = contract.schemas["Stage"]["enum"]
    blocks, enums = [], {"Stage"}
    for stage in stages:
        union_name, provider_enum, providers = _providers(contract, stage)
        enums.add(provider_enum)
        entries = []
        for p in providers:
            lines = [
                f"stage=Stage.{const(stage)}",
                f'provider="{p.provider}"',
                f"models={_tuple(p.models)}",
                f"default_model={_py(p.default_model)}",
            ]
            if p.voices is not None:
                lines.append(f"voices={_tuple(p.voices)}")
                lines.append(f"voice_pattern={_py(p.voice_pattern)}")
                lines.append(f"default_voice={_py(p.default_voice)}")
            entries.append(
                f"    {provider_enum}({p.provider!r}): ProviderCatalog(\n        "
                + ",\n        ".join(lines)
                + ",\n    ),"
            )
        blocks.append(
            f"# From {union_name}'s oneOf variants and the defaults of the enums they reference.\n"
            f"{const(stage)}: Final[Mapping[str, ProviderCatalog]] = "
            "MappingProxyType({\n" + "\n".join(entries) + "\n})"
        )
    # Other enums that declare the value the server picks when a field is absent.
    used = {e for p in _all_referenced_model_enums(contract) for e in p}
    defaults = []
    for name, schema in contract.schemas.items():
        if "enum" in schema and "default" in schema and name not in used:
            enums.add(name)
            defaults.append(f'DEFAULT_{const(_words(name))}: Final = {name}("{schema["default"]}")')
    body = f'''
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .models import {", ".join(sorted(enums))}


@dataclass(frozen=True)
class ProviderCatalog:
    """What the contract allows for one provider of one stage."""

    stage: Stage
    provider: str
    models: tuple[str, ...]
    default_model: str
    voices: tuple[str, ...] | None = None  # tts only; empty when voices are a pattern
    voice_pattern: str | None = None  # tts google: a voice name pattern instead of a list
    default_voice: str | None = None  # tts only

    def accepts_model(self, model: str) -> bool:
        return model in self.models

    def accepts_voice(self, voice: str) -> bool:
        if self.voices is None:
            return False
        if self.voice_pattern is not None:
            return re.search(self.voice_pattern, voice) is not None
        return voice in self.voices


{chr(10).join(blocks)}

CATALOG: Final[Mapping[Stage, Mapping[str, ProviderCatalog]]] = MappingProxyType({{
{chr(10).join(f"    Stage.{const(s)}: {const(s)}," for s in stages)}
}})

{chr(10).join(defaults)}
'''
    return module(
        "Providers, models and voices per stage, with their defaults, from the contract.",
        "import re\n" + body,
    )


def _py(value: str | None) -> str:
    """A Python literal; non-ASCII escaped (ruff flags look-alike characters)."""
    return "None" if value is None else json.dumps(value)


def _tuple(values: tuple[str, ...]) -> str:
    return "(" + "".join(f"{_py(v)}, " for v in values) + ")"


def _words(name: str) -> str:
    """``TtsResponseType`` -> ``Tts_Response_Type``."""
    return "".join("_" + c if c.isupper() and i else c for i, c in enumerate(name))


def _all_referenced_model_enums(contract: Contract) -> list[set[str]]:
    out = []
    for stage in contract.schemas["Stage"]["enum"]:
        union_name = schema_name(contract.schemas["SessionUpdate"]["properties"][stage])
        for variant_ref in contract.schemas[union_name]["oneOf"]:
            props = contract.schemas[schema_name(variant_ref)]["properties"]
            out.append({schema_name(props[k]) for k in ("model", "voice") if k in props})
    return out


# -- dispatch.py ---------------------------------------------------------------------------------


def dispatch(contract: Contract) -> str:
    client_ops = [op for op in contract.operations if op.direction == "client-to-server"]
    server_ops = [
        op for op in contract.operations if op.direction == "server-to-client" and not op.reserved
    ]
    imports = {"ClientRole", "ConnectErrorCode", "CustomError", "ErrorCode", "Stage"}
    imports.add(contract.handshake_schema)
    imports.update(op.payload_schema for op in contract.operations if op.payload_schema)
    imports.discard("ConnectError")

    abstract = "\n".join(_handler_method(op) for op in client_ops)
    emitters = "\n".join(_emitter_method(op) for op in server_ops)
    adapters = "\n".join(
        f"_{const(op.event)}: Final[TypeAdapter[{op.payload_schema}]] = "
        f"TypeAdapter({op.payload_schema})"
        for op in client_ops
        if op.payload_schema
    )
    registrations = "\n".join(
        f"        sio.on(Event.{const(op.event)}.value, self._{snake(op.event)}, "
        "namespace=namespace)"
        for op in client_ops
    )
    receivers = "\n".join(_receiver(op) for op in client_ops)
    body = DISPATCH.substitute(
        imports=", ".join(sorted(imports)),
        handshake=contract.handshake_schema,
        abstract=abstract,
        emitters=emitters,
        adapters=adapters,
        registrations=registrations,
        receivers=receivers,
        allowed=_allowed_roles(client_ops),
    )
    return module(DISPATCH_DOC, body)


def _allowed_roles(ops: list[OperationSpec]) -> str:
    lines = []
    for op in ops:
        roles = ROLE_OF_AUDIENCE.get(op.audience)
        value = f"frozenset({{ClientRole.{roles}}})" if roles else "frozenset(ClientRole)"
        lines.append(f"    Event.{const(op.event)}: {value},")
    return "\n".join(lines)


def _handler_method(op: OperationSpec) -> str:
    payload = f", payload: {op.payload_schema}" if op.payload_schema else ""
    return f'''
    @abc.abstractmethod
    async def on_{snake(op.event)}(self, client: Client{payload}) -> None:
        """`{op.event}` from a client whose role may send it; the payload is valid."""
'''


def _emitter_method(op: OperationSpec) -> str:
    name = op.payload_schema
    if op.audience == "client":
        return f'''
    async def {snake(op.event)}(self, to: str, payload: {name}) -> None:
        """`{op.event}` to one client (its sid) or to a room."""
        await self._emit(Event.{const(op.event)}, payload, to)
'''
    role = ROLE_OF_AUDIENCE[op.audience]
    return f'''
    async def {snake(op.event)}(self, session_id: str, payload: {name}) -> None:
        """`{op.event}` to the session's {op.audience} (x-audience: {op.audience})."""
        await self._emit(Event.{const(op.event)}, payload, self.room(session_id, ClientRole.{role}))
'''


def _receiver(op: OperationSpec) -> str:
    e = const(op.event)
    if op.payload_schema is None:
        return f'''
    async def _{snake(op.event)}(self, sid: str, *args: Any) -> None:
        client = await self._admit(sid, Event.{e})
        if client is None:
            return
        if not (args == () or args in ((None,), ({{}},))):
            await self._invalid(sid, Event.{e}, "{op.event} takes no payload")
            return
        await self._call(sid, Event.{e}, self._handler.on_{snake(op.event)}(client))
'''
    return f'''
    async def _{snake(op.event)}(self, sid: str, *args: Any) -> None:
        client = await self._admit(sid, Event.{e})
        if client is None:
            return
        if len(args) != 1:
            await self._invalid(sid, Event.{e}, f"{op.event} takes one payload, got {{len(args)}}")
            return
        try:
            payload = _{e}.validate_python(args[0], context=WIRE)
        except ValidationError as exc:
            await self._invalid(sid, Event.{e}, describe(exc, args[0]))
            return
        await self._call(sid, Event.{e}, self._handler.on_{snake(op.event)}(client, payload))
'''


DISPATCH_DOC = """The typed Socket.IO dispatch layer.

Subclass ClientEventHandler (one method per client event, like a gRPC servicer), send server
events with Emitter, and wire both to a socketio.AsyncServer with register().

python-socketio runs each event in its own task by default (async_handlers=True), so two
input.buffer.append chunks can reach the handler out of order; create the server with
async_handlers=False to keep a client's events in order, and keep handler methods short
(start long work such as a turn as a task)."""

DISPATCH = string.Template((TEMPLATES / "dispatch.py.tmpl").read_text(encoding="utf-8"))


# -- __init__.py ---------------------------------------------------------------------------------

INIT = module(
    "Code generated from asyncapi.yaml by `python -m codegen` (nox -s codegen).\n\n"
    "models: pydantic models; events: Event names and OPERATIONS; catalog: providers, models,\n"
    "voices and defaults; dispatch: ClientEventHandler, Emitter, register.",
    "",
)
