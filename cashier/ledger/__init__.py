"""The order ledger: one SQLite file with every payment attempt, refund and event.

    from cashier.ledger import Ledger
    with Ledger(path) as ledger:
        order = ledger.create_order(...)          # state "sending", durable on return
        ledger.update_order(order.out_trade_no, event=states.QR_SHOWN, expect="sending", qr=link)

`cashier.ledger.states` (the state machine) imports nothing else: the UI reads state
names from it without loading SQLite. Everything else here is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import states
from .states import (
    FINAL_ORDER_STATES,
    FINAL_REFUND_STATES,
    ORDER_STATES,
    REFUND_STATES,
    UNRESOLVED_ORDER_STATES,
    UNRESOLVED_REFUND_STATES,
)

_LAZY = {
    "DEFAULT_BUSY_TIMEOUT_MS": "db", "Ledger": "db",
    "DuplicateOrder": "errors", "DuplicateRefund": "errors", "FullAuthCode": "errors",
    "IllegalStateChange": "errors", "LedgerBusy": "errors", "LedgerCorrupt": "errors", "LedgerError": "errors",
    "LedgerFull": "errors", "LedgerIOError": "errors", "LedgerEmpty": "errors", "LedgerReadOnly": "errors", "OrderNotFound": "errors", "RefundNotFound": "errors",
    "RefundTooLarge": "errors", "SchemaTooNew": "errors", "StateConflict": "errors",
    "Event": "records", "OrderRecord": "records", "RefundRecord": "records", "Report": "records",
    "ReportLine": "records",
    "SCHEMA_VERSION": "schema",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cashier.ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = sorted([*_LAZY, "FINAL_ORDER_STATES", "FINAL_REFUND_STATES", "ORDER_STATES", "REFUND_STATES",
                  "UNRESOLVED_ORDER_STATES", "UNRESOLVED_REFUND_STATES", "states"])
