"""`cashier`: the desktop app (PySide6). The real window lives in cashier.ui."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cashier.ui.main import run

    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
