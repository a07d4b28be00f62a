"""What the frozen programs do with an exception nothing else handled: write the
traceback to a file in the log folder and say one plain line (stderr; on Windows and
macOS a windowed program has none, so a message box too)."""

from __future__ import annotations

import sys
import time
import traceback


def report(program: str, exc: BaseException) -> int:
    where = None
    try:
        from cashier import paths

        where = paths.log_dir() / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        where.write_text("".join(traceback.format_exception(exc)), "utf-8")
    except Exception:  # noqa: BLE001  (no log folder either: the one line still goes out)
        where = None
    if isinstance(exc, KeyboardInterrupt):
        return 130
    line = (f"{program}: 程序出错，已停止（{type(exc).__name__}）/ stopped on an error ({type(exc).__name__})"
            + (f"：{where}" if where else ""))
    try:
        print(line, file=sys.stderr)
    except Exception:  # noqa: BLE001
        pass
    if sys.platform == "win32" and program == "cashier":
        import ctypes

        ctypes.windll.user32.MessageBoxW(None, line, "收银台", 0x10)
    return 1
