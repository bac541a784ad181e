#!/usr/bin/env python3
"""Set up and run bugsift with nothing but Python: `python3 dev.py demo` or `python3 dev.py test`.

`demo` ends with the web app serving the demo models on http://127.0.0.1:8000 (Ctrl-C stops it).

Creates a virtual environment in .venv (once), installs bugsift into it (again whenever pyproject.toml
changes), then runs the demo or the tests. Extra arguments are passed on (to `bugsift demo` or pytest).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
SHARED_DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, env=env)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def ensure_installed(extra: str) -> None:
    """Create .venv and install bugsift[extra] unless the same pyproject was installed before."""
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    stamp = VENV / f".installed-{extra}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extra}]" if extra else "."
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--editable", target)
    stamp.write_text(digest)


def demo(args: list[str]) -> None:
    ensure_installed("embeddings")
    env = {**os.environ, "BUGSIFT_HOME": os.environ.get("BUGSIFT_HOME", str(ROOT / ".bugsift" / "demo"))}
    run(BIN / "bugsift", "demo", "--data", SHARED_DATA, "--serve", *args, env=env)


def test(args: list[str]) -> None:
    ensure_installed("test")
    run(BIN / "ruff", "check", "src", "tests", "bench", "dev.py")
    run(BIN / "python", "-m", "pytest", *args)


COMMANDS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    COMMANDS[sys.argv[1]](sys.argv[2:])
