"""generated/models.py: pydantic v2 models, by datamodel-code-generator, from components.schemas."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from .loader import Contract
from .schemas import all_defs

WIDTH = 88

# datamodel-code-generator==0.89.0 options, each for a reason:
OPTIONS = [
    "--input-file-type", "jsonschema",
    "--output-model-type", "pydantic_v2.BaseModel",
    "--target-python-version", "3.11",
    "--skip-root-model",  # the input's root only holds $defs
    "--base-class", "codegen.runtime.ContractModel",  # bytes as base64 in JSON dumps
    "--disable-timestamp",
    "--snake-case-field",  # max_output_tokens, with alias maxOutputTokens ...
    "--allow-population-by-field-name",  # ... and populated by either name
    "--capitalise-enum-members",  # ClientRole.SENDER; x-enum-varnames name members where given
    # class X(StrEnum): a str and an Enum (StrEnum is `class StrEnum(str, ReprEnum)`); the
    # project's ruff rules (UP042) reject `class X(str, Enum)`.
    "--use-subclass-enum",
    "--use-title-as-name",  # titles are set by model_input() below
    "--use-annotated", "--field-constraints",  # Annotated[str, Field(pattern=...)]: mypy-friendly
    # Root schemas (SessionId, SttUpdate, InputBufferAppend ...) become type aliases, not
    # RootModels: fields hold plain values and unions of models, no `.root` anywhere.
    "--use-type-alias",
    # Strict scalars: a wrong JSON type is rejected as the schema rejects it ("16000" is not an
    # integer, 1 is not a boolean), and in the InputBufferAppend union bytes stay bytes and
    # str stays str (a str failing the base64 pattern is not coerced to bytes).
    "--strict-types", "str", "bytes", "int", "float", "bool",
    "--use-schema-description", "--use-field-description",
    "--use-double-quotes",
    "--formatters", "ruff-format",
]  # fmt: skip


def _wrap_descriptions(node: Any) -> None:
    """Descriptions become docstrings; wrap them so the output passes ruff's line length."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = "\n".join(textwrap.fill(p, WIDTH) for p in value.split("\n"))
            elif key == "x-enum-descriptions" and isinstance(value, dict):
                node[key] = {k: textwrap.fill(v, WIDTH) for k, v in value.items()}
            else:
                _wrap_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            _wrap_descriptions(item)


def model_input(contract: Contract) -> dict[str, Any]:
    doc = all_defs(contract)
    _wrap_descriptions(doc)
    for name, schema in doc["$defs"].items():
        # Class names are the schema keys (a title, where there is one, equals its key); an
        # inline object, should one appear, gets its owner's name plus its property's
        # (ConnectError.data -> ConnectErrorData), not a bare `Data`. The contract names every
        # object (tests/contract/test_generators.py), as Modelina needs.
        schema.pop("title", None)
        for prop, sub in schema.get("properties", {}).items():
            if sub.get("type") == "object" and "properties" in sub:
                sub["title"] = name + prop[:1].upper() + prop[1:]
        # What the server picks when a field is absent is `x-default` (generated/catalog.py
        # carries it), not `default` (the loader refuses that): in a partial update an absent
        # field stays absent (None); the models do not fill it in.
        # datamodel-code-generator reads x-enum-descriptions as a list in `enum` order; the
        # contract writes a mapping value -> description, which is easier to keep right.
        descriptions = schema.get("x-enum-descriptions")
        if isinstance(descriptions, dict):
            schema["x-enum-descriptions"] = [descriptions.get(v, "") for v in schema["enum"]]
    return doc


def generate(contract: Contract, header: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "asyncapi_schemas.json"
        target = Path(tmp) / "models.py"
        source.write_text(json.dumps(model_input(contract), indent=1), encoding="utf-8")
        subprocess.run(
            [
                sys.executable, "-m", "datamodel_code_generator",
                "--input", str(source), "--output", str(target),
                "--custom-file-header", header,
                *OPTIONS,
            ],
            check=True,
            cwd=tmp,
        )  # fmt: skip
        header_line, rest = target.read_text(encoding="utf-8").split("\n", 1)
    # Escape non-ASCII characters (the contract has "GPT\u2011OSS\u2011120B", with non-breaking
    # hyphens): the same str at runtime, and ruff (RUF001) rejects look-alike characters.
    escaped = "".join(c if c.isascii() else ascii(c)[1:-1] for c in rest)
    return f"{header_line}\n{escaped}"
