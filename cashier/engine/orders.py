"""Payments: the QR flow (create, poll, expire or cancel and watch) and the micropay
flow (pay, query, reverse at the deadline). A mixin of cashier.engine.core.Engine:
the I/O and the ledger writes are here, the choices in cashier.engine.decisions."""

from __future__ import annotations

import logging
from decimal import Decimal

from cashier.engine import decisions as D
from cashier.engine.failpoints import failpoint
from cashier.engine.types import CheckAnswer, EngineError, EngineEvent, MicropayBusy, NotAPaymentCode
from cashier.gateways.base import (
    QR_CAPABILITY,
    AlreadyExists,
    BadAmount,
    Capability,
    DefiniteError,
    Gateway,
    GatewayError,
    Method,
    PaymentState,
    UnknownOutcome,
    Wallet,
)
from cashier.ledger import OrderRecord, StateConflict
from cashier.ledger import states as S
from cashier.money import AmountError, check_amount, format_yuan
from cashier.scanner import classify_payment_code

log = logging.getLogger("cashier.engine")


def _qr_wallet(method: Method) -> Wallet:
    return {Method.WECHAT: Wallet.WECHAT, Method.ALIPAY: Wallet.ALIPAY, Method.QQ: Wallet.QQ}.get(method, Wallet.UNKNOWN)


def _method_text(method: Method) -> str:
    from cashier.i18n import tr

    return tr(f"method.{method.value}")


class OrderFlows:
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
        order = self._create(profile, gw, sale_id, amount=amount, subject=subject, method=method.value,
                             wallet=_qr_wallet(method).value, expires_at=self.now() + expiry)
        with self._order_lock(order.out_trade_no):
            try:
                if not self._still_sending(order):
                    return self._taken_over(order.out_trade_no)
                try:
                    qr = gw.create_qr(order.out_trade_no, amount, method, subject or "收银台", expiry)
                except (UnknownOutcome, DefiniteError, AlreadyExists) as exc:
                    # Unknown: no QR was shown, so nobody can pay it; query to settle it.
                    self._write(order, D.create_failed(exc, self.now(), self.settings.max_backoff),
                                action="create_rejected" if isinstance(exc, DefiniteError) else "create_unknown")
                    raise
                return self._write(order, D.Decision(S.QR_SHOWN, {
                    "qr": qr.qr, "qr_image_url": qr.qr_image_url, "amount_to_pay": qr.amount_to_pay,
                    "gateway_trade_no": qr.gateway_trade_no,
                    **D.create_answered(self.now(), gw.limits.query_interval)},
                    detail={"amount_to_pay": format_yuan(qr.amount_to_pay)}), action="qr_created")
            except StateConflict:
                return self._taken_over(order.out_trade_no)
            finally:
                self.ledger.release("order", order.out_trade_no, self.owner)

    def _create(self, profile: str, gw: Gateway, sale_id: str | None, **values) -> OrderRecord:
        """Write the attempt ("sending", owned by this process) before its request leaves."""
        out_trade_no = self._new_number("P")
        sale_id = sale_id or out_trade_no
        lease_until = self._lease_until()
        with self._sale_lock:
            self._refuse_if_sale_busy(sale_id)
            order = self.ledger.create_order(
                out_trade_no=out_trade_no, sale_id=sale_id, counter_id=self.settings.counter_id,
                profile=profile, gateway=gw.name, actor="clerk", owner=self.owner, lease_until=lease_until,
                next_check_at=lease_until, **values)
        with self._clerk_lock:
            self._on_screen = out_trade_no  # the clerk waits on this one now: its queries come first
        self._emit(EngineEvent("order", order=order))
        failpoint("after_order_written")
        return order

    def _still_sending(self, order: OrderRecord) -> bool:
        """Right before the request leaves: is the attempt still ours? A process that
        stalled past its lease after writing it may have been taken over (and the
        attempt settled as never sent): then the request must not leave at all."""
        return self.ledger.hold("order", order.out_trade_no, self.owner, self._lease_until(), S.SENDING)

    def _taken_over(self, out_trade_no: str) -> OrderRecord:
        """Another process took this attempt over while its answer was on the way (this
        process stalled past its lease). Its truth is in the ledger: report that, never
        a bare error; the caller follows the order until it is settled."""
        log.warning("order %s was taken over by another process; following it", out_trade_no)
        return self._get(out_trade_no)

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
            if other.state in S.UNRESOLVED_ORDER_STATES and other.state not in (S.EXPIRED, S.CANCELLED):
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
        deadline = self.now() + self.settings.micropay_deadline.get(wallet, 30.0)
        order = self._create(profile, gw, sale_id, amount=amount, subject=subject, method=Method.MICROPAY.value,
                             wallet=wallet.value, auth_code_last4=code[-4:], expires_at=deadline)
        with self._order_lock(order.out_trade_no):
            try:
                if not self._still_sending(order):
                    return self._taken_over(order.out_trade_no)
                try:
                    state = gw.micropay(order.out_trade_no, amount, code, wallet, subject or "收银台")
                except (UnknownOutcome, DefiniteError, AlreadyExists) as exc:
                    decision = D.create_failed(exc, self.now(), self.settings.max_backoff)
                    if decision.event == S.ANSWER_LOST:
                        failpoint("after_unknown_answer")
                        decision = D.Decision(decision.event, {**decision.fields,
                                              "next_check_at": self.now() + self.settings.micropay_query_interval},
                                              detail=decision.detail)
                        return self._write(order, decision, action="micropay_unknown")
                    self._write(order, decision, action="micropay_rejected")
                    raise
                failpoint("after_paid_answer")
                decision = D.micropay_answer(order, state, self.now(), self.settings, self._twin(order))
                return self._write(order, decision, action="micropay_answer")
            except StateConflict:
                return self._taken_over(order.out_trade_no)
            finally:
                self.ledger.release("order", order.out_trade_no, self.owner)

    # ------------------------------------------------------------------ clerk actions
    def stop_waiting(self, out_trade_no: str, actor: str = "clerk") -> OrderRecord:
        """The clerk gives up: micropay -> query, then reverse; QR -> cancel and watch quietly."""
        with self._order_lock(out_trade_no), self._clerk_claim(out_trade_no) as order:
            if order.state in S.FINAL_ORDER_STATES:
                return order
            if order.method == Method.MICROPAY.value:
                if order.state not in (S.REVERSING, S.NEEDS_CHECK):
                    order = self.ledger.update_order(out_trade_no, expect=order.state, owner=self.owner, actor=actor,
                                                     action="stop_waiting", expires_at=self.now(),
                                                     next_check_at=self.now())
                return self._step_order(order)
            if order.state not in (S.PENDING, S.UNKNOWN):
                return order  # already given up, or a person's to settle
            gw = self.gateway(order.profile)
            decision = D.give_up_qr(self.now(), cancelled=True, query_interval=gw.limits.query_interval,
                                    settings=self.settings, payable_until=D.payable_until(order, gw.limits))
            return self._write(order, decision, actor=actor, action="cancelled")

    cancel = stop_waiting

    def _clerk_claim(self, out_trade_no: str):
        """A clerk's action waits a little for another process's step to end."""
        from contextlib import contextmanager

        @contextmanager
        def claimed():
            self._get(out_trade_no)
            with self._claimed("order", out_trade_no, wait=self.settings.claim_wait_seconds) as claim:
                if claim is None:
                    raise EngineError("engine.busy_elsewhere", number=out_trade_no)
                order, _ = claim
                if order.state == S.SENDING:  # its sender is gone: query before anything else
                    order = self._write(order, D.Decision(S.TAKEN_OVER, {"next_check_at": self.now()}, audit=True))
                yield order

        return claimed()

    def check(self, out_trade_no: str, actor: str = "clerk") -> OrderRecord:
        """查单: ask the gateway now and apply the answer. When the merchant's query slot
        is taken: EngineError engine.check_too_soon (cashier-cli waits and asks again)."""
        return self._check(out_trade_no, actor, queue=False).order

    def check_soon(self, out_trade_no: str, actor: str = "clerk") -> CheckAnswer:
        """查单 from a screen the clerk waits on; never "too soon". The slot free: asked
        now. Taken, and this order was answered within the slot's interval: that answer
        (no fresher one is allowed). Otherwise queued for the next slot, before every
        other order of the merchant; the answer then comes as an order event."""
        return self._check(out_trade_no, actor, queue=True)

    def _check(self, out_trade_no: str, actor: str, *, queue: bool) -> CheckAnswer:
        with self._order_lock(out_trade_no), self._clerk_claim(out_trade_no) as order:
            self.ledger.record_event("order", out_trade_no, "check", actor, None)
            now = self.now()
            gw = self.gateway(order.profile)
            if not gw.supports(Capability.QUERY) or order.state in S.FINAL_ORDER_STATES:
                return CheckAnswer(order, asked_at=now)
            interval = gw.limits.query_interval
            wait = self._reserve(gw, "query", interval)
            if wait <= 0:
                order = self._step_order(order, reserved=True)
                last = self.last_query(out_trade_no)
                if last is None or last.at < now:  # no query went out (a reverse was due, say)
                    return CheckAnswer(order, asked_at=now)
                return CheckAnswer(order, asked_at=now, queried_at=last.at, answered=last.answered)
            if not queue:
                raise EngineError("engine.check_too_soon", wait=int(wait) + 1)
            last = self.last_query(out_trade_no)
            if last is not None and last.answered and now - last.at < interval:
                return CheckAnswer(order, asked_at=now, queried_at=last.at)
            due = now + wait
            self._ask_soon(out_trade_no)
            if order.next_check_at is None or order.next_check_at > due:
                order = self._write(order, D.reschedule(due))
            self._wake.set()
            return CheckAnswer(order, asked_at=now, due_at=due)

    def mark_checked(self, out_trade_no: str, actor: str, note: str = "") -> OrderRecord:
        """A person looked at an order the engine cannot settle (needs_check), or at one
        it only watches for a late payment (expired, cancelled), and settled it by hand:
        paid when a payment was recorded, else closed. An order already final is left as
        it is; one the engine is still working on is refused (EngineError)."""
        with self._order_lock(out_trade_no), self._clerk_claim(out_trade_no) as order:
            if order.state in S.FINAL_ORDER_STATES:
                return order
            if order.state not in S.CHECKABLE_ORDER_STATES:
                raise EngineError("engine.not_checkable")
            event = S.CHECKED_UNPAID if order.paid_amount is None else S.CHECKED_PAID
            return self._write(order, D.Decision(event, {"checked_by": actor, "next_check_at": None},
                                                 detail={"note": note}), actor=actor, action="checked_by_person")

    def needs_attention(self) -> list[OrderRecord]:
        """Unresolved orders a person should see (a cancelled one only once money came)."""
        orders = [o for o in self.ledger.unresolved_orders() if o.state in S.ATTENTION_ORDER_STATES]
        return sorted(orders, key=lambda o: o.created_at, reverse=True)

    # ------------------------------------------------------------------ steps
    def _step_order(self, order: OrderRecord, *, reserved: bool = False) -> OrderRecord:
        """One step of an order this process has claimed."""
        if order.state == S.SENDING:  # claimed: its sender is gone or its lease ran out
            order = self._write(order, D.Decision(S.TAKEN_OVER, {"next_check_at": self.now()}, audit=True),
                                action="taken_over")
        gw = self.gateway(order.profile)
        before = self.last_query(order.out_trade_no)
        if order.method == Method.MICROPAY.value:
            order = self._step_micropay(order, gw, reserved=reserved)
        else:
            order = self._step_qr(order, gw, reserved=reserved)
        self._asked_done(before, order)
        return order

    def _query(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> PaymentState | float:
        """Query within the merchant's rate limit. Returns the state, or seconds to wait."""
        return self._call_limited(gw, "query", gw.limits.query_interval, lambda: gw.query(self._ref(order)),
                                  reserved=reserved)

    def _step_qr(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> OrderRecord:
        now = self.now()
        if not gw.supports(Capability.QUERY):
            return self._write(order, D.qr_next(order, None, now, gw.limits, self.settings))
        try:
            result = self._query(order, gw, reserved=reserved)
        except GatewayError as exc:
            self._note_query(order.out_trade_no, answered=False)
            return self._write(order, D.error_next(order, exc, self.now(), self.settings))
        if isinstance(result, float):
            return self._write(order, D.reschedule(now + result))
        self._note_query(order.out_trade_no, answered=True)
        return self._write(order, D.qr_next(order, result, self.now(), gw.limits, self.settings, self._twin(order)),
                           action="query")

    def _step_micropay(self, order: OrderRecord, gw: Gateway, *, reserved: bool = False) -> OrderRecord:
        if order.state == S.REVERSING:
            return self._reverse(order, gw)
        result: PaymentState | float | None = None
        if gw.supports(Capability.QUERY):
            try:
                result = self._query(order, gw, reserved=reserved)
            except BadAmount as exc:
                self._note_query(order.out_trade_no, answered=False)
                if order.state != S.NEEDS_CHECK:
                    return self._write(order, D.error_next(order, exc, self.now(), self.settings))
            except GatewayError as exc:
                self._note_query(order.out_trade_no, answered=False)
                log.info("micropay %s: query failed (%s)", order.out_trade_no, type(exc).__name__)
            else:
                if not isinstance(result, float):
                    self._note_query(order.out_trade_no, answered=True)
        decision = D.micropay_next(order, result, self.now(), self.settings,
                                   can_reverse=gw.supports(Capability.REVERSE), twin=self._twin(order),
                                   limits=gw.limits)
        order = self._write(order, decision, action="query" if decision.event else None)
        if decision.then == D.SEND_REVERSE:
            failpoint("after_reverse_written")
            return self._reverse(order, gw)
        return order

    def _reverse(self, order: OrderRecord, gw: Gateway) -> OrderRecord:
        try:
            result = gw.reverse(self._ref(order))
        except GatewayError as exc:
            result = exc
        return self._write(order, D.reverse_next(order, result, self.now(), self.settings))
