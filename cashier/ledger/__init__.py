"""The order ledger: one SQLite file with every payment attempt, refund and event.

    from cashier.ledger import Ledger
    with Ledger(path) as ledger:
        order = ledger.create_order(...)          # state "sending", durable on return
        ledger.update_order(order.out_trade_no, state="pending", expect="sending", qr=link)
"""

from . import states
from .db import DEFAULT_BUSY_TIMEOUT_MS, Ledger
from .errors import (
    DuplicateOrder,
    DuplicateRefund,
    FullAuthCode,
    LedgerBusy,
    LedgerCorrupt,
    LedgerEmpty,
    LedgerError,
    LedgerFull,
    LedgerIOError,
    LedgerReadOnly,
    OrderNotFound,
    RefundNotFound,
    RefundTooLarge,
    SchemaTooNew,
    StateConflict,
)
from .records import Event, OrderRecord, RefundRecord, Report, ReportLine
from .schema import SCHEMA_VERSION
from .states import (
    FINAL_ORDER_STATES,
    FINAL_REFUND_STATES,
    ORDER_STATES,
    REFUND_STATES,
    UNRESOLVED_ORDER_STATES,
    UNRESOLVED_REFUND_STATES,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS", "DuplicateOrder", "DuplicateRefund", "Event", "FINAL_ORDER_STATES",
    "FINAL_REFUND_STATES", "FullAuthCode", "Ledger", "LedgerBusy", "LedgerCorrupt", "LedgerEmpty", "LedgerError",
    "LedgerFull", "LedgerIOError", "LedgerReadOnly", "ORDER_STATES", "OrderNotFound", "OrderRecord", "REFUND_STATES",
    "RefundNotFound", "RefundRecord", "RefundTooLarge", "Report", "ReportLine", "SCHEMA_VERSION",
    "SchemaTooNew", "StateConflict", "UNRESOLVED_ORDER_STATES", "UNRESOLVED_REFUND_STATES", "states",
]
