"""The payment engine: order lifecycle over the ledger and the gateways. No Qt.

core (plumbing, scheduler, recovery, notifications), orders (QR and micropay flows),
refunds, decisions (pure: what to do next), ownership (who works on a row, leases).
"""

from cashier.engine.clock import FakeClock, SystemClock
from cashier.engine.core import Engine
from cashier.engine.types import EngineError, EngineEvent, EngineSettings, MicropayBusy, NotAPaymentCode

__all__ = ["Engine", "EngineError", "EngineEvent", "EngineSettings", "FakeClock", "MicropayBusy",
           "NotAPaymentCode", "SystemClock"]
