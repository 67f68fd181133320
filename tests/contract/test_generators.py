"""What the official AsyncAPI generators need from asyncapi.yaml to emit clean types.

`nox -s clients` runs Modelina itself (TypeScript, Python, Java) and compiles what it writes;
these tests pin the document properties that make that work, and run without Node.js.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen import loader

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "asyncapi.yaml"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def subschemas(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every schema nested inside ``node`` (not ``node`` itself), with its path."""
    if not isinstance(node, dict):
        return
    for key in ("properties",):
        for name, sub in node.get(key, {}).items():
            yield f"{path}.{name}", sub
            yield from subschemas(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield f"{path}[{key}]", node[key]
            yield from subschemas(node[key], f"{path}[{key}]")
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(node.get(key, [])):
            yield f"{path}.{key}[{i}]", sub
            yield from subschemas(sub, f"{path}.{key}[{i}]")


def test_every_object_schema_is_named(document: dict[str, Any]) -> None:
    # Modelina names an inline object AnonymousSchema_N (ConnectError.data was one).
    inline = [
        path
        for name, schema in document["components"]["schemas"].items()
        for path, sub in subschemas(schema, name)
        if "$ref" not in sub and ("properties" in sub or sub.get("type") == "object")
    ]
    assert inline == []


def test_titles_equal_their_keys_or_are_absent(document: dict[str, Any]) -> None:
    # Generators name classes after titles: STT_Provider leaked into every language.
    schemas = document["components"]["schemas"]
    assert {k: s["title"] for k, s in schemas.items() if s.get("title", k) != k} == {}
    nested = [p for k, s in schemas.items() for p, sub in subschemas(s, k) if "title" in sub]
    assert nested == []


def test_no_schema_has_a_default_and_x_defaults_are_described(document: dict[str, Any]) -> None:
    # A `default` is filled in by generated clients and sent back in partial updates.
    schemas = document["components"]["schemas"]
    with_default = [
        path
        for name, schema in schemas.items()
        for path, sub in [(name, schema), *subschemas(schema, name)]
        if "default" in sub
    ]
    assert with_default == []
    defaults = {k: s["x-default"] for k, s in schemas.items() if "x-default" in s}
    assert len(defaults) >= 20  # every model and voice enum, the response type, the gender
    unstated = [k for k, v in defaults.items() if f"`{v}`" not in schemas[k]["description"]]
    assert unstated == []
    # ... and the server states them where they apply: session.updated's example.
    example = document["components"]["messages"]["SessionUpdated"]["examples"][0]["payload"]
    assert example["tts"]["responseType"] == schemas["TtsResponseType"]["x-default"]
    assert example["tts"]["ssmlGender"] == schemas["SsmlGender"]["x-default"]
    assert example["tts"]["voice"] == schemas["TtsLocalVoice"]["x-default"]


def test_input_buffer_append_is_a_binary_and_a_json_message(document: dict[str, Any]) -> None:
    channel = document["channels"]["input_buffer_append"]
    messages = [loader.deref(document, ref) for ref in channel["messages"].values()]
    forms = {m["contentType"]: loader.schema_name(m["payload"]) for m in messages}
    assert forms == {
        "application/octet-stream": "AudioBinary",
        "application/json": "InputBufferAppendJson",
    }
    json_forms = document["components"]["schemas"]["InputBufferAppendJson"]["anyOf"]
    assert {loader.schema_name(r) for r in json_forms} == {"AudioBase64", "AudioObject"}
    # The server validates the union of both, named by the operation.
    contract = loader.load(SPEC)
    (append,) = [op for op in contract.operations if op.event == "input.buffer.append"]
    assert append.payload_schema == "InputBufferAppend"
    assert len(append.examples) == 2  # the JSON message's base64 and object examples


def test_the_handshake_and_its_token_are_visible_to_generators(
    document: dict[str, Any],
) -> None:
    op = document["operations"]["connect.subscribe"]
    assert op["action"] == "receive" and op["x-socketio-reserved"] is True
    (message,) = (loader.deref(document, ref) for ref in op["messages"])
    assert loader.schema_name(message["payload"]) == "Handshake"
    assert loader.load(SPEC).handshake_schema == "Handshake"
    scheme = document["components"]["securitySchemes"]["token"]
    assert (scheme["type"], scheme["in"]) == ("apiKey", "password")
    for server in document["servers"].values():
        assert server["security"] == [{"$ref": "#/components/securitySchemes/token"}]


def test_license_and_the_seed_spelling_of_gpt_oss(document: dict[str, Any]) -> None:
    assert document["info"]["license"]["name"]
    bayer = document["components"]["schemas"]["LlmBayerModel"]
    assert "GPT\u2011OSS\u2011120B" in bayer["enum"]  # the seed's non-breaking hyphens
    assert "GPT-OSS-120B" not in bayer["enum"]
    assert "U+2011" in bayer["description"]


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_codegen_refuses_a_default(tmp_path: Path, document: dict[str, Any]) -> None:
    changed = copy.deepcopy(document)
    changed["components"]["schemas"]["SsmlGender"]["default"] = "unspecified"
    with pytest.raises(loader.ContractError, match="SsmlGender: `default`"):
        loader.load(write(tmp_path, changed))


def test_codegen_refuses_an_x_payload_that_is_not_the_messages(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    changed = copy.deepcopy(document)
    del changed["components"]["schemas"]["InputBufferAppend"]["anyOf"][2]  # AudioObject
    with pytest.raises(loader.ContractError, match="x-payload's anyOf"):
        loader.load(write(tmp_path, changed))
    del changed["operations"]["input.buffer.append.subscribe"]["x-payload"]
    with pytest.raises(loader.ContractError, match="several messages need `x-payload`"):
        loader.load(write(tmp_path, changed))


def test_the_typescript_client_has_a_method_per_client_event_and_a_listener_per_server_event() -> (
    None
):
    from codegen import typescript

    contract = loader.load(SPEC)
    source = typescript.generate(contract)
    assert source == (ROOT / "generated" / "contract.ts").read_text(encoding="utf-8")
    for op in contract.operations:
        if op.direction == "client-to-server":
            method = typescript.method_name(op.event)  # session.update -> sessionUpdate
            payload = f"payload: {op.payload_schema}" if op.payload_schema else ""
            assert f"  {method}({payload}): void {{" in source, op.event
        elif not op.reserved:
            assert f'  "{op.event}": (payload: {op.payload_schema}) => void;' in source
    # Every named schema is a TypeScript declaration; the page loads the compiled script.
    for name in contract.schemas:
        assert f"type {name} = " in source or f"interface {name} {{" in source, name
    page = (ROOT / "handlers" / "static" / "index.html").read_text(encoding="utf-8")
    assert page.index("static/contract.js") < page.index("static/app.js")
