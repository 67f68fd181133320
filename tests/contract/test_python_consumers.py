"""A Python client team's view of the contract: asyncapi-python (a product dependency) parses
asyncapi.yaml and finds every operation of the server's table, with its action and message.

codegen reads the document itself (codegen/loader.py) and the official validator (`nox -s spec`)
checks its structure; this test keeps the contract usable from asyncapi-python's own tooling.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from pathlib import Path
from typing import Any

from codegen.runtime import Direction
from generated.events import CONTRACT

SPEC = Path(__file__).resolve().parents[2] / "asyncapi.yaml"


def test_asyncapi_python_parses_every_operation_of_the_table() -> None:
    # Imported by name: the package ships no type information (no py.typed).
    parser: Any = importlib.import_module("asyncapi_python_codegen.parser")
    references: Any = importlib.import_module("asyncapi_python_codegen.parser.references")
    references._file_cache.clear()
    # Its rules print warnings to stdout (operation message lists it ignores; a channel address
    # equal to its id); errors raise.
    with contextlib.redirect_stdout(io.StringIO()):
        parsed = parser.extract_all_operations(SPEC, validate=True, fail_on_error=True)
    seen = {
        op_id: (op.action, op.channel.address, tuple(str(m.name) for m in op.messages))
        for op_id, op in parsed.items()
    }
    messages: dict[str, tuple[str, ...]] = {
        str(op.event): (str(op.event),) for op in CONTRACT.operations.values()
    }
    # input.buffer.append carries two messages (binary and JSON), both named after the event.
    messages["input.buffer.append"] *= 2
    expected = {
        op.operation_id: (
            "receive" if op.direction is Direction.CLIENT_TO_SERVER else "send",
            str(op.event),
            messages[str(op.event)],
        )
        for op in CONTRACT.operations.values()
    }
    # Socket.IO's handshake: an operation of the document, not of the server's event table.
    expected["connect.subscribe"] = ("receive", "connect", ("connect",))
    assert seen == expected
