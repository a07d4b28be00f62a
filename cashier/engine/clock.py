"""Clocks. The engine reads time only through one of these, so tests jump time
instead of sleeping."""

from __future__ import annotations

import threading
import time


class SystemClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, value: float) -> None:
        with self._lock:
            self._now = value


class OffsetFileClock:
    """Wall time plus an offset read from a file at every call.

    The way a test moves time for a *subprocess* (a CLI killed mid-payment and a
    fresh one that recovers): both read the same file. Selected only by the
    CASHIER_CLOCK_OFFSET_FILE environment variable.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def offset(self) -> float:
        try:
            with open(self.path, encoding="ascii") as fh:
                return float(fh.read().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> float:
        return time.time() + self.offset()


def clock_from_env():
    import os

    path = os.environ.get("CASHIER_CLOCK_OFFSET_FILE")
    return OffsetFileClock(path) if path else SystemClock()
