"""The order lifecycle: create, poll, micropay query-then-reverse, close, refunds,
start-up recovery. Pure Python; the GUI and the CLI are two faces of this.

The rules it follows are in docs/counter.md. The one that shapes everything:
every state change is written to the ledger *before* the request that depends on
it leaves, and every answer is written as soon as it arrives. So a crash at any
moment leaves an order in a state that says what to do next, and `recover()` (run
at every start) does it.

States (cashier.ledger.states):
  sending    -> the create/pay request may have left; on recovery: query (unknown)
  pending    -> QR shown; poll until paid or expiry, then close (or watch)
  userpaying -> micropay waiting for the customer's password; poll every 5 s
  unknown    -> outcome unknown; poll; micropay: reverse at the deadline
  closing    -> close requested; retry close / query
  reversing  -> reverse requested; retry while the gateway says so
  expired    -> closed locally (gateway can't close / clerk cancelled); still
                watched for a late payment until watch_until
  needs_check-> the engine could not settle it: shown to a person; still watched
  final: paid, closed, reversed, failed
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Iterator, Mapping

from cashier.engine.clock import SystemClock
from cashier.engine.failpoints import failpoint
from cashier.engine.numbers import make_number
from cashier.engine.ratelimit import RateGate
from cashier.gateways.base import (
    QR_CAPABILITY,
    BadAmount,
    Capability,
    DefiniteError,
    Gateway,
    GatewayError,
    Method,
    Notification,
    NotificationError,
    NotSent,
    NotSupported,
    OrderRef,
    PaymentState,
    PayStatus,
    RateLimited,
    RefundState,
    RefundStatus,
    UnknownOutcome,
    Wallet,
    check_notification_against,
)
from cashier.i18n import UserError, define
from cashier.ledger import Ledger, OrderRecord, RefundRecord
from cashier.ledger.db import HELD_ACTION
from cashier.ledger import states as S
from cashier.money import AmountError, check_amount, format_yuan
from cashier.scanner import classify_payment_code

log = logging.getLogger("cashier.engine")

define({
    "engine.not_payment_code": ("这不是付款码，请让顾客出示微信或支付宝的付款码", "This is not a payment code: ask for the WeChat or Alipay payment code"),
    "engine.micropay_busy": ("这笔收款还有一笔付款未完成（{out_trade_no}），请等待结果或先停止等待", "A payment for this sale is still unresolved ({out_trade_no}): wait for it or stop waiting first"),
    "engine.sale_paid": ("这笔收款已经付款成功（{out_trade_no}），不能重复收款", "This sale is already paid ({out_trade_no}); not charging again"),
    "engine.unknown_profile": ("没有商户配置“{profile}”", "No merchant profile '{profile}'"),
    "engine.unknown_order": ("没有这笔订单：{out_trade_no}", "No such order: {out_trade_no}"),
    "engine.method_unsupported": ("当前支付网关不支持{method}", "This gateway does not support {method}"),
    "engine.code_wallet_unsupported": ("当前支付网关不支持该钱包的付款码", "This gateway does not take this wallet's payment code"),
    "engine.not_paid": ("订单未支付，不能退款", "The order is not paid: nothing to refund"),
    "engine.refund_manual": ("该网关没有退款接口，请在网关后台或线下手工退款", "This gateway has no refund API: refund by hand in its back office"),
    "engine.refund_too_soon": ("同一笔订单两次退款需间隔 {seconds} 秒，请 {wait} 秒后再试", "Refunds of one order must be {seconds} s apart: try again in {wait} s"),
    "engine.refund_too_many": ("该订单部分退款次数已达上限（{count} 次）", "This order has reached the limit of {count} partial refunds"),
    "engine.refund_too_old": ("订单已超过 {days} 天，不能退款", "The order is older than {days} days and cannot be refunded"),
    "engine.not_checkable": ("这笔订单还在自动处理中，不需要人工核对", "This order is still being handled automatically: nothing to check by hand"),
    "engine.check_too_soon": ("查询太频繁，请 {wait} 秒后再查", "Queried too recently: try again in {wait} s"),
    "engine.gateway_error": ("{message}", "{message}"),
    "reason.expired": ("二维码已过期，顾客未付款", "The QR code expired unpaid"),
    "reason.cancelled": ("收银员已取消", "Cancelled by the clerk"),
    "reason.closed_by_gateway": ("网关显示订单已关闭", "The gateway shows the order closed"),
    "reason.reversed": ("已撤销，顾客未被扣款（如已扣款将原路退回）", "Reversed: the customer is not charged (any charge is returned)"),
    "reason.amount_mismatch": ("网关显示已付 {paid} 元，与应付 {expected} 元不符，请核对", "The gateway shows {paid} paid, not the {expected} due: check it"),
    "reason.cannot_reverse": ("该网关不能撤销付款码支付，请在顾客手机或网关后台核对是否已扣款", "This gateway cannot reverse a scanned payment: check the customer's phone or the gateway back office"),
    "reason.reverse_failed": ("撤销多次失败，请在网关后台核对：{reason}", "Reversing failed repeatedly; check in the gateway back office: {reason}"),
    "reason.unreachable": ("多次无法联系支付网关，请人工核对", "The gateway could not be reached repeatedly; check by hand"),
    "reason.never_created": ("网关没有这笔订单（未创建成功）", "The gateway has no such order (it was never created)"),
    "reason.refund_unknown_no_query": ("退款结果未知，该网关不能查询退款，请在网关后台核对", "Refund outcome unknown and this gateway cannot query refunds: check its back office"),
    "reason.late_payment": ("订单关闭后顾客仍然付款了，请核对（可退款）", "The customer paid after the order was closed: check it (refundable)"),
    "reason.double_payment": ("这笔收款已由订单 {other} 付过，顾客重复付款：请退还其中一笔", "This sale was already paid by {other}: the customer paid twice, refund one"),
    "reason.held": ("已付款，但支付站点冻结了这笔钱（资金暂扣），请与站点核实",
                    "Paid, but the payment site has frozen this money (held): check with the site"),
    "reason.recovered": ("程序重启后继续处理", "Resumed after a restart"),
    "method.merged": ("一码付", "one-code QR"),
    "method.wechat": ("微信", "WeChat"),
    "method.alipay": ("支付宝", "Alipay"),
    "method.qq": ("QQ钱包", "QQ Wallet"),
    "method.micropay": ("付款码", "payment code"),
})


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


class Engine:
    def __init__(
        self,
        ledger: Ledger,
        gateways: Mapping[str, Gateway],
        *,
        settings: EngineSettings | None = None,
        clock=None,
    ) -> None:
        self.ledger = ledger
        self._gateways = dict(gateways)
        self.settings = settings or EngineSettings()
        self.clock = clock or SystemClock()
        self._gate = RateGate()
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._order_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._sale_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ plumbing
    def subscribe(self, callback: Callable[[EngineEvent], None]) -> None:
        self._listeners.append(callback)

    def _emit(self, event: EngineEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a listener's bug must not stop money work
                log.exception("engine listener failed")

    def profiles(self) -> list[str]:
        return list(self._gateways)

    def gateway(self, profile: str) -> Gateway:
        try:
            return self._gateways[profile]
        except KeyError:
            raise EngineError("engine.unknown_profile", profile=profile) from None

    def now(self) -> float:
        return self.clock.now()

    @contextmanager
    def _order_lock(self, out_trade_no: str, *, blocking: bool = True) -> Iterator[bool]:
        with self._locks_guard:
            lock = self._order_locks.setdefault(out_trade_no, threading.Lock())
        got = lock.acquire(blocking)
        try:
            yield got
        finally:
            if got:
                lock.release()

    def _update(self, order: OrderRecord, *, actor: str = "engine", action: str = "update",
                detail: dict | None = None, **fields) -> OrderRecord:
        new = self.ledger.update_order(order.out_trade_no, expect=order.state, actor=actor, action=action,
                                       detail=detail, **fields)
        self._emit(EngineEvent("order", order=new))
        self._wake.set()
        return new

    def _update_refund(self, refund: RefundRecord, *, actor: str = "engine", action: str = "update",
                       detail: dict | None = None, **fields) -> RefundRecord:
        new = self.ledger.update_refund(refund.out_refund_no, expect=refund.state, actor=actor, action=action,
                                        detail=detail, **fields)
        self._emit(EngineEvent("refund", refund=new))
        self._wake.set()
        return new

    def _ref(self, order: OrderRecord) -> OrderRef:
        return OrderRef(
            out_trade_no=order.out_trade_no,
            amount=order.amount,
            method=Method(order.method),
            wallet=Wallet(order.wallet),
            gateway_trade_no=order.gateway_trade_no,
            created_at=datetime.fromtimestamp(order.created_at, tz=timezone.utc),
        )

    def _backoff(self, count: int) -> float:
        return min(self.settings.max_backoff, 2.0 * (2 ** min(count, 6)))

    def _new_number(self, kind: str) -> str:
        seq = self.ledger.next_sequence("refund" if kind == "R" else "order")
        return make_number(kind, self.settings.counter_id, self.now(), seq)

    # ------------------------------------------------------------------ QR
    def start_qr(self, profile: str, amount: Decimal, method: Method, subject: str = "",
                 sale_id: str | None = None) -> OrderRecord:
        gw = self.gateway(profile)
        method = Method(method)
        capability = QR_CAPABILITY.get(method)
        if capability is None or not gw.supports(capability):
            raise EngineError("engine.method_unsupported", method=_method_text(method))
        self._check_amount(gw, amount)
        limits = gw.limits
        expiry = min(max(self.settings.qr_expiry_seconds, limits.min_qr_expiry), limits.max_qr_expiry)
        now = self.now()
        out_trade_no = self._new_number("P")
        sale_id = sale_id or out_trade_no
        with self._sale_lock:
            self._refuse_if_sale_busy(sale_id)
            order = self.ledger.create_order(
                out_trade_no=out_trade_no, sale_id=sale_id, counter_id=self.settings.counter_id,
                profile=profile, gateway=gw.name, method=method.value, wallet=_qr_wallet(method).value,
                amount=amount, subject=subject, expires_at=now + expiry, actor="clerk")
        self._emit(EngineEvent("order", order=order))
        failpoint("after_order_written")
        with self._order_lock(out_trade_no):
            try:
                qr = gw.create_qr(out_trade_no, amount, method, subject or "收银台", expiry)
            except DefiniteError as exc:
                self._update(order, state=S.FAILED, action="create_rejected", reason=exc.message(),
                             detail=_err(exc))
                raise
            except UnknownOutcome as exc:
                # No QR was shown, so nobody can pay it; query to settle it, then close.
                self._update(order, state=S.UNKNOWN, action="create_unknown", reason=exc.message(),
                             next_check_at=now + self._backoff(0), detail=_err(exc))
                raise
            return self._update(
                order, state=S.PENDING, action="qr_created",
                qr=qr.qr, qr_image_url=qr.qr_image_url, amount_to_pay=qr.amount_to_pay,
                gateway_trade_no=qr.gateway_trade_no,
                next_check_at=self.now() + gw.limits.query_interval,
                detail={"amount_to_pay": format_yuan(qr.amount_to_pay)})

    def _check_amount(self, gw: Gateway, amount: Decimal) -> None:
        check_amount(amount)
        if amount < gw.limits.min_amount:
            raise AmountError("amount.too_small", minimum=format_yuan(gw.limits.min_amount))
        if amount > gw.limits.max_amount:
            raise AmountError("amount.too_large", maximum=format_yuan(gw.limits.max_amount))

    def _refuse_if_sale_busy(self, sale_id: str) -> None:
        for other in self.ledger.orders_for_sale(sale_id):
            if other.state == S.PAID:
                raise MicropayBusy("engine.sale_paid", out_trade_no=other.out_trade_no)
            if other.state in S.UNRESOLVED_ORDER_STATES and other.state != S.EXPIRED:
                raise MicropayBusy(out_trade_no=other.out_trade_no)

    # ------------------------------------------------------------------ micropay
    def start_micropay(self, profile: str, amount: Decimal, auth_code: str, *, sale_id: str | None = None,
                       subject: str = "") -> OrderRecord:
        gw = self.gateway(profile)
        code = (auth_code or "").strip()
        wallet = classify_payment_code(code)
        if wallet is None:
            raise NotAPaymentCode()
        if not gw.supports(Capability.MICROPAY):
            raise EngineError("engine.method_unsupported", method=_method_text(Method.MICROPAY))
        self._check_amount(gw, amount)
        now = self.now()
        out_trade_no = self._new_number("P")
        sale_id = sale_id or out_trade_no
        deadline = now + self.settings.micropay_deadline.get(wallet, 30.0)
        with self._sale_lock:
            self._refuse_if_sale_busy(sale_id)
            order = self.ledger.create_order(
                out_trade_no=out_trade_no, sale_id=sale_id, counter_id=self.settings.counter_id,
                profile=profile, gateway=gw.name, method=Method.MICROPAY.value, wallet=wallet.value,
                amount=amount, subject=subject, auth_code_last4=code[-4:], expires_at=deadline, actor="clerk")
        self._emit(EngineEvent("order", order=order))
        failpoint("after_order_written")
        with self._order_lock(out_trade_no):
            try:
                state = gw.micropay(out_trade_no, amount, code, wallet, subject or "收银台")
            except DefiniteError as exc:
                self._update(order, state=S.FAILED, action="micropay_rejected", reason=exc.message(),
                             detail=_err(exc))
                raise
            except UnknownOutcome as exc:
                failpoint("after_unknown_answer")
                return self._update(order, state=S.UNKNOWN, action="micropay_unknown", reason=exc.message(),
                                    next_check_at=self.now() + self.settings.micropay_query_interval,
                                    detail=_err(exc))
            failpoint("after_paid_answer")
            return self._apply_micropay_state(order, state, action="micropay_answer")

    def _apply_micropay_state(self, order: OrderRecord, state: PaymentState, *, action: str) -> OrderRecord:
        if state.status == PayStatus.PAID:
            return self._mark_paid(order, state, action=action)
        if state.status == PayStatus.FAILED:
            return self._update(order, state=S.FAILED, action=action, reason=state.reason or "",
                                next_check_at=None)
        if state.status == PayStatus.CLOSED:
            return self._update(order, state=S.CLOSED, action=action, reason=state.reason or "",
                                next_check_at=None)
        # pending / user paying / not found / unknown: keep asking until the deadline
        target = S.USERPAYING if state.user_paying else (order.state if order.state != S.SENDING else S.UNKNOWN)
        return self._update(order, state=target, action=action, reason=state.reason or order.reason,
                            gateway_trade_no=state.gateway_trade_no or order.gateway_trade_no,
                            next_check_at=self.now() + self.settings.micropay_query_interval)

    # ------------------------------------------------------------------ clerk actions
    def stop_waiting(self, out_trade_no: str, actor: str = "clerk") -> OrderRecord:
        """The clerk gives up: micropay -> query, then reverse; QR -> close (or watch)."""
        with self._order_lock(out_trade_no):
            order = self._get(out_trade_no)
            if order.state in S.FINAL_ORDER_STATES:
                return order
            if order.method == Method.MICROPAY.value:
                if order.state != S.REVERSING:
                    order = self._update(order, actor=actor, action="stop_waiting", expires_at=self.now(),
                                         next_check_at=self.now())
                return self._step_order(order)
            return self._close_qr(order, reason_key="reason.cancelled", actor=actor)

    cancel = stop_waiting

    def check(self, out_trade_no: str, actor: str = "clerk") -> OrderRecord:
        """查单: ask the gateway now (within its rate limit) and apply the answer."""
        with self._order_lock(out_trade_no):
            order = self._get(out_trade_no)
            self.ledger.record_event("order", out_trade_no, "check", actor, None)
            gw = self.gateway(order.profile)
            if not gw.supports(Capability.QUERY) or order.state in S.FINAL_ORDER_STATES:
                return order
            wait = self._gate.reserve((order.profile, "query"), gw.limits.query_interval, self.now())
            if wait > 0:
                raise EngineError("engine.check_too_soon", wait=int(wait) + 1)
            return self._query_and_apply(order, gw, reserved=True)

    def mark_checked(self, out_trade_no: str, actor: str, note: str = "") -> OrderRecord:
        """A person looked at an order the engine cannot settle (needs_check), or at one
        it only watches for a late payment (expired), and settled it by hand: paid when a
        payment was recorded, else closed. An order already final is left as it is; one
        the engine is still working on is refused (EngineError)."""
        with self._order_lock(out_trade_no):
            order = self._get(out_trade_no)
            if order.state in S.FINAL_ORDER_STATES:
                return order
            if order.state not in S.CHECKABLE_ORDER_STATES:
                raise EngineError("engine.not_checkable")
            return self._update(order, state=S.CLOSED if order.paid_amount is None else S.PAID, actor=actor,
                                action="checked_by_person", checked_by=actor, next_check_at=None,
                                detail={"note": note})

    def qr_image(self, out_trade_no: str) -> bytes:
        """The picture to show for an order whose gateway gave no link, only an image
        (its500): fetched through the gateway's HTTP layer. Blocking: call it off the
        GUI thread."""
        order = self._get(out_trade_no)
        if not order.qr_image_url:
            raise EngineError("engine.unknown_order", out_trade_no=out_trade_no)
        return self.gateway(order.profile).fetch_qr_image(order.qr_image_url)

    def needs_attention(self) -> list[OrderRecord]:
        orders = self.ledger.unresolved_orders()
        return sorted(orders, key=lambda o: o.created_at, reverse=True)

    def order(self, out_trade_no: str) -> OrderRecord:
        return self._get(out_trade_no)

    # ------------------------------------------------------------------ history
    def search_history(self, query=None, *, limit: int = 50, before=None):
        """A page of the history (Ledger.search_orders): HistoryEntry list, newest first."""
        return self.ledger.search_orders(query, limit=limit, before=before)

    def history_entry(self, out_trade_no: str):
        """One order with its refunded sums (HistoryEntry), or None."""
        return self.ledger.history_entry(out_trade_no)

    def refunds_for(self, out_trade_no: str) -> list[RefundRecord]:
        return self.ledger.refunds_for(out_trade_no)

    def _get(self, out_trade_no: str) -> OrderRecord:
        order = self.ledger.get_order(out_trade_no)
        if order is None:
            raise EngineError("engine.unknown_order", out_trade_no=out_trade_no)
        return order

    # ------------------------------------------------------------------ the scheduler
    def run_due(self) -> float | None:
        """Do every step that is due now. Returns seconds until the next one (None: idle)."""
        now = self.now()
        for order in self.ledger.due_orders(now):
            with self._order_lock(order.out_trade_no, blocking=False) as got:
                if not got:
                    continue
                fresh = self.ledger.get_order(order.out_trade_no)
                if fresh is None or fresh.next_check_at is None or fresh.next_check_at > self.now():
                    continue
                try:
                    self._step_order(fresh)
                except UserError as exc:  # ledger trouble (busy, full): try again later
                    log.warning("order %s: step failed: %s", order.out_trade_no, exc.message("en"))
                except Exception:
                    log.exception("order %s: step crashed", order.out_trade_no)
        for refund in self.ledger.due_refunds(self.now()):
            with self._order_lock("refund:" + refund.out_refund_no, blocking=False) as got:
                if not got:
                    continue
                fresh = self.ledger.get_refund(refund.out_refund_no)
                if fresh is None or fresh.next_check_at is None or fresh.next_check_at > self.now():
                    continue
                try:
                    self._step_refund(fresh)
                except UserError as exc:
                    log.warning("refund %s: step failed: %s", refund.out_refund_no, exc.message("en"))
                except Exception:
                    log.exception("refund %s: step crashed", refund.out_refund_no)
        return self._next_due()

    def _next_due(self) -> float | None:
        times = [o.next_check_at for o in self.ledger.unresolved_orders() if o.next_check_at is not None]
        times += [r.next_check_at for r in self.ledger.unresolved_refunds() if r.next_check_at is not None]
        if not times:
            return None
        return max(0.0, min(times) - self.now())

    def start(self) -> None:
        """Recover, then run the scheduler in a background thread."""
        if self._thread is not None:
            return
        self.recover()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="cashier-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_due()
            except Exception:
                log.exception("scheduler round failed")
                wait = 5.0
            self._wake.clear()
            self._wake.wait(timeout=min(wait if wait is not None else 1.0, 1.0))

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """At start-up: every order or refund not final gets its next step now."""
        resumed = []
        now = self.now()
        for order in self.ledger.unresolved_orders():
            with self._order_lock(order.out_trade_no):
                fresh = self.ledger.get_order(order.out_trade_no)
                if fresh is None or fresh.state in S.FINAL_ORDER_STATES:
                    continue
                fields: dict = {"next_check_at": now}
                state = fresh.state
                if state == S.SENDING:
                    state = S.UNKNOWN  # the request may or may not have left
                self._update(fresh, state=state, action="recovered", reason=fresh.reason, **fields)
                resumed.append(fresh.out_trade_no)
        for refund in self.ledger.unresolved_refunds():
            fresh = self.ledger.get_refund(refund.out_refund_no)
            if fresh is None or fresh.state in S.FINAL_REFUND_STATES:
                continue
            state = S.REFUND_UNKNOWN if fresh.state == S.REFUND_SENDING else fresh.state
            self._update_refund(fresh, state=state, action="recovered", next_check_at=now)
            resumed.append(fresh.out_refund_no)
        if resumed:
            log.info("recovery: resumed %d orders/refunds", len(resumed))
        return resumed

    # ------------------------------------------------------------------ order steps
    def _step_order(self, order: OrderRecord) -> OrderRecord:
        gw = self.gateway(order.profile)
        if order.method == Method.MICROPAY.value:
            return self._step_micropay(order, gw)
        return self._step_qr(order, gw)

    def _query(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> PaymentState | float:
        """Query within the rate limit. Returns the state, or seconds to wait."""
        if not reserved:
            wait = self._gate.reserve((order.profile, "query"), gw.limits.query_interval, self.now())
            if wait > 0:
                return wait
        try:
            return gw.query(self._ref(order))
        except RateLimited:
            self._gate.push_back((order.profile, "query"), self.now() + gw.limits.query_interval)
            return gw.limits.query_interval

    def _query_and_apply(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> OrderRecord:
        if order.method == Method.MICROPAY.value:
            return self._step_micropay(order, gw, reserved=reserved)
        return self._step_qr(order, gw, reserved=reserved)

    def _mark_paid(self, order: OrderRecord, state: PaymentState, *, action: str) -> OrderRecord:
        paid = state.paid_amount if state.paid_amount is not None else order.amount_to_pay
        fields = dict(paid_amount=paid,
                      paid_at=state.paid_at.timestamp() if state.paid_at else self.now(),
                      gateway_trade_no=state.gateway_trade_no or order.gateway_trade_no,
                      next_check_at=None)
        if state.wallet != Wallet.UNKNOWN:
            fields["wallet"] = state.wallet.value
        if paid != order.amount_to_pay:
            return self._update(order, state=S.NEEDS_CHECK, action=action,
                                reason=_t("reason.amount_mismatch", paid=format_yuan(paid),
                                          expected=format_yuan(order.amount_to_pay)),
                                **{**fields, "next_check_at": None})
        reason = order.reason
        if order.state in (S.EXPIRED, S.NEEDS_CHECK, S.CLOSING) or order.state == S.REVERSING:
            reason = _t("reason.late_payment")
        twin = next((o for o in self.ledger.orders_for_sale(order.sale_id)
                     if o.out_trade_no != order.out_trade_no and o.state == S.PAID), None)
        if twin is not None:
            # The same sale was paid twice (a late payment of an abandoned QR): the
            # money is taken, so it is recorded, and a person must refund one of them.
            return self._update(order, state=S.NEEDS_CHECK, action=action,
                                reason=_t("reason.double_payment", other=twin.out_trade_no), **fields)
        if state.held:
            # Paid, but the site holds the money (epay status 3): paid, with a warning.
            return self._update(order, state=S.PAID, action=HELD_ACTION, reason=_t("reason.held"), **fields)
        return self._update(order, state=S.PAID, action=action, reason=reason, **fields)

    def _step_qr(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> OrderRecord:
        now = self.now()
        if order.state == S.CLOSING:
            return self._close_qr(order, reason_key=None, actor="engine")
        if not gw.supports(Capability.QUERY):
            return self._after_unanswered(order, gw, final_if_expired=True)
        try:
            result = self._query(order, gw, reserved=reserved)
        except UnknownOutcome as exc:
            return self._error_retry(order, exc)
        except DefiniteError as exc:
            return self._error_retry(order, exc)
        if isinstance(result, float):
            return self._update_quiet(order, next_check_at=now + result)
        state = result
        if state.status in (PayStatus.PAID, PayStatus.REFUNDED):
            return self._mark_paid(order, state, action="query_paid")
        if state.status in (PayStatus.CLOSED, PayStatus.FAILED):
            return self._update(order, state=S.CLOSED, action="query_closed",
                                reason=order.reason or state.reason or _t("reason.closed_by_gateway"),
                                next_check_at=None)
        # pending / not found / unknown
        return self._after_unanswered(order, gw, not_found=state.status == PayStatus.NOT_FOUND)

    def _after_unanswered(self, order: OrderRecord, gw: Gateway, *, not_found: bool = False,
                          final_if_expired: bool = False) -> OrderRecord:
        """The order is not paid (yet). Decide the next step by its state and clock."""
        now = self.now()
        expires = order.expires_at or now
        if order.state == S.PENDING:
            if now < expires:
                return self._update_quiet(order, next_check_at=min(expires, now + gw.limits.query_interval),
                                          check_count=0)
            return self._close_qr(order, reason_key="reason.expired", actor="engine")
        if order.state == S.UNKNOWN:
            # The create's answer was lost: no QR was shown. Close it once it exists,
            # or settle as never created once its expiry has passed.
            if not_found:
                if now >= expires:
                    return self._update(order, state=S.CLOSED, action="never_created",
                                        reason=_t("reason.never_created"), next_check_at=None)
                return self._update_quiet(order, next_check_at=now + max(gw.limits.query_interval, 5.0),
                                          check_count=0)
            return self._close_qr(order, reason_key="reason.cancelled", actor="engine")
        if order.state in (S.EXPIRED, S.NEEDS_CHECK):
            watch_until = order.watch_until or expires
            if now >= watch_until:
                if order.state == S.NEEDS_CHECK:
                    return self._update_quiet(order, next_check_at=None)
                return self._update(order, state=S.CLOSED, action="watch_ended", reason=order.reason,
                                    next_check_at=None)
            interval = (self.settings.needs_check_poll_seconds if order.state == S.NEEDS_CHECK
                        else self.settings.late_payment_poll_seconds)
            return self._update_quiet(order, next_check_at=min(watch_until, now + max(interval, gw.limits.query_interval)))
        return self._update_quiet(order, next_check_at=now + gw.limits.query_interval)

    def _close_qr(self, order: OrderRecord, *, reason_key: str | None, actor: str) -> OrderRecord:
        """Close at the gateway where it can; otherwise close locally and keep watching."""
        gw = self.gateway(order.profile)
        now = self.now()
        reason = _t(reason_key) if reason_key else order.reason
        if gw.supports(Capability.CLOSE):
            if order.state != S.CLOSING:
                order = self._update(order, state=S.CLOSING, actor=actor, action="close_requested", reason=reason,
                                     next_check_at=now + self._backoff(0))
            try:
                closed = gw.close(self._ref(order))
            except (UnknownOutcome, NotSent) as exc:
                return self._error_retry(order, exc)
            except DefiniteError as exc:
                # e.g. "already paid": find out what it is
                order = self._update(order, state=S.UNKNOWN, action="close_refused", reason=exc.message(),
                                     next_check_at=self.now())
                return self._step_qr(order, gw)
            if closed:
                return self._update(order, state=S.CLOSED, action="closed", reason=reason, next_check_at=None)
            return self._error_retry(order, None)
        watch_until = now + self.settings.late_payment_watch_seconds
        return self._update(order, state=S.EXPIRED, actor=actor, action="closed_locally", reason=reason,
                            watch_until=watch_until,
                            next_check_at=now + max(self.settings.late_payment_poll_seconds, gw.limits.query_interval))

    def _error_retry(self, order: OrderRecord, exc: GatewayError | None) -> OrderRecord:
        count = order.check_count + 1
        now = self.now()
        if isinstance(exc, BadAmount) and order.state != S.NEEDS_CHECK:
            return self._flag_bad_amount(order, exc)
        if count >= self.settings.max_error_checks and order.state != S.NEEDS_CHECK:
            return self._update(order, state=S.NEEDS_CHECK, action="unreachable", reason=_t("reason.unreachable"),
                                check_count=count, watch_until=now + self.settings.late_payment_watch_seconds,
                                next_check_at=now + self.settings.needs_check_poll_seconds,
                                detail=_err(exc) if exc else None)
        return self._update_quiet(order, check_count=count, next_check_at=now + self._backoff(count),
                                  detail=_err(exc) if exc else None)

    def _flag_bad_amount(self, order: OrderRecord, exc: BadAmount) -> OrderRecord:
        """The gateway answered with an amount that cannot be booked: asking again gets
        the same answer, so a person looks at it now; the order stays watched."""
        now = self.now()
        return self._update(order, state=S.NEEDS_CHECK, action="bad_amount", reason=exc.message(),
                            watch_until=now + self.settings.late_payment_watch_seconds,
                            next_check_at=now + self.settings.needs_check_poll_seconds, detail=_err(exc))

    def _update_quiet(self, order: OrderRecord, *, detail: dict | None = None, **fields) -> OrderRecord:
        """A scheduling change without a state change. A plain poll leaves no event
        row (it would flood the audit log); a gateway error does."""
        if detail is None and set(fields) <= {"next_check_at", "check_count"}:
            return self.ledger.reschedule_order(order.out_trade_no, expect=order.state,
                                                next_check_at=fields.get("next_check_at"),
                                                check_count=fields.get("check_count"))
        new = self.ledger.update_order(order.out_trade_no, expect=order.state, actor="engine",
                                       action="reschedule" if detail is None else "gateway_error",
                                       detail=detail, **fields)
        if detail is not None:
            self._emit(EngineEvent("order", order=new))
        return new

    # ------------------------------------------------------------------ micropay steps
    def _step_micropay(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> OrderRecord:
        now = self.now()
        if order.state == S.REVERSING:
            return self._reverse(order, gw)
        deadline = order.expires_at or now
        if order.state == S.NEEDS_CHECK:
            # Keep watching: a late confirmation is money taken.
            pass
        result: PaymentState | float | None
        try:
            result = self._query(order, gw, reserved=reserved) if gw.supports(Capability.QUERY) else None
        except (UnknownOutcome, DefiniteError) as exc:
            if isinstance(exc, BadAmount) and order.state != S.NEEDS_CHECK:
                return self._flag_bad_amount(order, exc)
            result = None
            log.info("micropay %s: query failed (%s)", order.out_trade_no, type(exc).__name__)
        if isinstance(result, PaymentState):
            if result.status in (PayStatus.PAID, PayStatus.REFUNDED):
                return self._mark_paid(order, result, action="query_paid")
            if result.status in (PayStatus.FAILED, PayStatus.CLOSED):
                return self._update(order, state=S.FAILED if result.status == PayStatus.FAILED else S.CLOSED,
                                    action="query_final", reason=result.reason or order.reason, next_check_at=None)
        if order.state == S.NEEDS_CHECK:
            return self._after_unanswered(order, gw)
        if isinstance(result, float):
            # Not allowed to query yet: come back then (the reverse follows a query).
            return self._update_quiet(order, next_check_at=now + result)
        if isinstance(result, PaymentState) and result.user_paying and order.state == S.UNKNOWN:
            order = self._update(order, state=S.USERPAYING, action="query_userpaying",
                                 gateway_trade_no=result.gateway_trade_no or order.gateway_trade_no)
        if now < deadline:
            return self._update_quiet(order, next_check_at=min(deadline, now + self.settings.micropay_query_interval))
        # The deadline has passed and the last query did not say paid: reverse now.
        return self._begin_reverse(order, gw)

    def _begin_reverse(self, order: OrderRecord, gw: Gateway) -> OrderRecord:
        now = self.now()
        if not gw.supports(Capability.REVERSE):
            return self._update(order, state=S.NEEDS_CHECK, action="cannot_reverse", reason=_t("reason.cannot_reverse"),
                                watch_until=now + self.settings.late_payment_watch_seconds,
                                next_check_at=now + self.settings.needs_check_poll_seconds)
        if Wallet(order.wallet) == Wallet.WECHAT:
            earliest = order.created_at + self.settings.wechat_min_reverse_after
            if now < earliest:  # WeChat: never reverse earlier than 15 s after the pay call
                return self._update_quiet(order, next_check_at=earliest)
        order = self._update(order, state=S.REVERSING, action="reverse_requested", check_count=0,
                             next_check_at=now + self.settings.reverse_retry_interval)
        failpoint("after_reverse_written")
        return self._reverse(order, gw)

    def _reverse(self, order: OrderRecord, gw: Gateway) -> OrderRecord:
        attempts = order.check_count + 1
        try:
            result = gw.reverse(self._ref(order))
        except (UnknownOutcome, DefiniteError) as exc:
            if attempts >= self.settings.max_reverse_attempts:
                return self._update(order, state=S.NEEDS_CHECK, action="reverse_failed",
                                    reason=_t("reason.reverse_failed", reason=exc.message()), check_count=attempts,
                                    watch_until=self.now() + self.settings.late_payment_watch_seconds,
                                    next_check_at=self.now() + self.settings.needs_check_poll_seconds,
                                    detail=_err(exc))
            return self._update_quiet(order, check_count=attempts,
                                      next_check_at=self.now() + self.settings.reverse_retry_interval,
                                      detail=_err(exc))
        if result.done:
            return self._update(order, state=S.REVERSED, action="reversed", reason=_t("reason.reversed"),
                                next_check_at=None, check_count=attempts)
        if attempts >= self.settings.max_reverse_attempts:
            return self._update(order, state=S.NEEDS_CHECK, action="reverse_failed",
                                reason=_t("reason.reverse_failed", reason=result.reason or ""), check_count=attempts,
                                watch_until=self.now() + self.settings.late_payment_watch_seconds,
                                next_check_at=self.now() + self.settings.needs_check_poll_seconds)
        # recall=Y: the gateway asks us to call reverse again
        return self._update_quiet(order, check_count=attempts,
                                  next_check_at=self.now() + self.settings.reverse_retry_interval,
                                  detail={"retry": result.retry, "reason": result.reason})

    # ------------------------------------------------------------------ refunds
    def refundable(self, out_trade_no: str) -> Decimal:
        return self.ledger.refundable(out_trade_no)

    def refund(self, out_trade_no: str, amount: Decimal, reason: str, actor: str) -> RefundRecord:
        check_amount(amount)
        with self._order_lock(out_trade_no):
            order = self._get(out_trade_no)
            gw = self.gateway(order.profile)
            if not gw.supports(Capability.REFUND):
                raise EngineError("engine.refund_manual")
            if order.state != S.PAID:
                raise EngineError("engine.not_paid")
            self._check_refund_rules(order, gw)
            out_refund_no = self._new_number("R")
            refund = self.ledger.create_refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                                               amount=amount, reason=reason, actor=actor)
            self._emit(EngineEvent("refund", refund=refund))
            failpoint("after_refund_written")
            return self._send_refund(refund, order, gw)

    def _check_refund_rules(self, order: OrderRecord, gw: Gateway) -> None:
        limits = gw.limits
        now = self.now()
        existing = [r for r in self.ledger.refunds_for(order.out_trade_no) if r.state != S.REFUND_FAILED]
        if limits.max_partial_refunds is not None and len(existing) >= limits.max_partial_refunds:
            raise EngineError("engine.refund_too_many", count=limits.max_partial_refunds)
        if limits.refund_max_age_days is not None and order.paid_at is not None:
            if now - order.paid_at > limits.refund_max_age_days * 86400:
                raise EngineError("engine.refund_too_old", days=limits.refund_max_age_days)
        spacing = limits.refund_spacing.get(Wallet(order.wallet), 0.0) if limits.refund_spacing else 0.0
        if spacing and existing:
            last = max(r.created_at for r in existing)
            if now - last < spacing:
                raise EngineError("engine.refund_too_soon", seconds=int(spacing), wait=int(spacing - (now - last)) + 1)

    def _send_refund(self, refund: RefundRecord, order: OrderRecord, gw: Gateway) -> RefundRecord:
        try:
            state = gw.refund(self._ref(order), refund.out_refund_no, refund.amount, refund.reason or "")
        except DefiniteError as exc:
            self._update_refund(refund, state=S.REFUND_FAILED, action="refund_rejected", failure_reason=exc.message(),
                                next_check_at=None, detail=_err(exc))
            raise
        except UnknownOutcome as exc:
            return self._update_refund(refund, state=S.REFUND_UNKNOWN, action="refund_unknown", failure_reason=exc.message(),
                                       next_check_at=self.now() + self.settings.refund_retry_interval,
                                       detail=_err(exc))
        return self._apply_refund_state(refund, state, gw, action="refund_answer")

    def _apply_refund_state(self, refund: RefundRecord, state: RefundState, gw: Gateway, *, action: str) -> RefundRecord:
        if state.status == RefundStatus.SUCCEEDED:
            return self._update_refund(refund, state=S.REFUND_SUCCEEDED, action=action,
                                       gateway_refund_no=state.gateway_refund_no or refund.gateway_refund_no,
                                       finished_at=state.finished_at.timestamp() if state.finished_at else self.now(),
                                       next_check_at=None)
        if state.status == RefundStatus.FAILED:
            return self._update_refund(refund, state=S.REFUND_FAILED, action=action, failure_reason=state.reason or "",
                                       next_check_at=None)
        first = refund.state in (S.REFUND_SENDING, S.REFUND_UNKNOWN)
        delay = gw.limits.refund_first_query_after if first else gw.limits.refund_query_interval
        return self._update_refund(refund, state=S.REFUND_PROCESSING, action=action,
                                   gateway_refund_no=state.gateway_refund_no or refund.gateway_refund_no,
                                   next_check_at=self.now() + delay)

    def check_refund(self, out_refund_no: str, actor: str = "clerk") -> RefundRecord:
        """Ask the gateway about a refund now (within its rate limit)."""
        with self._order_lock("refund:" + out_refund_no):
            refund = self.ledger.get_refund(out_refund_no)
            if refund is None:
                raise EngineError("engine.unknown_order", out_trade_no=out_refund_no)
            self.ledger.record_event("refund", out_refund_no, "check", actor, None)
            if refund.state in S.FINAL_REFUND_STATES:
                return refund
            order = self._get(refund.out_trade_no)
            gw = self.gateway(order.profile)
            if gw.supports(Capability.REFUND_QUERY):
                wait = self._gate.reserve((order.profile, "refund_query"), gw.limits.refund_query_interval, self.now())
                if wait > 0:
                    raise EngineError("engine.check_too_soon", wait=int(wait) + 1)
            return self._step_refund(refund, reserved=True)

    def _step_refund(self, refund: RefundRecord, *, reserved: bool = False) -> RefundRecord:
        order = self._get(refund.out_trade_no)
        gw = self.gateway(order.profile)
        now = self.now()
        if not gw.supports(Capability.REFUND_QUERY):
            return self._update_refund(refund, state=S.REFUND_NEEDS_CHECK, action="unknown_no_query",
                                       failure_reason=_t("reason.refund_unknown_no_query"), next_check_at=None)
        wait = 0.0 if reserved else self._gate.reserve((order.profile, "refund_query"),
                                                       gw.limits.refund_query_interval, now)
        if wait > 0:
            return self.ledger.update_refund(refund.out_refund_no, expect=refund.state, actor="engine",
                                             action="reschedule", next_check_at=now + wait)
        try:
            state = gw.refund_query(self._ref(order), refund.out_refund_no, amount=refund.amount)
        except RateLimited:
            self._gate.push_back((order.profile, "refund_query"), now + gw.limits.refund_query_interval)
            return self.ledger.update_refund(refund.out_refund_no, expect=refund.state, actor="engine",
                                             action="reschedule", next_check_at=now + gw.limits.refund_query_interval)
        except DefiniteError as exc:
            if refund.state == S.REFUND_UNKNOWN and _is_not_found(exc):
                # The refund never reached the gateway: send it again with the SAME number.
                return self._send_refund(refund, order, gw)
            return self._refund_retry(refund, exc)
        except UnknownOutcome as exc:
            return self._refund_retry(refund, exc)
        if (refund.state == S.REFUND_UNKNOWN and state.status == RefundStatus.FAILED
                and refund.check_count < 3):
            # The gateway has no such refund: our request never reached it. Send it
            # again with the SAME number, so that it can only ever be refunded once.
            refund = self.ledger.update_refund(refund.out_refund_no, expect=refund.state, actor="engine",
                                               action="resend", check_count=refund.check_count + 1)
            return self._send_refund(refund, order, gw)
        return self._apply_refund_state(refund, state, gw, action="refund_query")

    def _refund_retry(self, refund: RefundRecord, exc: GatewayError) -> RefundRecord:
        count = refund.check_count + 1
        now = self.now()
        if isinstance(exc, BadAmount):  # an amount the books cannot hold: a person checks it now
            return self._update_refund(refund, state=S.REFUND_NEEDS_CHECK, action="bad_amount",
                                       failure_reason=exc.message(), check_count=count,
                                       next_check_at=None, detail=_err(exc))
        if count >= self.settings.max_error_checks:
            return self._update_refund(refund, state=S.REFUND_NEEDS_CHECK, action="unreachable",
                                       failure_reason=_t("reason.unreachable"), check_count=count,
                                       next_check_at=None, detail=_err(exc))
        return self._update_refund(refund, action="gateway_error", check_count=count,
                                   next_check_at=now + self._backoff(count), detail=_err(exc))

    # ------------------------------------------------------------------ notifications
    def apply_notification(self, profile: str, note: Notification) -> bool:
        """Apply a verified notification idempotently. Returns True when it was
        accepted (ours, amount right), False otherwise (the caller answers FAIL)."""
        order = self.ledger.get_order(note.out_trade_no)
        if order is None or order.profile != profile:
            log.warning("notification for an order that is not ours")
            return False
        try:
            check_notification_against(note, {order.out_trade_no: order.amount_to_pay})
        except NotificationError as exc:
            self.ledger.record_event("order", order.out_trade_no, "notification_rejected", "gateway",
                                     {"reason": exc.message("en")})
            return False
        with self._order_lock(order.out_trade_no):
            order = self._get(note.out_trade_no)
            self.ledger.record_event("order", order.out_trade_no, "notification", "gateway",
                                     {"kind": note.kind, "paid": note.paid})
            if note.kind == "refund":
                if note.out_refund_no:
                    refund = self.ledger.get_refund(note.out_refund_no)
                    if refund is not None and refund.state not in S.FINAL_REFUND_STATES:
                        self._update_refund(refund, action="notification", next_check_at=self.now())
                return True
            if order.state == S.PAID or not note.paid:
                return True
            if order.state in S.FINAL_ORDER_STATES:
                # Paid after we settled it as unpaid: a late payment. Confirm by query.
                self._update(order, state=S.UNKNOWN, action="late_payment_notified", next_check_at=self.now(),
                             watch_until=self.now() + self.settings.late_payment_watch_seconds)
                return True
            if note.needs_confirmation:
                # Unsigned (its500): never trusted on its own; confirm by query now.
                self._update_quiet(order, next_check_at=self.now())
                return True
            state = PaymentState(status=PayStatus.PAID, out_trade_no=note.out_trade_no, paid_amount=note.amount,
                                 paid_at=note.paid_at, gateway_trade_no=note.gateway_trade_no, wallet=note.wallet)
            self._mark_paid(order, state, action="notified_paid")
            return True


def is_held(order: OrderRecord) -> bool:
    """Paid, but the payment site holds (froze) the money: shown with a warning."""
    return order.state == S.PAID and bool(order.reason) and order.reason in (
        _t("reason.held", lang="zh_CN"), _t("reason.held", lang="en"))


def _is_not_found(exc: GatewayError) -> bool:
    return exc.key in ("gw.refund_not_found",) or (exc.gateway_code or "") in ("12004", "not_found")


def _qr_wallet(method: Method) -> Wallet:
    return {Method.WECHAT: Wallet.WECHAT, Method.ALIPAY: Wallet.ALIPAY, Method.QQ: Wallet.QQ}.get(method, Wallet.UNKNOWN)


def _method_text(method: Method) -> str:
    return _t(f"method.{method.value}")


def _t(key: str, **params) -> str:
    from cashier.i18n import tr

    return tr(key, **params)


def _err(exc: BaseException | None) -> dict | None:
    if exc is None:
        return None
    out = {"error": type(exc).__name__}
    if isinstance(exc, UserError):
        out["message"] = exc.message("en")
    if isinstance(exc, GatewayError) and exc.gateway_code:
        out["gateway_code"] = exc.gateway_code
    return out
