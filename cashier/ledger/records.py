"""What the ledger hands out: frozen records with Decimal yuan and unix timestamps."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cashier.money import format_yuan

from . import states


@dataclass(frozen=True)
class OrderRecord:
    """One payment attempt (one out_trade_no). `sale_id` groups the attempts of a sale."""

    out_trade_no: str
    sale_id: str
    counter_id: str
    profile: str
    gateway: str
    method: str
    wallet: str
    amount: Decimal
    amount_to_pay: Decimal  # what the customer must pay (its500 discounts); = amount otherwise
    paid_amount: Decimal | None  # None until paid
    state: str
    subject: str
    auth_code_last4: str | None
    qr: str | None
    qr_image_url: str | None
    gateway_trade_no: str | None
    note: str | None  # free text: a gateway's own words, or a reason stored as text before schema v3
    created_at: float
    updated_at: float
    sent_at: float | None
    expires_at: float | None
    paid_at: float | None
    watch_until: float | None
    next_check_at: float | None
    check_count: int
    checked_by: str | None
    # Why it is in its state, as a message key and its parameters (text only when shown).
    reason_code: str | None = None
    reason_params: dict[str, Any] = field(default_factory=dict)
    # The process sending a request for it (states.IN_FLIGHT_*), and until when its claim holds.
    owner: str | None = None
    lease_until: float | None = None
    shift_id: int | None = None  # the shift it was taken in (carried on if unresolved at a close)
    clerk: str | None = None

    @property
    def reason(self) -> str | None:
        """The reason in the user's language now (old rows: the text they stored)."""
        return reason_text(self.reason_code, self.reason_params, self.note)

    @property
    def page_key(self) -> tuple[float, str]:
        """The keyset cursor for `Ledger.history(before=...)`."""
        return (self.created_at, self.out_trade_no)


@dataclass(frozen=True)
class RefundRecord:
    out_refund_no: str
    out_trade_no: str
    amount: Decimal
    state: str
    reason: str
    actor: str
    gateway_refund_no: str | None
    failure_note: str | None  # a gateway's own words, or a reason stored as text before schema v3
    created_at: float
    updated_at: float
    sent_at: float | None
    finished_at: float | None
    next_check_at: float | None
    check_count: int
    failure_code: str | None = None
    failure_params: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    lease_until: float | None = None
    shift_id: int | None = None
    clerk: str | None = None
    counter_id: str | None = None  # the counter that made the refund (schema v7)

    @property
    def failure_reason(self) -> str | None:
        return reason_text(self.failure_code, self.failure_params, self.failure_note)


@dataclass(frozen=True)
class Event:
    """One line of the append-only audit log."""

    id: int
    at: float
    entity: str  # "order", "refund", or whatever record_event was given
    entity_id: str
    action: str
    actor: str
    old_state: str | None
    new_state: str | None
    detail: dict[str, Any]
    changes: dict[str, Any]  # fields an update set, amounts as strings


def reason_text(code: str | None, params: dict[str, Any] | None, note: str | None) -> str | None:
    """A stored reason as text in the current language: the code's message (with the
    gateway's own words after it, when there are some), or the old free text."""
    if not code:
        return note
    from cashier.i18n import tr

    text = tr(code, **(params or {}))
    if note and note not in text:
        text = f"{text}（{note}）"
    return text


# ----------------------------------------------------------------------------- search

# What a history search can ask about an order's state (OrderQuery.status).
STATUS_PAID = "paid"  # state paid (refunded or not)
STATUS_REFUNDED = "refunded"  # some money went back (partly or fully)
STATUS_PARTLY_REFUNDED = "partly_refunded"
STATUS_FULLY_REFUNDED = "fully_refunded"
STATUS_REFUND_OPEN = "refund_open"  # a refund not yet final (sent, processing, unknown, to check)
STATUS_UNRESOLVED = "unresolved"  # the order itself is not final (to check)
STATUS_NOT_PAID = "not_paid"  # closed, reversed or failed
SEARCH_STATUSES = (STATUS_PAID, STATUS_REFUNDED, STATUS_PARTLY_REFUNDED, STATUS_FULLY_REFUNDED,
                   STATUS_REFUND_OPEN, STATUS_UNRESOLVED, STATUS_NOT_PAID)

# An order's refund situation (HistoryEntry.refund_state).
REFUND_NONE = "none"
REFUND_PARTLY = "partly"
REFUND_FULLY = "fully"


@dataclass(frozen=True)
class OrderQuery:
    """What a history search asks for; every field left None matches everything.

    number: an order number (ours or the gateway's) or a refund number; exact. When
        given, the other fields are ignored: a number names one order.
    amount: the sale's amount, or what the customer paid (they differ with discounts).
    since / until: created_at in [since, until), unix times.
    wallet: "wechat", "alipay", ... (Wallet values).
    status: one of SEARCH_STATUSES.
    """

    number: str | None = None
    amount: Decimal | None = None
    since: float | None = None
    until: float | None = None
    wallet: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in SEARCH_STATUSES:
            raise ValueError(f"unknown search status {self.status!r}")


@dataclass(frozen=True)
class HistoryEntry:
    """An order as the history lists it, with what was refunded on it."""

    order: OrderRecord
    refunded: Decimal = Decimal("0.00")  # refunds that succeeded
    refunding: Decimal = Decimal("0.00")  # refunds not yet final (held back from the refundable rest)
    # An open refund's amount is contradicted by the gateway: nothing is refundable until checked.
    disputed: bool = False

    @property
    def refund_state(self) -> str:
        paid = self.order.paid_amount
        if self.refunded <= 0:
            return REFUND_NONE
        if paid is not None and self.refunded >= paid:
            return REFUND_FULLY
        return REFUND_PARTLY

    @property
    def refundable(self) -> Decimal:
        """What could still be refunded (as Ledger.refundable computes it)."""
        if self.order.state != states.PAID or self.order.paid_amount is None or self.disputed:
            return Decimal("0.00")
        return max(self.order.paid_amount - self.refunded - self.refunding, Decimal("0.00"))

    @property
    def page_key(self) -> tuple[float, str]:
        return self.order.page_key


# Mutable through update_order / update_refund (everything else is fixed at creation).
ORDER_MUTABLE_FIELDS = frozenset({
    "wallet", "amount_to_pay", "paid_amount", "subject", "auth_code_last4", "qr",
    "qr_image_url", "gateway_trade_no", "note", "sent_at", "expires_at", "paid_at",
    "watch_until", "next_check_at", "check_count", "checked_by", "reason_code", "reason_params",
})
REFUND_MUTABLE_FIELDS = frozenset({
    "reason", "gateway_refund_no", "failure_note", "sent_at", "finished_at",
    "next_check_at", "check_count", "failure_code", "failure_params",
})
# Record fields kept in a column of another name (the column predates the field).
ORDER_COLUMN_NAMES = {"note": "reason"}
REFUND_COLUMN_NAMES = {"failure_note": "failure_reason"}
# Record fields stored as JSON text.
JSON_FIELDS = frozenset({"reason_params", "failure_params"})
# Ownership is set only through claim/release, never through update_*.
ORDER_MONEY_FIELDS = frozenset({"amount", "amount_to_pay", "paid_amount"})
REFUND_MONEY_FIELDS = frozenset({"amount"})

ORDER_FIELDS = tuple(f.name for f in dataclasses.fields(OrderRecord))
REFUND_FIELDS = tuple(f.name for f in dataclasses.fields(RefundRecord))


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True)
class ReportLine:
    """Money taken and given back through one gateway and wallet on one day."""

    gateway: str
    wallet: str
    paid_count: int = 0
    paid_sum: Decimal = Decimal("0.00")
    refund_count: int = 0
    refund_sum: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return self.paid_sum - self.refund_sum

    def to_dict(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "wallet": self.wallet,
            "paid_count": self.paid_count,
            "paid_sum": format_yuan(self.paid_sum),
            "refund_count": self.refund_count,
            "refund_sum": format_yuan(self.refund_sum),
            "net": format_yuan(self.net),
        }


@dataclass(frozen=True)
class Report:
    """A local day's takings.

    paid: orders whose paid_at falls in the day (state paid, or needs_check with a
    payment recorded; reversed orders are left out: their money went back).
    refunds: refunds that succeeded (finished_at) in the day, under the gateway and
    wallet of their order, whatever day that order was paid.
    Unresolved orders and refunds (of any day) come first: someone must look at them
    (not a cancelled order watched quietly for a late payment).
    """

    day: datetime.date
    start: float  # unix time of the day's first instant, local
    end: float  # unix time of the next day's first instant
    unresolved_orders: tuple[OrderRecord, ...]
    unresolved_refunds: tuple[RefundRecord, ...]
    lines: tuple[ReportLine, ...]
    totals: ReportLine = field(default_factory=lambda: ReportLine("", ""))
    # Cash put into / taken out of drawers that day (备用金 / 取款; cash sales and cash
    # refunds are the "cash" line of `lines`), and the day's reconciliation runs.
    cash_in: Decimal = Decimal("0.00")
    cash_out: Decimal = Decimal("0.00")
    reconciliation: tuple[dict[str, Any], ...] = ()
    # paid in the day while the payment site holds (froze) the money: counted as paid,
    # listed so that someone checks with the site
    held_orders: tuple[OrderRecord, ...] = ()
    counter_id: str | None = None  # the counter reported on; None: the whole shop

    def to_dict(self) -> dict[str, Any]:
        def record(rec: OrderRecord | RefundRecord) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in dataclasses.asdict(rec).items():
                out[key] = format_yuan(value) if isinstance(value, Decimal) else value
            return out

        return {
            "unresolved_orders": [record(o) for o in self.unresolved_orders],
            "unresolved_refunds": [record(r) for r in self.unresolved_refunds],
            "day": self.day.isoformat(),
            "start": self.start,
            "end": self.end,
            "lines": [line.to_dict() for line in self.lines],
            "totals": self.totals.to_dict(),
            "cash_in": format_yuan(self.cash_in),
            "cash_out": format_yuan(self.cash_out),
            "reconciliation": list(self.reconciliation),
            "held_orders": [record(o) for o in self.held_orders],
            "counter_id": self.counter_id,
        }
