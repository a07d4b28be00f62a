"""Crash points for the crash tests: a real SIGKILL at a named phase.

`CASHIER_FAILPOINT=after_order_written` makes the process kill itself with SIGKILL
right there, exactly as a power cut or a killed process would, so a test can check
that a fresh process recovers from every phase. Unset (always, outside tests), a
failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

PHASES = (
    "after_order_written",  # the attempt is on disk, its request has not left
    "after_reverse_written",  # "reversing" is on disk, the reverse request has not left
    "after_refund_written",  # the refund is on disk, its request has not left
    "after_paid_answer",  # the gateway said paid, not yet written
    "after_unknown_answer",  # a micropay answer that does not say (e.g. epay's code 1 + payurl), not yet written
)


def failpoint(name: str) -> None:
    """`CASHIER_FAILPOINT=<phase>` kills the process there; `<phase>:stop` freezes it
    (SIGSTOP, POSIX only) until the test sends SIGCONT: a process that stalls past
    its lease, as a suspended laptop or a stopped VM would."""
    wanted = os.environ.get("CASHIER_FAILPOINT")
    if wanted == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    elif wanted == name + ":stop" and hasattr(signal, "SIGSTOP"):
        os.kill(os.getpid(), signal.SIGSTOP)
