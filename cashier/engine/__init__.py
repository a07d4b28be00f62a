"""The payment engine: order lifecycle over the ledger and the gateways. No Qt."""

from cashier.engine.clock import FakeClock, SystemClock
from cashier.engine.core import Engine, EngineError, EngineEvent, EngineSettings, MicropayBusy, NotAPaymentCode

__all__ = ["Engine", "EngineError", "EngineEvent", "EngineSettings", "FakeClock", "MicropayBusy",
           "NotAPaymentCode", "SystemClock"]
