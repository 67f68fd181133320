"""``python -m codegen [--check]``: write generated/ from asyncapi.yaml, or check it is current."""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import loader, models, render, typescript

ROOT = Path(__file__).resolve().parent.parent


def build(spec: Path) -> dict[str, str]:
    """Relative path under generated/ -> text, before formatting."""
    contract = loader.load(spec)
    files = {
        "__init__.py": render.init(),
        "py.typed": "",
        "models.py": models.generate(contract, render.HEADER),
        "events.py": render.events(contract),
        "catalog.py": render.catalog(contract),
        "dispatch.py": render.dispatch(contract),
        "client.py": render.client(contract),
        "contract.ts": typescript.generate(contract),
    }
    for name, text in render.json_schemas(contract).items():
        files[f"schemas/{name}.json"] = text
    return files


def ruff(*args: str) -> None:
    config = ("--config", str(ROOT / "pyproject.toml"))
    subprocess.run([sys.executable, "-m", "ruff", *args, *config], check=True, cwd=ROOT)


def write(files: dict[str, str], out: Path) -> None:
    """Write and format the files into ``out``, an empty directory."""
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    py = sorted(str(out / name) for name in files if name.endswith(".py"))
    # The generated package is first-party for isort whether or not it exists yet.
    (ROOT / "generated").mkdir(exist_ok=True)
    ruff("format", "--quiet", *py)
    ruff("check", "--fix", "--quiet", *py)
    ruff("format", "--quiet", *py)


def listing(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated/ is stale")
    parser.add_argument("--spec", type=Path, default=ROOT / "asyncapi.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "generated")
    args = parser.parse_args(argv)

    try:
        files = build(args.spec)
    except loader.ContractError as exc:
        print(f"codegen: {args.spec}: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="codegen-") as tmp:
        fresh = Path(tmp) / "generated"
        write(files, fresh)
        wanted, present = listing(fresh), listing(args.out)
        stale = sorted(
            name
            for name in wanted | present
            if name not in wanted
            or name not in present
            or not filecmp.cmp(fresh / name, args.out / name, shallow=False)
        )
        if args.check:
            if stale:
                print(f"{args.out} is stale; run `nox -s codegen`. Differs:", file=sys.stderr)
                for name in stale:
                    print(f"  {name}", file=sys.stderr)
                return 1
            print(f"{args.out} is up to date ({len(wanted)} files)")
            return 0
        for name in sorted(present - wanted):
            (args.out / name).unlink()
        for name in sorted(wanted):
            (args.out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh / name, args.out / name)
        print(f"wrote {args.out} ({len(wanted)} files, {len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
