"""Load asyncapi.yaml into a small, typed view of the contract.

One reader: YAML plus local ``$ref`` resolution. It checks what the code generator relies on
(every ``$ref`` resolves, an operation's messages are its channel's, one payload schema per
operation, ``x-direction`` agrees with ``action``, ``x-audience``, unique channel addresses, no
``default`` in a schema) and keeps what it needs, specification extensions and examples included.

A channel may carry several messages (``input.buffer.append``: a binary one and a JSON one, so
that generators emit both); its operation then names the union the server validates in
``x-payload``, whose ``anyOf`` holds exactly the messages' payloads. The reserved ``receive``
operation on ``connect`` is Socket.IO's handshake: its payload is the Handshake schema, and it is
not an event the server's code handles.

The document is not read a second time through asyncapi-python's parser any more: that reading
gave only operation ids, actions, addresses and message names, which this reader already has,
and its AsyncAPI 3 structure rules are a subset of what the official validator checks
(``nox -s spec``, run by CI). It added a dependency and stdout warnings, not checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCHEMA_REF = "#/components/schemas/"
DIRECTIONS = {"receive": "client-to-server", "send": "server-to-client"}
AUDIENCES = frozenset({"sender", "receivers", "client"})


class ContractError(Exception):
    """asyncapi.yaml is not what the code generator expects."""


HANDSHAKE_EVENT = "connect"


@dataclass(frozen=True)
class OperationSpec:
    operation_id: str  # "session.update.subscribe", as in the seed contract
    action: str  # "receive" (clients emit it) or "send" (the server emits it)
    event: str  # the channel address: the Socket.IO event name
    channel_id: str
    direction: str  # x-direction
    audience: str  # x-audience
    message: str  # key in components.messages
    payload_schema: str | None  # key in components.schemas, None when the message has no payload
    examples: tuple[Any, ...]
    reserved: bool  # x-socketio-reserved: sent by Socket.IO itself, not by the server's code
    summary: str = ""


@dataclass(frozen=True)
class Contract:
    path: Path
    document: Mapping[str, Any]
    schemas: Mapping[str, Any]  # components.schemas, in document order
    operations: tuple[OperationSpec, ...]  # in document order
    handshake_schema: str  # key in components.schemas of the Socket.IO `auth` object


def resolve(document: Mapping[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer such as ``#/components/schemas/Handshake``."""
    if not ref.startswith("#/"):
        raise ContractError(f"only local $refs are supported, got {ref!r}")
    node: Any = document
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ContractError(f"unresolvable $ref {ref!r}") from exc
    return node


def deref(document: Mapping[str, Any], node: Any) -> Any:
    """Follow ``$ref`` chains until a node that is not a reference."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ContractError(f"circular $ref {ref!r}")
        seen.add(ref)
        node = resolve(document, ref)
    return node


def schema_name(ref_node: Any) -> str:
    """``{"$ref": "#/components/schemas/X"}`` -> ``"X"``."""
    if not (isinstance(ref_node, dict) and str(ref_node.get("$ref", "")).startswith(SCHEMA_REF)):
        raise ContractError(f"expected a $ref to {SCHEMA_REF}..., got {ref_node!r}")
    return str(ref_node["$ref"])[len(SCHEMA_REF) :]


def iter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def load(path: Path) -> Contract:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not str(document.get("asyncapi", "")).startswith("3."):
        raise ContractError("expected an AsyncAPI 3.x document")
    schemas: dict[str, Any] = document["components"]["schemas"]
    for ref in iter_refs(document):
        resolve(document, ref)  # every $ref in the document resolves

    for name, schema in schemas.items():
        if "default" in schema:
            # Generators fill a `default` in (Java sends it back in every partial update).
            raise ContractError(
                f"schemas.{name}: `default` leaks into generated clients; write `x-default` and "
                "say it in the description"
            )

    operations: list[OperationSpec] = []
    handshake_ops: list[str] = []
    for op_id, raw_op in document["operations"].items():
        channel_ref = raw_op["channel"]["$ref"]
        channel_id = channel_ref.rsplit("/", 1)[-1]
        channel = resolve(document, channel_ref)
        channel_refs = list(channel.get("messages", {}).values())
        messages = [deref(document, ref) for ref in channel_refs]
        op_messages = [deref(document, ref) for ref in raw_op.get("messages", [])]
        if not messages or [id(m) for m in op_messages] != [id(m) for m in messages]:
            raise ContractError(f"{op_id}: the operation's messages are not its channel's")
        message_key = str(channel_refs[0]["$ref"]).rsplit("/", 1)[-1]
        payload = _payload(document, op_id, raw_op, messages)
        action = raw_op["action"]
        direction = raw_op.get("x-direction")
        if direction != DIRECTIONS.get(action):
            raise ContractError(f"{op_id}: x-direction {direction!r} contradicts action {action!r}")
        audience = raw_op.get("x-audience")
        if audience not in AUDIENCES:
            raise ContractError(f"{op_id}: x-audience must be one of {sorted(AUDIENCES)}")
        if raw_op.get("x-socketio-reserved") and action == "receive":
            if channel["address"] != HANDSHAKE_EVENT or payload is None:
                raise ContractError(f"{op_id}: a reserved receive operation is the handshake")
            handshake_ops.append(schema_name(payload))
            continue  # Socket.IO's CONNECT packet, not an event of the dispatch table
        operations.append(
            OperationSpec(
                operation_id=op_id,
                action=action,
                event=channel["address"],
                channel_id=channel_id,
                direction=direction,
                audience=audience,
                message=message_key,
                payload_schema=None if payload is None else schema_name(payload),
                examples=tuple(
                    ex.get("payload") for message in messages for ex in message.get("examples", [])
                ),
                reserved=bool(raw_op.get("x-socketio-reserved", False)),
                summary=str(raw_op.get("summary", "")),
            )
        )
    events = [op.event for op in operations]
    if len(set(events)) != len(events):
        raise ContractError("two operations use the same channel address")

    handshake = schema_name(document["info"]["x-handshake"])
    if handshake_ops != [handshake]:
        raise ContractError(f"one `{HANDSHAKE_EVENT}` operation must carry {handshake}")
    return Contract(
        path=path,
        document=document,
        schemas=schemas,
        operations=tuple(operations),
        handshake_schema=handshake,
    )


def _payload(
    document: Mapping[str, Any], op_id: str, raw_op: Mapping[str, Any], messages: list[Any]
) -> Any:
    """The ``$ref`` of an operation's payload schema: its one message's payload, or, with
    several messages, ``x-payload``, whose ``anyOf`` must be the messages' payloads."""
    if len(messages) == 1:
        return messages[0].get("payload")
    union = raw_op.get("x-payload")
    if union is None:
        raise ContractError(f"{op_id}: several messages need `x-payload`, the union of theirs")
    members = {schema_name(ref) for ref in deref(document, union).get("anyOf", [])}
    flat: set[str] = set()
    for message in messages:
        if "payload" not in message:
            raise ContractError(f"{op_id}: each of several messages needs a payload")
        payload = deref(document, message["payload"])
        if "anyOf" in payload:
            flat.update(schema_name(ref) for ref in payload["anyOf"])
        else:
            flat.add(schema_name(message["payload"]))
    if flat != members:
        raise ContractError(
            f"{op_id}: x-payload's anyOf {sorted(members)} is not the messages' {sorted(flat)}"
        )
    return union
