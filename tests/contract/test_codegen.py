"""generated/ is current, `--check` notices when it is not, and mypy holds handlers to it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen import loader, render

ROOT = Path(__file__).resolve().parents[2]


def codegen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_generated_is_current() -> None:
    result = codegen("--check")
    assert result.returncode == 0, result.stderr


def test_check_lists_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", out, ignore=shutil.ignore_patterns("__pycache__"))
    (out / "models.py").write_text("# edited by hand\n", encoding="utf-8")
    (out / "events.py").unlink()
    (out / "schemas" / "leftover.json").write_text("{}\n", encoding="utf-8")
    result = codegen("--check", "--out", str(out))
    assert result.returncode == 1
    stale = {line.strip() for line in result.stderr.splitlines()[1:]}
    assert stale == {"models.py", "events.py", "schemas/leftover.json"}


def test_mypy_rejects_a_handler_that_drifts_from_the_contract(tmp_path: Path) -> None:
    import mypy.api as mypy_api  # in the `test` extra: this test is the type-level contract check

    drifted = tmp_path / "drifted_handler.py"
    drifted.write_text(
        textwrap.dedent(
            """
            from codegen.runtime import Client
            from generated.dispatch import ClientEventHandler
            from generated.models import Handshake, InputBufferAppend, SessionUpdated


            class Drifted(ClientEventHandler):
                async def on_connect(self, client: Client, handshake: Handshake) -> None: ...
                async def on_disconnect(self, client: Client) -> None: ...
                async def on_session_update(
                    self, client: Client, payload: SessionUpdated
                ) -> None: ...
                async def on_input_buffer_append(
                    self, client: Client, payload: InputBufferAppend
                ) -> None: ...
                async def on_input_buffer_commit(self, client: Client, payload: bytes) -> None: ...
            """
        ),
        encoding="utf-8",
    )
    config = str(ROOT / "pyproject.toml")
    cache = str(tmp_path / "mypy-cache")
    stdout, _, status = mypy_api.run(["--config-file", config, "--cache-dir", cache, str(drifted)])
    assert status == 1, stdout
    assert 'Argument 2 of "on_session_update" is incompatible' in stdout
    assert 'Signature of "on_input_buffer_commit" incompatible' in stdout


def test_a_contract_without_a_code_the_runtime_sends_is_rejected(tmp_path: Path) -> None:
    document: dict[str, Any] = yaml.safe_load((ROOT / "asyncapi.yaml").read_text("utf-8"))
    document["components"]["schemas"]["ErrorCode"]["enum"].remove("role_not_allowed")
    spec = tmp_path / "asyncapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    with pytest.raises(loader.ContractError, match="role_not_allowed"):
        render.events(loader.load(spec))
