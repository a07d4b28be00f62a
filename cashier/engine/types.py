"""The engine's errors, events and settings (shared by its modules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from cashier.engine.ownership import LEASE_SECONDS
from cashier.gateways.base import Wallet
from cashier.i18n import UserError
from cashier.ledger.records import OrderRecord, RefundRecord


class NotAPaymentCode(UserError):
    key = "engine.not_payment_code"


class MicropayBusy(UserError):
    key = "engine.micropay_busy"


class EngineError(UserError):
    pass


@dataclass(frozen=True)
class EngineEvent:
    kind: str  # "order" or "refund"
    order: OrderRecord | None = None
    refund: RefundRecord | None = None


@dataclass(frozen=True)
class QueryNote:
    """The last time this process asked the gateway about an order."""

    at: float
    answered: bool  # False: the gateway could not be reached or gave no usable answer


@dataclass(frozen=True)
class CheckAnswer:
    """What a clerk's 查单 did (Engine.check_soon). Exactly one of:
    `queried_at` set: the order as the gateway answered at that time (now, or a query
    a moment ago that still holds: the slot allows no fresher one); `due_at` set: the
    slot is taken, the query goes out then, before anything else of the merchant,
    and its answer comes as an order event; neither: nothing to ask (a final order,
    or a gateway that cannot be queried)."""

    order: OrderRecord
    asked_at: float
    queried_at: float | None = None
    answered: bool = True
    due_at: float | None = None


@dataclass
class EngineSettings:
    counter_id: str = "01"
    qr_expiry_seconds: float = 300.0
    # After a QR order expired or was cancelled without a gateway close: keep
    # querying it this long, because a late payment is still money taken.
    late_payment_watch_seconds: float = 1800.0
    late_payment_poll_seconds: float = 15.0
    micropay_query_interval: float = 5.0
    micropay_deadline: Mapping[Wallet, float] = field(default_factory=lambda: {
        Wallet.WECHAT: 30.0, Wallet.ALIPAY: 60.0, Wallet.UNIONPAY: 60.0, Wallet.QQ: 30.0, Wallet.UNKNOWN: 30.0})
    wechat_min_reverse_after: float = 15.0
    reverse_retry_interval: float = 5.0
    max_reverse_attempts: int = 10
    # After this many failed attempts to reach the gateway for one order, it is
    # marked needs_check (and still watched).
    max_error_checks: int = 30
    max_backoff: float = 60.0
    needs_check_poll_seconds: float = 60.0
    refund_retry_interval: float = 10.0
    # How long a claim on a row holds without renewal (a process renews while it waits).
    lease_seconds: float = LEASE_SECONDS
    # How long a clerk's action waits for another process to finish a step on the row.
    claim_wait_seconds: float = 10.0
