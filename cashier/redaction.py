"""Keeping merchant keys out of every text the app writes (logs, the ledger, messages).

Every key the app loads is registered here (in memory only); `redact` hides every
registered key, and every piece of one of 8 characters or more, behind ***. The gateway
HTTP layer (its messages) and the log file (every line) both go through `redact_runs`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MASK = "***"
_lock = threading.Lock()
_known: set[str] = set()


def register(*secrets: str) -> None:
    """Remember keys so that every later `redact` hides them."""
    with _lock:
        _known.update(s for s in secrets if s and s.strip())


# A piece of a key this long or longer is hidden too (an answer may echo part of one).
REDACT_MIN_RUN = 8


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every key (the given ones, else every registered one) hidden, and
    any piece of one of REDACT_MIN_RUN characters or more (see redact_runs)."""
    if secrets is None:
        with _lock:
            secrets = tuple(_known)
    return redact_runs(text, secrets)


def redact_runs(text: str, secrets: Iterable[str], *, run: int = REDACT_MIN_RUN) -> str:
    """`text` with every secret replaced by "***", and also every piece of one: any
    `run` or more consecutive characters of a secret (case-insensitive), so that an
    answer echoing part of a key, or cut in the middle of one, shows none of it.
    A secret shorter than `run` is replaced where it appears whole."""
    if not text:
        return text
    low = text.lower()
    hidden = bytearray(len(text))
    for secret in secrets:
        if not secret:
            continue
        key = secret.lower()
        if len(key) < run:
            start = low.find(key)
            while start >= 0:
                hidden[start:start + len(key)] = b"\x01" * len(key)
                start = low.find(key, start + 1)
            continue
        # Every piece of `run` characters, looked for with str.find (C speed: a 1 MB
        # answer takes milliseconds, not a Python loop over each position).
        for window in {key[i:i + run] for i in range(len(key) - run + 1)}:
            start = low.find(window)
            while start >= 0:
                hidden[start:start + run] = b"\x01" * run
                start = low.find(window, start + 1)
    if 1 not in hidden:
        return text
    out, last = [], 0
    for run_ in re.finditer(rb"\x01+", hidden):
        out += [text[last:run_.start()], MASK]
        last = run_.end()
    out.append(text[last:])
    return "".join(out)
