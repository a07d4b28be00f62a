"""The repository stands alone: README, docs and docstrings point to docs/, never to
material outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\.\./shared|(?<![\w.])shared/|shared counter-rules")


def test_no_reference_outside_the_repository():
    files = [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("cashier/**/*.py"),
             *ROOT.glob("tests/**/*.py"), *ROOT.glob("packaging/**/*.md")]
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
             for p in files if p != Path(__file__).resolve()
             for n, line in enumerate(p.read_text("utf-8").splitlines(), 1) if OUTSIDE.search(line)]
    assert found == []
