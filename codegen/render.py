"""generated/{events,catalog,dispatch,__init__}.py and generated/schemas/*.json.

Only what the contract decides is generated; the code that walks it is codegen.runtime. The
templates in templates/ are the layout, the functions here fill in one-line fragments.
"""

from __future__ import annotations

import json
import string
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loader import Contract, ContractError, OperationSpec, deref, schema_name
from .runtime import HANDSHAKE_SCHEMA
from .runtime.dispatch import CONNECT_ERROR_CODES, ERROR_CODES, ERROR_EVENT, INTERNAL_ERROR
from .schemas import bundle

TEMPLATES = Path(__file__).parent / "templates"
HEADER = "# generated from asyncapi.yaml by codegen — do not edit"
JSON_COMMENT = "generated from asyncapi.yaml by codegen — do not edit"
ROLE_OF_AUDIENCE = {"sender": "SENDER", "receivers": "RECEIVER"}


def template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text(encoding="utf-8"))


def const(name: str) -> str:
    """``session.update`` -> ``SESSION_UPDATE``."""
    return name.replace(".", "_").replace("-", "_").upper()


def snake(name: str) -> str:
    """``session.update`` -> ``session_update``."""
    return name.replace(".", "_").replace("-", "_").lower()


def call(function: str, **arguments: str) -> str:
    """``Operation(a=1, b=2)``: one line; ruff format wraps it."""
    return f"{function}({', '.join(f'{k}={v}' for k, v in arguments.items())})"


def init() -> str:
    return template("__init__.py.tmpl").substitute(header=HEADER)


# -- schemas/*.json ------------------------------------------------------------------------------


def json_schemas(contract: Contract) -> dict[str, str]:
    """File name (without .json) -> text, for every message payload and the handshake."""
    named = [(op.event, op.payload_schema) for op in contract.operations if op.payload_schema]
    named.append((HANDSHAKE_SCHEMA, contract.handshake_schema))
    out = {}
    for file_name, schema in named:
        doc = {"$comment": JSON_COMMENT, **bundle(contract, schema, schema)}
        out[file_name] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return out


# -- events.py -----------------------------------------------------------------------------------


def check_runtime_conventions(contract: Contract) -> None:
    """What codegen.runtime relies on: the handshake's role and sessionId, the error event, and
    the error codes the dispatcher sends itself."""
    handshake = contract.schemas[contract.handshake_schema].get("properties", {})
    if not {"role", "sessionId"} <= handshake.keys():
        raise ContractError(f"{contract.handshake_schema} needs `role` and `sessionId`")
    by_event = {op.event: op for op in contract.operations}
    for event, codes in ((ERROR_EVENT, ERROR_CODES), ("connect_error", CONNECT_ERROR_CODES)):
        op = by_event.get(event)
        if op is None or op.payload_schema is None:
            raise ContractError(f"the runtime sends {event}; the contract has no such payload")
        fields = contract.schemas[op.payload_schema]["properties"]
        if "code" not in fields:  # connect_error: {message, data: {code}}
            fields = deref(contract.document, fields["data"])["properties"]
        code = fields["code"]
        declared = set(deref(contract.document, code).get("enum", ()))
        if missing := (codes | {INTERNAL_ERROR}) - declared:
            raise ContractError(f"{event}: the runtime sends codes {sorted(missing)}")


def _operation(op: OperationSpec) -> str:
    arguments = {
        "event": f"Event.{const(op.event)}",
        "operation_id": json.dumps(op.operation_id),
        "direction": f"Direction.{const(op.direction)}",
        "audience": f"Audience.{const(op.audience)}",
        "payload": str(op.payload_schema),
    }
    if op.direction == "client-to-server":
        role = ROLE_OF_AUDIENCE.get(op.audience)
        arguments["handler"] = json.dumps(f"on_{snake(op.event)}")
        arguments["roles"] = (
            f"frozenset({{ClientRole.{role}}})" if role else "frozenset(ClientRole)"
        )
    if op.reserved:
        arguments["reserved"] = "True"
    return call("Operation", **arguments)


def events(contract: Contract) -> str:
    check_runtime_conventions(contract)
    ops = contract.operations
    payloads = {op.payload_schema for op in ops if op.payload_schema}
    return template("events.py.tmpl").substitute(
        header=HEADER,
        imports=", ".join(sorted({*payloads, contract.handshake_schema, "ClientRole"})),
        members="\n".join(f'    {const(op.event)} = "{op.event}"' for op in ops),
        handshake=contract.handshake_schema,
        rows="".join(f"{_operation(op)}, " for op in ops),
    )


# -- dispatch.py ---------------------------------------------------------------------------------


def _handler(op: OperationSpec) -> str:
    payload = f", payload: {op.payload_schema}" if op.payload_schema else ""
    valid = ", with a valid payload" if op.payload_schema else ", without a payload"
    return template("handler.tmpl").substitute(
        name=snake(op.event), payload=payload, event=op.event, valid=valid
    )


def _emitter(op: OperationSpec) -> str:
    member = const(op.event)
    if op.audience == "client":
        whom, target, to = "to one client (its sid) or to a room", "to", "to"
    else:
        whom = f"to the session's {op.audience} (x-audience: {op.audience})"
        target = "session_id"
        to = f"self.room(session_id, ClientRole.{ROLE_OF_AUDIENCE[op.audience]})"
    return template("emitter.tmpl").substitute(
        name=snake(op.event),
        target=target,
        model=op.payload_schema,
        event=op.event,
        whom=whom,
        member=member,
        to=to,
    )


def dispatch(contract: Contract) -> str:
    client_ops = [op for op in contract.operations if op.direction == "client-to-server"]
    server_ops = [
        op for op in contract.operations if op.direction == "server-to-client" and not op.reserved
    ]
    imports = {contract.handshake_schema, "ClientRole"}
    imports.update(str(op.payload_schema) for op in [*client_ops, *server_ops] if op.payload_schema)
    return template("dispatch.py.tmpl").substitute(
        header=HEADER,
        imports=", ".join(sorted(imports)),
        handshake=contract.handshake_schema,
        handlers="".join(_handler(op) for op in client_ops),
        emitters="".join(_emitter(op) for op in server_ops),
    )


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
    if "x-default" not in schema:
        raise ContractError(f"{what}: the referenced schema has no x-default")
    return tuple(schema.get("enum", ())), str(schema["x-default"])


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


def _catalog_entry(stage: str, provider_enum: str, p: _Provider) -> str:
    arguments = {
        "stage": f"Stage.{const(stage)}",
        "provider": _py(p.provider),
        "models": _tuple(p.models),
        "default_model": _py(p.default_model),
    }
    if p.voices is not None:
        arguments["voices"] = _tuple(p.voices)
        arguments["voice_pattern"] = _py(p.voice_pattern)
        arguments["default_voice"] = _py(p.default_voice)
    return f"{provider_enum}({p.provider!r}): {call('ProviderCatalog', **arguments)}, "


def catalog(contract: Contract) -> str:
    stages = contract.schemas["Stage"]["enum"]
    blocks, enums = [], {"Stage"}
    for stage in stages:
        union_name, provider_enum, providers = _providers(contract, stage)
        enums.add(provider_enum)
        entries = "".join(_catalog_entry(stage, provider_enum, p) for p in providers)
        comment = f"# From {union_name}'s oneOf variants and the defaults of its enums."
        mapping = f"{const(stage)}: Final[Mapping[str, ProviderCatalog]]"
        blocks.append(f"{comment}\n{mapping} = MappingProxyType({{{entries}}})")
    # Other enums that declare the value the server picks when a field is absent.
    used = {e for p in _all_referenced_model_enums(contract) for e in p}
    defaults = []
    for name, schema in contract.schemas.items():
        if "enum" in schema and "x-default" in schema and name not in used:
            enums.add(name)
            value = schema["x-default"]
            defaults.append(f'DEFAULT_{const(_words(name))}: Final = {name}("{value}")')
    return template("catalog.py.tmpl").substitute(
        header=HEADER,
        imports=", ".join(sorted(enums)),
        stages="\n\n".join(blocks),
        catalog="".join(f"Stage.{const(s)}: {const(s)}, " for s in stages),
        defaults="\n".join(defaults),
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


# -- client.py -----------------------------------------------------------------------------------


def _client_method(op: OperationSpec) -> str:
    doc = textwrap.wrap(f"`{op.event}` ({op.audience}): {op.summary}", 88)
    return template("client_method.tmpl").substitute(
        name=snake(op.event),
        parameter=f", payload: {op.payload_schema}" if op.payload_schema else "",
        doc="\n        ".join(doc),
        member=const(op.event),
        argument="payload" if op.payload_schema else "None",
    )


def client(contract: Contract) -> str:
    client_ops = [op for op in contract.operations if op.direction == "client-to-server"]
    server_ops = [
        op for op in contract.operations if op.direction == "server-to-client" and not op.reserved
    ]
    models = [str(op.payload_schema) for op in server_ops if op.payload_schema]
    if len(set(models)) != len(server_ops):
        # events() yields bare models: each server event needs a payload model of its own.
        raise ContractError("every server event needs its own payload schema for the client")
    imports = {contract.handshake_schema, *models}
    imports.update(str(op.payload_schema) for op in client_ops if op.payload_schema)
    return template("client.py.tmpl").substitute(
        header=HEADER,
        imports=", ".join(sorted(imports)),
        server_events=" | ".join(models),
        handshake=contract.handshake_schema,
        methods="".join(_client_method(op) for op in client_ops),
    )
