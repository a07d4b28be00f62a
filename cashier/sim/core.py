"""The simulator's books: merchants, orders, refunds, behaviours, faults and a clock.

Shared by every gateway's simulated protocol (one module per gateway beside this
file). All state is guarded by one lock; time-based transitions (expiry, a customer
who enters the password after N seconds, a refund that completes later) are applied
lazily by `refresh` whenever an order is looked at.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable


class SimClock:
    """Wall time plus an offset that tests and the control API can advance."""

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


# Order states, close to WeChat's words; each gateway maps them to its own.
NOTPAY = "NOTPAY"
USERPAYING = "USERPAYING"
SUCCESS = "SUCCESS"
CLOSED = "CLOSED"  # closed or expired, never paid
REVOKED = "REVOKED"  # micropay reversed (if it had been paid, it was refunded)
PAYERROR = "PAYERROR"  # definite failure

REFUND_PROCESSING = "PROCESSING"
REFUND_SUCCESS = "SUCCESS"
REFUND_FAILED = "FAILED"


@dataclass
class Merchant:
    gateway: str
    merchant_id: str
    secret: str
    app_id: str = ""
    refund_enabled: bool = True


@dataclass
class SimRefund:
    out_refund_no: str
    out_trade_no: str
    amount: Decimal
    refund_no: str
    created: float
    status: str = REFUND_PROCESSING
    done_at: float | None = None  # when PROCESSING turns into its final status
    final_status: str = REFUND_SUCCESS
    notify_url: str = ""


@dataclass
class SimOrder:
    gateway: str
    merchant_id: str
    out_trade_no: str
    amount: Decimal  # what the merchant asked
    pay_amount: Decimal  # what the customer must pay (its500 discounts it)
    method: str  # merged / wechat / alipay / qq / micropay
    wallet: str  # wechat / alipay / qq / unionpay / unknown (merged until paid)
    kind: str  # "qr" or "micropay"
    trade_no: str
    created: float
    expires_at: float | None
    subject: str = ""
    notify_url: str = ""
    attach: str = ""
    auth_code: str = ""
    status: str = NOTPAY
    paid_at: float | None = None
    pay_at: float | None = None  # scheduled payment (password entered after N s)
    fail_reason: str = ""
    refunds: list[SimRefund] = field(default_factory=list)
    last_refund_at: float | None = None
    charged: int = 0  # how many times money moved in (must never exceed 1)
    reversed_refund: bool = False  # a reverse undid a payment

    def refunded_amount(self, *, include_processing: bool = True) -> Decimal:
        total = Decimal("0.00")
        for r in self.refunds:
            if r.status == REFUND_SUCCESS or (include_processing and r.status == REFUND_PROCESSING):
                total += r.amount
        return total

    def snapshot(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "merchant_id": self.merchant_id,
            "out_trade_no": self.out_trade_no,
            "trade_no": self.trade_no,
            "amount": format(self.amount, "f"),
            "pay_amount": format(self.pay_amount, "f"),
            "method": self.method,
            "wallet": self.wallet,
            "kind": self.kind,
            "status": self.status,
            "auth_code": self.auth_code,
            "created": self.created,
            "expires_at": self.expires_at,
            "paid_at": self.paid_at,
            "charged": self.charged,
            "reversed_refund": self.reversed_refund,
            "refunded": format(self.refunded_amount(include_processing=False), "f"),
            "refunds": [
                {
                    "out_refund_no": r.out_refund_no,
                    "refund_no": r.refund_no,
                    "amount": format(r.amount, "f"),
                    "status": r.status,
                }
                for r in self.refunds
            ],
        }


@dataclass
class MicropayBehaviour:
    """What the customer does with a scanned code.

    kind: "pay" (paid at once), "password" (USERPAYING, paid after `seconds`),
    "never" (USERPAYING until reversed), "decline" (definite failure, `reason`),
    "error_then_pay" (the gateway answers a system error but the payment goes through).
    """

    kind: str = "pay"
    seconds: float = 0.0
    reason: str = ""


@dataclass
class Fault:
    """An injected failure. `when` is "before" (the request is not processed) or
    "after" (processed, then the answer is lost or mangled: the dangerous case).

    kind: "delay" (sleep `seconds` before answering), "http500", "reset" (drop the
    connection without an answer), "malformed" (200 with a body that is not JSON),
    "badsig" (notifications sent with a wrong signature), "rewrite" (with when="after":
    the JSON answer says `fields` instead, in its `data` object where it has one: a
    careless gateway, or one answering about another order).
    """

    kind: str
    gateway: str = "*"
    op: str = "*"
    when: str = "before"
    count: int = 1
    seconds: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)

    def matches(self, gateway: str, op: str) -> bool:
        return self.count != 0 and self.gateway in ("*", gateway) and self.op in ("*", op)


class SimError(Exception):
    """Raised by the books when a request breaks a rule; gateways render it their way."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SimState:
    def __init__(self, clock: SimClock | None = None) -> None:
        self.clock = clock or SimClock()
        self.lock = threading.RLock()
        self.merchants: dict[tuple[str, str], Merchant] = {}
        self.orders: dict[tuple[str, str], SimOrder] = {}
        self.used_auth_codes: set[str] = set()
        self.micropay_by_code: dict[str, MicropayBehaviour] = {}
        self.next_micropay: list[MicropayBehaviour] = []
        self.refund_delay = 0.0
        self.next_refund_fail: list[str] = []
        # A careless gateway: the next refunds are booked (and reported) for these
        # amounts, whatever was asked.
        self.next_refund_amount: list[Decimal] = []
        self.faults: list[Fault] = []
        self.last_call: dict[tuple[str, str, str], float] = {}
        # every rate-limited call: (gateway, merchant, op, time, allowed), for tests to measure
        self.rate_log: list[tuple[str, str, str, float, bool]] = []
        self.notifications_sent: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # (gateway, op, time), for tests
        self._seq = itertools.count(1)

    # -- merchants --------------------------------------------------------------
    def add_merchant(self, merchant: Merchant) -> None:
        with self.lock:
            self.merchants[(merchant.gateway, merchant.merchant_id)] = merchant

    def merchant(self, gateway: str, merchant_id: str) -> Merchant | None:
        with self.lock:
            return self.merchants.get((gateway, merchant_id))

    def merchants_of(self, gateway: str) -> list[Merchant]:
        with self.lock:
            return [m for (g, _), m in self.merchants.items() if g == gateway]

    # -- numbers ----------------------------------------------------------------
    def new_trade_no(self, prefix: str) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(self.clock.now()))
        return f"{prefix}{stamp}{next(self._seq):08d}"

    # -- rate limits ------------------------------------------------------------
    def rate_ok(self, gateway: str, merchant_id: str, op: str, interval: float) -> bool:
        """True and recorded when the call respects `interval` since the last one."""
        with self.lock:
            now = self.clock.now()
            key = (gateway, merchant_id, op)
            last = self.last_call.get(key)
            allowed = last is None or now - last >= interval
            self.rate_log.append((gateway, merchant_id, op, now, allowed))  # what a test measures
            if not allowed:
                return False
            self.last_call[key] = now
            return True

    # -- orders -----------------------------------------------------------------
    def create_order(self, order: SimOrder) -> SimOrder:
        with self.lock:
            key = (order.gateway, order.out_trade_no)
            if key in self.orders:
                raise SimError("duplicate", "商户订单号重复")
            self.orders[key] = order
            return order

    def get(self, gateway: str, out_trade_no: str) -> SimOrder | None:
        with self.lock:
            order = self.orders.get((gateway, out_trade_no))
            if order is not None:
                self.refresh(order)
            return order

    def find_by_trade_no(self, gateway: str, trade_no: str) -> SimOrder | None:
        with self.lock:
            for (g, _), order in self.orders.items():
                if g == gateway and order.trade_no == trade_no:
                    self.refresh(order)
                    return order
            return None

    def refresh(self, order: SimOrder) -> None:
        now = self.clock.now()
        with self.lock:
            if order.status in (NOTPAY, USERPAYING) and order.pay_at is not None and now >= order.pay_at:
                self._mark_paid(order, order.pay_at)
            if order.status == NOTPAY and order.expires_at is not None and now >= order.expires_at:
                order.status = CLOSED
            for refund in order.refunds:
                if refund.status == REFUND_PROCESSING and refund.done_at is not None and now >= refund.done_at:
                    refund.status = refund.final_status

    def _mark_paid(self, order: SimOrder, when: float, wallet: str | None = None) -> None:
        order.status = SUCCESS
        order.paid_at = when
        order.pay_at = None
        order.charged += 1
        if wallet:
            order.wallet = wallet
        elif order.wallet == "unknown":
            order.wallet = "wechat"

    def customer_pays(self, gateway: str, out_trade_no: str, wallet: str | None = None) -> SimOrder:
        """The customer scanned the QR and paid."""
        with self.lock:
            order = self.get(gateway, out_trade_no)
            if order is None:
                raise SimError("not_found", "order not found")
            if order.status == SUCCESS:
                raise SimError("already_paid", "order already paid")
            if order.status not in (NOTPAY, USERPAYING):
                raise SimError("not_payable", f"order is {order.status}")
            self._mark_paid(order, self.clock.now(), wallet)
            return order

    def foreign_order(self, gateway: str, merchant_id: str, amount: Decimal, *, out_trade_no: str | None = None,
                      wallet: str | None = None, paid: bool = True) -> SimOrder:
        """An order made at the gateway without the shop's cashier (another device, the
        back office): reconciliation's "unknown to us"."""
        with self.lock:
            if self.merchant(gateway, merchant_id) is None:
                raise SimError("not_found", "no such merchant")
            now = self.clock.now()
            no = out_trade_no or self.new_trade_no("X")
            order = SimOrder(gateway=gateway, merchant_id=merchant_id, out_trade_no=no, amount=amount,
                             pay_amount=amount, method=wallet or "wechat", wallet=wallet or "wechat", kind="qr",
                             trade_no=self.new_trade_no(""), created=now, expires_at=None, subject="后台订单")
            self.create_order(order)
            if paid:
                self._mark_paid(order, now, wallet)
            return order

    def set_amount(self, gateway: str, out_trade_no: str, amount: Decimal) -> SimOrder:
        with self.lock:
            order = self.get(gateway, out_trade_no)
            if order is None:
                raise SimError("not_found", "order not found")
            order.amount = amount
            order.pay_amount = amount
            return order

    def schedule_payment(self, gateway: str, out_trade_no: str, seconds: float) -> SimOrder:
        with self.lock:
            order = self.get(gateway, out_trade_no)
            if order is None:
                raise SimError("not_found", "order not found")
            order.pay_at = self.clock.now() + seconds
            return order

    def latest_pending(self) -> SimOrder | None:
        with self.lock:
            pending = [o for o in self.orders.values() if (self.refresh(o) or True) and o.status in (NOTPAY, USERPAYING)]
            return max(pending, key=lambda o: o.created) if pending else None

    def start_micropay(self, order: SimOrder) -> SimOrder:
        """Apply the customer's behaviour to a micropay order just created."""
        with self.lock:
            code = order.auth_code
            if code in self.used_auth_codes:
                order.status = PAYERROR
                order.fail_reason = "付款码已使用，请刷新付款码"
                return order
            self.used_auth_codes.add(code)
            behaviour = self.micropay_by_code.pop(code, None)
            if behaviour is None and self.next_micropay:
                behaviour = self.next_micropay.pop(0)
            behaviour = behaviour or MicropayBehaviour()
            now = self.clock.now()
            if behaviour.kind in ("pay", "error_then_pay"):
                self._mark_paid(order, now)
            elif behaviour.kind == "password":
                order.status = USERPAYING
                order.pay_at = now + behaviour.seconds
            elif behaviour.kind == "never":
                order.status = USERPAYING
            elif behaviour.kind == "decline":
                order.status = PAYERROR
                order.fail_reason = behaviour.reason or "余额不足"
            else:
                raise SimError("bad_behaviour", behaviour.kind)
            order.fail_reason = order.fail_reason or ""
            self.requests.append({"behaviour": behaviour.kind, "out_trade_no": order.out_trade_no})
            order._behaviour = behaviour.kind  # type: ignore[attr-defined]
            return order

    def close_order(self, order: SimOrder) -> None:
        with self.lock:
            self.refresh(order)
            if order.status in (NOTPAY, USERPAYING):
                order.status = CLOSED
                order.pay_at = None
            elif order.status == SUCCESS:
                raise SimError("paid", "订单已支付，不能关闭")

    def reverse_order(self, order: SimOrder) -> None:
        """Cancel a micropay: unpaid -> REVOKED; paid -> refunded in full and REVOKED."""
        with self.lock:
            self.refresh(order)
            if order.status == SUCCESS:
                if order.refunds:
                    raise SimError("refunded", "已退款的订单不能撤销")
                order.reversed_refund = True
            order.status = REVOKED
            order.pay_at = None

    def refund(self, order: SimOrder, out_refund_no: str, amount: Decimal, *, notify_url: str = "",
               spacing: float = 0.0, max_count: int | None = None) -> tuple[SimRefund, bool]:
        """Create (or find, idempotently) a refund. Returns (refund, created)."""
        with self.lock:
            self.refresh(order)
            for existing in order.refunds:
                if existing.out_refund_no == out_refund_no:
                    if existing.amount != amount:
                        raise SimError("refund_no_reused", "退款单号已存在且金额不同")
                    return existing, False
            for other in self.orders.values():
                if other is not order and other.gateway == order.gateway and any(
                        r.out_refund_no == out_refund_no for r in other.refunds):
                    raise SimError("refund_no_reused", "退款单号已存在")
            if order.status != SUCCESS:
                raise SimError("not_paid", "订单未支付，不能退款")
            now = self.clock.now()
            if spacing and order.last_refund_at is not None and now - order.last_refund_at < spacing:
                raise SimError("too_soon", f"同一笔订单多次退款需间隔{int(spacing)}秒")
            if max_count is not None and len(order.refunds) >= max_count:
                raise SimError("too_many", f"部分退款次数不能超过{max_count}次")
            refundable = order.pay_amount - order.refunded_amount()
            if amount > refundable:
                raise SimError("too_much", f"退款金额不能超过可退金额:{refundable}")
            if self.next_refund_amount:
                amount = self.next_refund_amount.pop(0)
            final = REFUND_SUCCESS
            if self.next_refund_fail:
                self.next_refund_fail.pop(0)
                final = REFUND_FAILED
            refund = SimRefund(
                out_refund_no=out_refund_no,
                out_trade_no=order.out_trade_no,
                amount=amount,
                refund_no=self.new_trade_no("T"),
                created=now,
                done_at=now + self.refund_delay,
                final_status=final,
                notify_url=notify_url,
            )
            if self.refund_delay <= 0:
                refund.status = final
            order.refunds.append(refund)
            order.last_refund_at = now
            return refund, True

    def find_refund(self, gateway: str, out_refund_no: str) -> tuple[SimOrder, SimRefund] | None:
        with self.lock:
            for (g, _), order in self.orders.items():
                if g != gateway:
                    continue
                for refund in order.refunds:
                    if refund.out_refund_no == out_refund_no:
                        self.refresh(order)
                        return order, refund
            return None

    # -- faults -----------------------------------------------------------------
    def take_fault(self, gateway: str, op: str, when: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.when == when and fault.kind != "badsig" and fault.matches(gateway, op):
                    if fault.count > 0:
                        fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
            return None

    def take_badsig(self, gateway: str) -> bool:
        with self.lock:
            for fault in self.faults:
                if fault.kind == "badsig" and fault.matches(gateway, "notify"):
                    if fault.count > 0:
                        fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return True
            return False

    # -- books ------------------------------------------------------------------
    def books(self) -> dict[str, Any]:
        with self.lock:
            for order in self.orders.values():
                self.refresh(order)
            return {"orders": [o.snapshot() for o in self.orders.values()]}
