"""The README's two commands, on a fresh clone in a fresh venv, timed.

    python bench/fresh_clone.py [--pytest-args "tests/test_money.py"] [--keep]

Clones this checkout's HEAD into a temporary folder, reads the two commands from the
README ("Run it" and "Test it"), and runs each exactly as written in that clone (a new
.venv each time, pip using whatever cache the machine has). The app command ends in
`.venv/bin/cashier`, a window that runs until closed: it is run with
`--demo --exit-after-first-frame` appended and QT_QPA_PLATFORM=offscreen, so it exits
once demo mode has drawn. `--pytest-args` appends arguments to the test command's
pytest (e.g. to time a part of the suite); without it the whole suite runs.
Prints the wall time of each command; exits non-zero if one fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands(readme: str) -> dict[str, str]:
    """The indented command under "## Run it" and under "## Test it"."""
    found = {}
    for title, key in (("## Run it", "run"), ("## Test it", "test")):
        section = readme.split(title, 1)[1]
        match = re.search(r"^    (\S.*)$", section, re.MULTILINE)
        if not match:
            raise SystemExit(f"no indented command under {title!r} in README.md")
        found[key] = match.group(1).strip()
    return found


def run(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
    return proc.returncode, time.perf_counter() - start, (proc.stdout + proc.stderr)[-2000:]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pytest-args", default="", help="appended to the test command's pytest")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args(argv)

    commands = readme_commands((ROOT / "README.md").read_text("utf-8"))
    app = commands["run"]
    if not app.endswith(".venv/bin/cashier"):
        raise SystemExit(f"README's run command no longer ends in .venv/bin/cashier: {app}")
    app += " --demo --exit-after-first-frame"
    test = commands["test"] + (f" {args.pytest_args}" if args.pytest_args else "")

    scratch = Path(tempfile.mkdtemp(prefix="cashier-fresh-"))
    failed = False
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CASHIER_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(CASHIER_HOME=str(scratch / "home"), QT_QPA_PLATFORM="offscreen")
        for name, command in (("run", app), ("test", test)):
            clone = scratch / name
            subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
            code, seconds, tail = run(command, clone, env)
            print(f"{name:5} {seconds:7.1f} s  exit {code}  $ {command}")
            if code != 0:
                failed = True
                print(tail, file=sys.stderr)
            shutil.rmtree(clone / ".venv", ignore_errors=True)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
