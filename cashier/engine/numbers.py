"""Order and refund numbers.

`P` (payment), `R` (refund), `C` (a cash sale) or `D` (any other drawer entry:
cash refund, 备用金, 取款, correction), the counter id, local time to the second and a
persistent sequence: letters and digits only (safe for every gateway's charset:
LTZF `[A-Za-z0-9_-]`, epay `[a-zA-Z0-9._-|]`, Fengniao letters/digits/_,
Weidoufu letters/digits ≥ 18), 22–26 characters, sortable by time per counter,
unique per ledger because the sequence is.
"""

from __future__ import annotations

import re
import time

COUNTER_RE = re.compile(r"^[A-Za-z0-9]{1,4}$")


def make_number(kind: str, counter_id: str, now: float, sequence: int) -> str:
    if kind not in ("P", "R", "C", "D"):
        raise ValueError(kind)
    if not COUNTER_RE.match(counter_id):
        raise ValueError(f"counter id must be 1-4 letters or digits: {counter_id!r}")
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now))
    return f"{kind}{counter_id.upper()}{stamp}{sequence % 1_000_000:06d}"
