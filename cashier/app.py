"""`cashier`: the desktop app (PySide6). The real window lives in cashier.ui."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--voice-worker"]:  # the frozen app's speech worker process (no Qt)
        from cashier.peripherals.voice_worker import main as voice_worker

        return voice_worker()
    from cashier.doctor import window_problem

    # Without a display, or without a library Qt's platform plugin needs, Qt aborts with
    # its own multi-line text: say it in one line and exit instead.
    problem = window_problem()
    if problem:
        print(f"cashier: {problem}", file=sys.stderr)
        return 1
    from cashier.ui.main import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
