"""What client teams get from asyncapi.yaml, checked: `nox -s clients` runs this.

1. Modelina, through the official AsyncAPI CLI (`asyncapi generate models`), writes models for
   TypeScript, Python and Java; none may be an `AnonymousSchema_N`, the handshake and both
   input.buffer.append forms must be there, and no model may carry a field default.
2. What it writes compiles: `tsc --strict`, `python -m py_compile`, `javac` (when installed).
3. The page's typed client: generated/contract.ts compiles with `tsc --strict` to exactly the
   committed handlers/static/contract.js (`--update` rewrites it), and socket.io-client's own
   Socket type fits the wrapper's SocketLike.

Standard library only; the Node.js tools come from clients/node_modules (`npm ci --prefix
clients`, pinned by clients/package-lock.json).
"""

from __future__ import annotations

import argparse
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "clients" / "node_modules" / ".bin"
SPEC = ROOT / "asyncapi.yaml"
CONTRACT_TS = ROOT / "generated" / "contract.ts"
CONTRACT_JS = ROOT / "handlers" / "static" / "contract.js"
SOCKET_FITS = ROOT / "clients" / "socket_fits.ts"

# Language -> (CLI options, how a schema key names its file).
LANGUAGES = {
    "typescript": (["--tsModelType=class"], lambda key: f"{key}.ts"),
    "python": (["--packageName=metahuman_models"], lambda key: f"{snake(key)}.py"),
    "java": (["--packageName=com.metahuman.contract"], lambda key: f"{key}.java"),
}
# Models that only a contract with named schemas, a visible handshake and both
# input.buffer.append messages produces. Java and Python models are classes and enums only: a
# plain string or a union at the root (AudioBinary, InputBufferAppendJson) has no file there.
REQUIRED = ("Handshake", "ClientRole", "ConnectErrorData", "AudioObject")
REQUIRED_TS = (*REQUIRED, "AudioBinary", "InputBufferAppendJson")
TSC_MODELS = ["--strict", "--noEmit", "--target", "es2020", "--module", "commonjs"]
TSC_CONTRACT = ["--strict", "--target", "es2020", "--lib", "es2020,dom"]
TSC_FITS = ["--noEmit", "--module", "esnext", "--moduleResolution", "bundler"]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def run(*command: str | Path) -> None:
    shown = [str(c) for c in command[:12]] + (["..."] if len(command) > 12 else [])
    print("$", " ".join(shown), flush=True)
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT)


def generate(language: str, out: Path, spec: Path) -> list[str]:
    """Run Modelina for one language into ``out``; return the problems found."""
    options, file_of = LANGUAGES[language]
    env = {**os.environ, "SUPPRESS_NO_CONFIG_WARNING": "1"}
    command = [str(BIN / "asyncapi"), "generate", "models", language, str(spec), "-o", str(out)]
    print("$", " ".join([*command, *options]), flush=True)
    done = subprocess.run(
        [*command, *options], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    files = sorted(p for p in out.rglob("*") if p.is_file())
    if done.returncode != 0 or not files:
        return [f"{language}: the CLI failed ({done.returncode}):\n{done.stdout}{done.stderr}"]
    problems = []
    names = {p.name for p in files}
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    # AnonymousSchema_50 (TypeScript, Java), AnonymousSchema50 (Python), anonymous_schema50.py
    anonymous = sorted(set(re.findall(r"(?i)anonymous_?schema_?\d+", text + " ".join(names))))
    if anonymous:
        problems.append(f"{language}: unnamed schemas {anonymous}")
    required = REQUIRED_TS if language == "typescript" else REQUIRED
    missing = [key for key in required if file_of(key) not in names]
    if missing:
        problems.append(f"{language}: no model for {missing}")
    print(f"{language}: {len(files)} models, {len(anonymous)} anonymous", flush=True)
    return problems


def compile_models(language: str, out: Path) -> None:
    files = sorted(p for p in out.rglob("*") if p.is_file())  # before any compiler writes there
    if language == "typescript":
        run(BIN / "tsc", *TSC_MODELS, *files)
    elif language == "python":
        for path in files:
            py_compile.compile(
                str(path), cfile=str(out / "pycache" / f"{path.stem}.pyc"), doraise=True
            )
        print(f"python: {len(files)} files py_compile", flush=True)
    elif language == "java":
        javac = shutil.which("javac")
        if javac is None:
            print("java: javac not found; the Java models were generated, not compiled", flush=True)
            return
        # The defaults issue 13 found: every field initialised, sent back in partial updates.
        defaults = [p.name for p in files if re.search(r"private \w+ \w+ = ", p.read_text())]
        if defaults:
            raise SystemExit(f"java: fields with defaults in {defaults}")
        run(javac, "-d", out / "classes", *files)


def check_contract_js(work: Path, update: bool) -> None:
    run(BIN / "tsc", *TSC_CONTRACT, "--outDir", work, CONTRACT_TS)
    run(BIN / "tsc", *TSC_CONTRACT, *TSC_FITS, CONTRACT_TS, SOCKET_FITS)
    compiled = (work / "contract.js").read_text(encoding="utf-8")
    if update:
        CONTRACT_JS.write_text(compiled, encoding="utf-8")
        print(f"wrote {CONTRACT_JS.relative_to(ROOT)}")
    elif not CONTRACT_JS.is_file() or CONTRACT_JS.read_text(encoding="utf-8") != compiled:
        raise SystemExit(
            f"{CONTRACT_JS.relative_to(ROOT)} is not what generated/contract.ts compiles to; "
            "run `nox -s clients -- --update`"
        )
    print(f"{CONTRACT_JS.relative_to(ROOT)} is current", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite handlers/static/contract.js")
    parser.add_argument("--languages", nargs="*", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--spec", type=Path, default=SPEC, help="another contract's models")
    args = parser.parse_args()
    if not (BIN / "asyncapi").exists():
        sys.exit("clients/node_modules is missing: run `npm ci --prefix clients` (nox -s clients)")
    with tempfile.TemporaryDirectory(prefix="clients-") as tmp:
        work = Path(tmp)
        check_contract_js(work / "contract", args.update)
        problems = []
        for language in args.languages:
            out = work / language
            found = generate(language, out, args.spec.resolve())
            problems += found
            if not found:
                compile_models(language, out)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("clients: every model named, compiled; contract.js current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
