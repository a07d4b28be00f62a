"""States of an order (one payment attempt) and of a refund, as stored in the ledger.

"Written before the request leaves" states (sending, closing, reversing) mean: the
request may or may not have reached the gateway, so after a crash the order must be
queried, never assumed.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- orders

SENDING = "sending"  # written before the create/pay request leaves
PENDING = "pending"  # QR shown, waiting for the customer
USERPAYING = "userpaying"  # micropay: customer confirming on the phone
UNKNOWN = "unknown"  # outcome unknown, being queried
CLOSING = "closing"  # close requested (written before the close request)
REVERSING = "reversing"  # reverse requested (written before the reverse request)
EXPIRED = "expired"  # closed locally / expired, still watched for a late payment
NEEDS_CHECK = "needs_check"  # the engine could not settle it: a person must look

PAID = "paid"
CLOSED = "closed"
REVERSED = "reversed"
FAILED = "failed"

FINAL_ORDER_STATES = frozenset({PAID, CLOSED, REVERSED, FAILED})
UNRESOLVED_ORDER_STATES = frozenset(
    {SENDING, PENDING, USERPAYING, UNKNOWN, CLOSING, REVERSING, EXPIRED, NEEDS_CHECK}
)
ORDER_STATES = FINAL_ORDER_STATES | UNRESOLVED_ORDER_STATES

# A person may settle these by hand ("已核对"): the engine has stopped acting on them
# (needs_check) or only watches for a late payment that the person has ruled out
# (expired: closed locally, e.g. a cancelled QR the gateway cannot close).
CHECKABLE_ORDER_STATES = frozenset({NEEDS_CHECK, EXPIRED})

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

# A refund in any of these states holds money back from what is still refundable:
# everything except a definite failure.
REFUND_HOLDING_STATES = REFUND_STATES - {REFUND_FAILED}

__all__ = [name for name in dir() if name.isupper()]
