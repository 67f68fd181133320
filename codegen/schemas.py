"""JSON Schema (draft 2020-12) from components.schemas: ``$ref``s rewritten to ``#/$defs/...``."""

from __future__ import annotations

import copy
from typing import Any

from .loader import SCHEMA_REF, Contract, ContractError, iter_refs

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def to_defs(node: Any) -> Any:
    """A deep copy of ``node`` whose ``#/components/schemas/X`` refs read ``#/$defs/X``."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref":
                if not (isinstance(value, str) and value.startswith(SCHEMA_REF)):
                    raise ContractError(f"a schema may only reference {SCHEMA_REF}..., got {value}")
                out[key] = "#/$defs/" + value[len(SCHEMA_REF) :]
            else:
                out[key] = to_defs(value)
        return out
    if isinstance(node, list):
        return [to_defs(item) for item in node]
    return copy.deepcopy(node)


def closure(contract: Contract, name: str) -> list[str]:
    """``name`` and every schema it references, directly or not, sorted."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(ref[len(SCHEMA_REF) :] for ref in iter_refs(contract.schemas[current]))
    return sorted(seen)


def bundle(contract: Contract, name: str, title: str) -> dict[str, Any]:
    """A self-contained schema for ``components.schemas[name]``: the schema itself at the root,
    what it references under ``$defs``."""
    root = to_defs(contract.schemas[name])
    deps = [dep for dep in closure(contract, name) if dep != name]
    if name in {ref.rsplit("/", 1)[-1] for dep in deps for ref in iter_refs(contract.schemas[dep])}:
        raise ContractError(f"{name} is recursive; the bundler does not support that")
    out: dict[str, Any] = {"$schema": DRAFT, "title": root.pop("title", title)}
    out.update(root)
    if deps:
        out["$defs"] = {dep: to_defs(contract.schemas[dep]) for dep in deps}
    return out


def all_defs(contract: Contract) -> dict[str, Any]:
    """Every component schema as one document: the input of the models step."""
    return {
        "$schema": DRAFT,
        "$defs": {name: to_defs(schema) for name, schema in contract.schemas.items()},
    }
