"""The log file and the last-resort error handler.

`setup(program)` sends the app's log records to `logs/<program>.log` (under
CASHIER_HOME or the platform's log folder): rotating at 1 MB, five old files kept.
Every line goes through `cashier.redaction`, so a merchant key never reaches the file.
A log that cannot be written (read-only folder, full disk) is dropped silently: the
app keeps working and logging never prints a traceback.

`describe(exc)` is the last resort: it turns any exception into one plain line in the
clerk's language, and writes the traceback of an unexpected one to the log file.
`cashier-cli` and the window (sys.excepthook, threading.excepthook) both end there.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from cashier import redaction
from cashier.i18n import UserError, define, tr

MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("cashier")

define({
    "error.unexpected": (
        "意外错误（{kind}），详情已写入日志：{path}",
        "Unexpected error ({kind}); the details are in the log: {path}",
    ),
    "error.unexpected_nolog": (
        "意外错误（{kind}）：{detail}（日志无法写入）",
        "Unexpected error ({kind}): {detail} (the log could not be written)",
    ),
})


class RedactingFormatter(logging.Formatter):
    """The formatted line (message, arguments and traceback) with every known key hidden."""

    def format(self, record: logging.LogRecord) -> str:
        return redaction.redact(super().format(record))


def _rotating_handler(path: Path) -> logging.Handler:
    """A rotating file handler that drops a record it cannot write (full disk, a
    rotation another process holds open on Windows): logging must never disturb the
    counter. (logging.handlers is imported here: the window's first frame need not
    wait for it.)"""
    import logging.handlers

    class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
        def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
            self.failures = getattr(self, "failures", 0) + 1

    return QuietRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")


class _Held(logging.Handler):
    """Records logged before the file is opened (the window opens it after its first
    frame): handed to the file then."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < 1000:
            self.records.append(record)


_lock = threading.Lock()
_handler: logging.Handler | None = None
_held: _Held | None = None


def hold() -> None:
    """Keep log records in memory until setup() opens the file."""
    global _held
    with _lock:
        if _handler is None and _held is None:
            _held = _Held()
            root = logging.getLogger()
            root.addHandler(_held)
            if root.level > logging.INFO or root.level == logging.NOTSET:
                root.setLevel(logging.INFO)


def setup(program: str, *, level: int = logging.INFO) -> Path | None:
    """Log to logs/<program>.log. Returns the file, or None when it cannot be opened
    (read-only folder): then nothing is logged to a file. Idempotent."""
    global _handler
    with _lock:
        if _handler is not None:
            return Path(_handler.baseFilename)
        from cashier import paths

        try:
            path = paths.log_dir() / f"{program}.log"
            handler = _rotating_handler(path)
        except (OSError, UserError):
            # No file to log to: then nowhere (logging's last resort would print warnings
            # on stderr, next to the one line the user is shown).
            _release(None)
            logging.getLogger().addHandler(logging.NullHandler())
            return None
        handler.setFormatter(RedactingFormatter(FORMAT))
        handler.setLevel(level)
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level > level or root.level == logging.NOTSET:
            root.setLevel(level)
        # httpx's own request lines repeat ours (cashier.gateways logs each request with
        # its timing and outcome) and carry full URLs: keep only its warnings.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("httpcore").setLevel(logging.WARNING)
        logging.raiseExceptions = False  # never a "--- Logging error ---" traceback on stderr
        _handler = handler
        _release(handler)
        return path


def _release(handler: logging.Handler | None) -> None:
    """The held records to `handler` (or nowhere), and stop holding. Under _lock."""
    global _held
    held, _held = _held, None
    if held is None:
        return
    logging.getLogger().removeHandler(held)
    if handler is not None:
        for record in held.records:
            if record.levelno >= handler.level:
                handler.handle(record)


def shutdown() -> None:
    """Detach and close the file handler (tests; the process end does it anyway)."""
    global _handler
    with _lock:
        if _handler is not None:
            logging.getLogger().removeHandler(_handler)
            _handler.close()
            _handler = None


def log_file() -> Path | None:
    handler = _handler
    return Path(handler.baseFilename) if handler is not None else None


def describe(exc: BaseException) -> str:
    """One plain line for the clerk. A UserError says its own message; an OSError says
    which file and why (read-only, full, ...); anything else is unexpected: its traceback
    goes to the log file and the line says where."""
    if isinstance(exc, UserError):
        log.warning("refused: %s", exc.message("en"))
        return exc.message()
    if isinstance(exc, OSError):
        from cashier import paths

        mapped = paths.storage_error(exc)
        log.warning("file error: %s", mapped.message("en"), exc_info=exc)
        return mapped.message()
    log.error("unexpected error", exc_info=exc)
    kind = type(exc).__name__
    path = log_file()
    handler = _handler
    if path is None or getattr(handler, "failures", 0):
        detail = redaction.redact(" ".join(str(exc).split()))[:200]
        return tr("error.unexpected_nolog", kind=kind, detail=detail)
    return tr("error.unexpected", kind=kind, path=str(path))


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def install_thread_hook(show) -> None:
    """threading.excepthook: an exception that ends a worker thread becomes one line
    given to `show` (called on that thread) and a log entry; never a traceback on stderr."""

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        try:
            show(one_line(describe(args.exc_value)))
        except Exception:  # the last resort must not fail loudly
            pass

    threading.excepthook = hook


def environment_summary() -> dict[str, str]:
    """Versions and platform for the log's first line and the support bundle."""
    import platform

    from cashier import __version__

    return {
        "cashier": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "frozen": str(bool(getattr(sys, "frozen", False))),
        "pid": str(os.getpid()),
    }
