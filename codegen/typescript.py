"""generated/contract.ts: the contract's types and a thin socket.io-client wrapper for browsers.

A script, not a module (no import or export): tsc compiles it to handlers/static/contract.js,
which the page loads with a plain <script> tag before app.js, no bundler and no build step at
run time. ``nox -s clients`` compiles it with ``tsc --strict`` and checks that the committed
contract.js is what it compiles to, and that socket.io-client's own Socket fits SocketLike.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from .loader import Contract, ContractError, OperationSpec, deref, schema_name

HEADER = "// generated from asyncapi.yaml by codegen — do not edit"
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
WIDTH = 100


def _doc(text: str | None, indent: str) -> str:
    if not text:
        return ""
    text = text.replace("*/", "*\\/")
    lines = [
        line
        for paragraph in text.split("\n")
        for line in textwrap.wrap(
            paragraph, WIDTH - len(indent) - 3, break_on_hyphens=False, break_long_words=False
        )
        or [""]
    ]
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} * {line}".rstrip() + "\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def type_of(schema: Any) -> str:
    """The TypeScript type of a (sub)schema; named schemas are referenced by name."""
    if "$ref" in schema:
        return schema_name(schema)
    if "const" in schema:
        return _literal(schema["const"])
    if "enum" in schema:
        return " | ".join(_literal(v) for v in schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " | ".join(type_of(sub) for sub in schema[key])
    kind = schema.get("type")
    if kind == "string":
        # Binary attachments: socket.io-client sends an ArrayBuffer or a view, gets ArrayBuffer.
        return "ArrayBuffer | ArrayBufferView" if schema.get("format") == "binary" else "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "array":
        item = type_of(schema["items"])
        return f"{item}[]" if IDENTIFIER.match(item) else f"({item})[]"
    if kind == "object" and "properties" in schema:
        raise ContractError("an inline object schema: name it in components.schemas")
    raise ContractError(f"no TypeScript type for {schema!r}")


def _declaration(name: str, schema: Any) -> str:
    doc = _doc(schema.get("description"), "")
    if schema.get("type") != "object":
        return f"{doc}type {name} = {type_of(schema)};\n"
    required = set(schema.get("required", ()))
    fields = []
    for prop, sub in schema.get("properties", {}).items():
        key = prop if IDENTIFIER.match(prop) else _literal(prop)
        optional = "" if prop in required else "?"
        fields.append(f"{_doc(sub.get('description'), '  ')}  {key}{optional}: {type_of(sub)};\n")
    return f"{doc}interface {name} {{\n{''.join(fields)}}}\n"


def method_name(event: str) -> str:
    """``session.update`` -> ``sessionUpdate``: the client method of a client event."""
    words = re.split(r"[._-]", event)
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _client_method(op: OperationSpec) -> str:
    doc = _doc(f"`{op.event}` ({op.audience}): {op.summary}", "  ")
    if op.payload_schema is None:
        return f'{doc}  {method_name(op.event)}(): void {{\n    this.emit("{op.event}");\n  }}\n'
    return (
        f"{doc}  {method_name(op.event)}(payload: {op.payload_schema}): void {{\n"
        f'    this.emit("{op.event}", payload);\n  }}\n'
    )


def generate(contract: Contract) -> str:
    declarations = "\n".join(_declaration(k, s) for k, s in contract.schemas.items())
    client_ops = [op for op in contract.operations if op.direction == "client-to-server"]
    server_ops = [
        op for op in contract.operations if op.direction == "server-to-client" and not op.reserved
    ]
    refusal = next(op for op in contract.operations if op.event == "connect_error")
    refusal_data = deref(contract.document, contract.schemas[str(refusal.payload_schema)])
    data_type = type_of(refusal_data["properties"]["data"])
    client_events = "".join(
        f'  "{op.event}": {op.payload_schema or "void"};\n' for op in client_ops
    )
    listeners = "".join(
        f'  "{op.event}": (payload: {op.payload_schema}) => void;\n' for op in server_ops
    )
    methods = "\n".join(_client_method(op) for op in client_ops)
    return TEMPLATE.format(
        header=HEADER,
        declarations=declarations,
        handshake=contract.handshake_schema,
        client_events=client_events,
        listeners=listeners,
        data_type=data_type,
        methods=methods,
    )


TEMPLATE = """{header}
// The contract's types (components.schemas) and MetaHumanClient, a thin typed wrapper over a
// socket.io-client Socket. A script: its declarations are globals of the page.

{declarations}
/** What each client event carries (`void`: emitted with no payload). */
interface ClientEvents {{
{client_events}}}

/** Listeners of the server's events, and of Socket.IO's own connect, disconnect, connect_error. */
interface ServerListeners {{
{listeners}  connect: () => void;
  disconnect: (reason: string) => void;
  connect_error: (error: ConnectRefusal) => void;
}}

/** socket.io-client's connect_error: an Error whose `data` is the contract's, when refused. */
interface ConnectRefusal extends Error {{
  data?: {data_type};
}}

/** What MetaHumanClient uses of a socket.io-client Socket. */
interface SocketLike {{
  readonly connected: boolean;
  emit(event: string, ...args: unknown[]): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
  disconnect(): unknown;
}}

interface ConnectOptions {{
  /** Socket.IO path; the contract's servers use `/socketio`. */
  path?: string;
  transports?: string[];
}}

/** socket.io-client's global `io` (its browser bundle, served by the page). */
declare function io(options: ConnectOptions & {{ auth: {handshake} }}): SocketLike;
declare function io(url: string, options: ConnectOptions & {{ auth: {handshake} }}): SocketLike;

/** One connection as a Sender or a Receiver (the handshake's role), typed by the contract. */
class MetaHumanClient {{
  readonly socket: SocketLike;

  constructor(socket: SocketLike) {{
    this.socket = socket;
  }}

  /** Connect with a handshake; `url` defaults to the page's origin. */
  static connect(
    handshake: {handshake},
    options: ConnectOptions = {{}},
    url?: string,
  ): MetaHumanClient {{
    const settings = {{ path: "/socketio", ...options, auth: handshake }};
    return new MetaHumanClient(url === undefined ? io(settings) : io(url, settings));
  }}

  get connected(): boolean {{
    return this.socket.connected;
  }}

  /** Emit a client event with its payload (none for `void` events). */
  emit<E extends keyof ClientEvents>(
    event: E,
    ...payload: ClientEvents[E] extends void ? [] : [ClientEvents[E]]
  ): void {{
    this.socket.emit(event, ...payload);
  }}

{methods}
  /** Listen to a server event (or connect, disconnect, connect_error). */
  on<E extends keyof ServerListeners>(event: E, listener: ServerListeners[E]): this {{
    this.socket.on(event, listener);
    return this;
  }}

  disconnect(): void {{
    this.socket.disconnect();
  }}
}}
"""
