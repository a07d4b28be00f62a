"""Blocking work (every gateway call) off the GUI thread: a QThreadPool of QRunnables
whose result or error comes back as a signal, delivered on the GUI thread."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot



def _log():
    import logging

    return logging.getLogger("cashier.ui")


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, object)


class _Task(QRunnable):
    def __init__(self, token: int, fn: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._token = token
        self._fn = fn
        self._signals = signals

    def run(self) -> None:  # worker thread
        try:
            result = self._fn()
        except BaseException as exc:  # handed to the GUI thread, never swallowed
            if not isinstance(exc, Exception):
                _log().exception("worker task raised %s", type(exc).__name__)
            self._signals.failed.emit(self._token, exc)
        else:
            self._signals.done.emit(self._token, result)


class Workers(QObject):
    """`run(fn, on_done, on_error)`: fn runs on a pool thread; the callbacks run on
    the GUI thread (queued signals to a slot of an object living there)."""

    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._signals = _Signals()  # lives in this (the GUI) thread
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._callbacks: dict[int, tuple] = {}
        self._next = 0

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None) -> None:
        self._next += 1
        token = self._next
        self._callbacks[token] = (on_done, on_error)
        self.busy_changed.emit(len(self._callbacks))
        self.pool.start(_Task(token, fn, self._signals))

    @Slot(int, object)
    def _on_done(self, token: int, value: Any) -> None:
        on_done, _ = self._callbacks.pop(token, (None, None))
        self.busy_changed.emit(len(self._callbacks))
        if on_done is not None:
            on_done(value)

    @Slot(int, object)
    def _on_failed(self, token: int, exc: BaseException) -> None:
        _, on_error = self._callbacks.pop(token, (None, None))
        self.busy_changed.emit(len(self._callbacks))
        if on_error is not None:
            on_error(exc)
        else:  # nobody handles it: the last resort (one line shown, traceback logged)
            import sys

            sys.excepthook(type(exc), exc, exc.__traceback__)

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
