"""Keeping merchant keys out of every text the app writes (logs, the ledger, messages).

Every key the app loads is registered here (in memory only); `redact` replaces any
occurrence of a registered key with ***. The gateway HTTP layer and the log file both
go through this one function.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

MASK = "***"
_lock = threading.Lock()
_known: set[str] = set()


def register(*secrets: str) -> None:
    """Remember keys so that every later `redact` hides them."""
    with _lock:
        _known.update(s for s in secrets if s and s.strip())


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with each key (the given ones, else every registered one) replaced by ***.
    Longest first, so that a key containing another is hidden whole."""
    if secrets is None:
        with _lock:
            secrets = tuple(_known)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
