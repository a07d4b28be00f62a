"""Spacing of calls per key (a merchant's order queries, refund queries...).

`reserve` is atomic: it either takes the next slot and returns 0, or says how long
until a slot is free, so the scheduler can come back exactly then.
"""

from __future__ import annotations

import threading
from typing import Hashable


class RateGate:
    def __init__(self) -> None:
        self._next: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: Hashable, interval: float, now: float) -> float:
        """0 when the caller may go now (the slot is taken); else seconds to wait."""
        with self._lock:
            allowed = self._next.get(key, 0.0)
            if now < allowed:
                return allowed - now
            self._next[key] = now + interval
            return 0.0

    def push_back(self, key: Hashable, until: float) -> None:
        """The gateway said "too often": nobody goes before `until`."""
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), until)
