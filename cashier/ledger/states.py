"""The order and refund state machine: every state, every event, and the one table
(state, event) -> state that says which changes are allowed.

This module imports nothing but the standard library, so the UI, the CLI and the
docs generator can read state names from it without opening a ledger. The ledger
refuses, inside its write transaction, any state change that is not in the table
(`order_target` / `refund_target`); the engine names the event, never the state.

"Written before the request leaves" states (sending, reversing) mean: the request
may or may not have reached the gateway, so after a crash the order must be
queried, never assumed. Such a row carries its owner (the process sending it) and a
lease; only a process whose owner is gone or whose lease ran out may take it over
(see `cashier.engine.ownership`).
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- orders

SENDING = "sending"  # written before the create/pay request leaves
PENDING = "pending"  # QR shown, waiting for the customer
USERPAYING = "userpaying"  # micropay: customer confirming on the phone
UNKNOWN = "unknown"  # outcome unknown, being queried
REVERSING = "reversing"  # reverse requested (written before the reverse request)
EXPIRED = "expired"  # QR expired unpaid, the gateway cannot close it: watched for a late payment
CANCELLED = "cancelled"  # the clerk (or the engine) gave up a QR the gateway cannot close: watched quietly
NEEDS_CHECK = "needs_check"  # the engine could not settle it: a person must look

PAID = "paid"
CLOSED = "closed"
REVERSED = "reversed"
FAILED = "failed"

FINAL_ORDER_STATES = frozenset({PAID, CLOSED, REVERSED, FAILED})
UNRESOLVED_ORDER_STATES = frozenset(
    {SENDING, PENDING, USERPAYING, UNKNOWN, REVERSING, EXPIRED, CANCELLED, NEEDS_CHECK}
)
ORDER_STATES = FINAL_ORDER_STATES | UNRESOLVED_ORDER_STATES
# Watched without bothering anyone: they reach the "to check" list only through an
# event that moves them (money arriving makes a cancelled order needs_check).
QUIET_ORDER_STATES = frozenset({CANCELLED})
# Unresolved orders a person should see ("待处理").
ATTENTION_ORDER_STATES = UNRESOLVED_ORDER_STATES - QUIET_ORDER_STATES
# A request for this row may be on the wire: the row has an owner and a lease.
IN_FLIGHT_ORDER_STATES = frozenset({SENDING, REVERSING})
# "closing" existed in schema v1/v2 but no gateway can close an order, so no row
# ever reached it; it is gone from the machine.
RETIRED_ORDER_STATES = frozenset({"closing"})

# Order events: what happened, as the engine reports it to the ledger.
QR_SHOWN = "qr_shown"  # the gateway gave a QR
REJECTED = "rejected"  # a definite refusal of the create / pay request
ANSWER_LOST = "answer_lost"  # no usable answer: outcome unknown
TAKEN_OVER = "taken_over"  # recovery: the sender is gone or its lease ran out
USER_PAYING = "user_paying"  # the customer is confirming on the phone
PAID_EVENT = "paid"  # the gateway says paid, the amount is right
FLAGGED = "flagged"  # the engine cannot settle it (wrong amount, twice paid, unreachable...)
DECLINED = "declined"  # the payment definitely failed (declined, bad code)
GATEWAY_CLOSED = "gateway_closed"  # the gateway says closed / never will be paid
NEVER_CREATED = "never_created"  # the gateway never had it and its time is over
EXPIRE = "expire"  # the QR's time is over; the gateway cannot close it
CANCEL = "cancel"  # the clerk gave up (or the QR was never shown)
WATCH_ENDED = "watch_ended"  # the late-payment watch is over, nothing came
REVERSE = "reverse"  # reverse requested (written before the request)
REVERSED_EVENT = "reversed"  # the gateway confirmed the reverse
CHECKED_PAID = "checked_paid"  # a person settled it: money taken
CHECKED_UNPAID = "checked_unpaid"  # a person settled it: nothing taken

ORDER_EVENTS = (
    QR_SHOWN, REJECTED, ANSWER_LOST, TAKEN_OVER, USER_PAYING, PAID_EVENT, FLAGGED, DECLINED, GATEWAY_CLOSED,
    NEVER_CREATED, EXPIRE, CANCEL, WATCH_ENDED, REVERSE, REVERSED_EVENT, CHECKED_PAID, CHECKED_UNPAID,
)


def _rows(table: dict, sources, event: str, target: str) -> None:
    for source in sources:
        table[(source, event)] = target


ORDER_TABLE: dict[tuple[str, str], str] = {}
_rows(ORDER_TABLE, [SENDING], QR_SHOWN, PENDING)
_rows(ORDER_TABLE, [SENDING], REJECTED, FAILED)
_rows(ORDER_TABLE, [SENDING], ANSWER_LOST, UNKNOWN)
_rows(ORDER_TABLE, [SENDING], TAKEN_OVER, UNKNOWN)
_rows(ORDER_TABLE, [SENDING, UNKNOWN], USER_PAYING, USERPAYING)
_rows(ORDER_TABLE, [SENDING, PENDING, USERPAYING, UNKNOWN, EXPIRED, NEEDS_CHECK], PAID_EVENT, PAID)
# Money for a sale the clerk gave up: a person must look (issue: cancelled is quiet until money comes).
_rows(ORDER_TABLE, [CANCELLED], PAID_EVENT, NEEDS_CHECK)
_rows(ORDER_TABLE, [SENDING, PENDING, USERPAYING, UNKNOWN, REVERSING, EXPIRED, CANCELLED], FLAGGED, NEEDS_CHECK)
_rows(ORDER_TABLE, [SENDING, USERPAYING, UNKNOWN, NEEDS_CHECK], DECLINED, FAILED)
_rows(ORDER_TABLE, [SENDING, PENDING, USERPAYING, UNKNOWN, EXPIRED, CANCELLED, NEEDS_CHECK], GATEWAY_CLOSED, CLOSED)
_rows(ORDER_TABLE, [UNKNOWN], NEVER_CREATED, CLOSED)
_rows(ORDER_TABLE, [PENDING], EXPIRE, EXPIRED)
_rows(ORDER_TABLE, [PENDING, UNKNOWN], CANCEL, CANCELLED)
_rows(ORDER_TABLE, [EXPIRED, CANCELLED], WATCH_ENDED, CLOSED)
_rows(ORDER_TABLE, [USERPAYING, UNKNOWN], REVERSE, REVERSING)
_rows(ORDER_TABLE, [REVERSING], REVERSED_EVENT, REVERSED)
_rows(ORDER_TABLE, [NEEDS_CHECK], CHECKED_PAID, PAID)
_rows(ORDER_TABLE, [NEEDS_CHECK, EXPIRED, CANCELLED], CHECKED_UNPAID, CLOSED)

# A person may settle these by hand ("已核对"): the engine has stopped acting on them
# (needs_check) or only watches for a late payment that the person has ruled out
# (expired, cancelled: given up locally, the gateway cannot close them).
CHECKABLE_ORDER_STATES = frozenset({NEEDS_CHECK, EXPIRED, CANCELLED})

# ---------------------------------------------------------------------------- refunds

REFUND_SENDING = "sending"  # written before the refund request leaves
REFUND_PROCESSING = "processing"  # accepted by the gateway, not yet refunded
REFUND_UNKNOWN = "unknown"  # outcome unknown, being queried
REFUND_NEEDS_CHECK = "needs_check"
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"

FINAL_REFUND_STATES = frozenset({REFUND_SUCCEEDED, REFUND_FAILED})
UNRESOLVED_REFUND_STATES = frozenset(
    {REFUND_SENDING, REFUND_PROCESSING, REFUND_UNKNOWN, REFUND_NEEDS_CHECK}
)
REFUND_STATES = FINAL_REFUND_STATES | UNRESOLVED_REFUND_STATES
IN_FLIGHT_REFUND_STATES = frozenset({REFUND_SENDING})

# A refund in any of these states holds money back from what is still refundable:
# everything except a definite failure.
REFUND_HOLDING_STATES = REFUND_STATES - {REFUND_FAILED}
# A refund the gateway reported for another amount than ours, or for one the books
# cannot read (these failure codes): while it is not final, the gateway contradicts
# our figure, so nothing more of its order is refundable until a person settles it.
REFUND_AMOUNT_MISMATCH = "reason.refund_amount_mismatch"
REFUND_DISPUTED_CODES = frozenset({REFUND_AMOUNT_MISMATCH, "gw.bad_answer_amount"})

R_ACCEPTED = "accepted"  # the gateway took it, not done yet
R_SUCCEEDED = "succeeded"
R_FAILED = "failed"  # definite: refused, or the gateway says it failed
R_ANSWER_LOST = "answer_lost"
R_TAKEN_OVER = "taken_over"
R_RESEND = "resend"  # the gateway never got it: send it again with the same number
R_FLAGGED = "flagged"  # cannot be settled by the engine: a person must look

REFUND_EVENTS = (R_ACCEPTED, R_SUCCEEDED, R_FAILED, R_ANSWER_LOST, R_TAKEN_OVER, R_RESEND, R_FLAGGED)

REFUND_TABLE: dict[tuple[str, str], str] = {}
_rows(REFUND_TABLE, [REFUND_SENDING, REFUND_UNKNOWN], R_ACCEPTED, REFUND_PROCESSING)
_rows(REFUND_TABLE, [REFUND_SENDING, REFUND_UNKNOWN, REFUND_PROCESSING, REFUND_NEEDS_CHECK], R_SUCCEEDED,
      REFUND_SUCCEEDED)
_rows(REFUND_TABLE, [REFUND_SENDING, REFUND_UNKNOWN, REFUND_PROCESSING, REFUND_NEEDS_CHECK], R_FAILED,
      REFUND_FAILED)
_rows(REFUND_TABLE, [REFUND_SENDING], R_ANSWER_LOST, REFUND_UNKNOWN)
_rows(REFUND_TABLE, [REFUND_SENDING], R_TAKEN_OVER, REFUND_UNKNOWN)
_rows(REFUND_TABLE, [REFUND_UNKNOWN], R_RESEND, REFUND_SENDING)
_rows(REFUND_TABLE, [REFUND_SENDING, REFUND_UNKNOWN, REFUND_PROCESSING], R_FLAGGED, REFUND_NEEDS_CHECK)

ORDER_START = SENDING  # create_order writes this
REFUND_START = REFUND_SENDING  # create_refund writes this


class IllegalTransition(ValueError):
    """(state, event) is not in the table."""

    def __init__(self, kind: str, state: str, event: str) -> None:
        super().__init__(f"{kind} in state {state!r} cannot take event {event!r}")
        self.kind, self.state, self.event = kind, state, event


def order_target(state: str, event: str) -> str:
    """The state an order in `state` moves to on `event`, or IllegalTransition."""
    try:
        return ORDER_TABLE[(state, event)]
    except KeyError:
        raise IllegalTransition("order", state, event) from None


def refund_target(state: str, event: str) -> str:
    try:
        return REFUND_TABLE[(state, event)]
    except KeyError:
        raise IllegalTransition("refund", state, event) from None


def events_between(table: dict[tuple[str, str], str], source: str, target: str) -> list[str]:
    """The events that move `source` to `target` (for callers that name only the state)."""
    return sorted(event for (s, event), t in table.items() if s == source and t == target)


def shortest_path(table: dict[tuple[str, str], str], source: str, target: str) -> list[str] | None:
    """The fewest events that lead from `source` to `target` ([] when equal), or None."""
    frontier, seen = [(source, [])], {source}
    while frontier:
        following = []
        for state, path in frontier:
            if state == target:
                return path
            for (s, event), t in sorted(table.items()):
                if s == state and t not in seen:
                    seen.add(t)
                    following.append((t, path + [event]))
        frontier = following
    return None


def mermaid(kind: str = "order") -> str:
    """The table as a mermaid state diagram (docs/state-machine.md is generated from it)."""
    table, start, final = ((ORDER_TABLE, ORDER_START, FINAL_ORDER_STATES) if kind == "order"
                           else (REFUND_TABLE, REFUND_START, FINAL_REFUND_STATES))
    edges: dict[tuple[str, str], list[str]] = {}
    for (source, event), target in table.items():
        edges.setdefault((source, target), []).append(event)
    lines = ["stateDiagram-v2", f"    [*] --> {start}"]
    for (source, target), events in sorted(edges.items()):
        lines.append(f"    {source} --> {target}: {', '.join(sorted(events))}")
    for state in sorted(final):
        lines.append(f"    {state} --> [*]")
    return "\n".join(lines)


__all__ = [name for name in dir() if name.isupper()] + [
    "IllegalTransition", "order_target", "refund_target", "events_between", "shortest_path", "mermaid",
]
