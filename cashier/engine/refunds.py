"""Refunds: send, follow, re-send with the same number when the gateway never got it.
A mixin of cashier.engine.core.Engine: the I/O and the ledger writes are here, the
choices in cashier.engine.decisions."""

from __future__ import annotations

from decimal import Decimal

from cashier.engine import decisions as D
from cashier.engine.failpoints import failpoint
from cashier.engine.types import EngineError, EngineEvent
from cashier.gateways.base import (
    AlreadyExists,
    Capability,
    DefiniteError,
    Gateway,
    GatewayError,
    RateLimited,
    UnknownOutcome,
)
from cashier.ledger import OrderRecord, RefundRecord, StateConflict
from cashier.ledger import states as S
from cashier.money import check_amount


class RefundFlows:
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
            refusal = D.refund_refusal(order, self.ledger.refunds_for(out_trade_no), gw.limits, self.now())
            if refusal is not None:
                raise EngineError(refusal[0], **refusal[1])
            lease_until = self._lease_until()
            refund = self.ledger.create_refund(out_refund_no=self._new_number("R"), out_trade_no=out_trade_no,
                                               amount=amount, reason=reason, actor=actor, owner=self.owner,
                                               counter_id=self.settings.counter_id,
                                               lease_until=lease_until, next_check_at=lease_until)
            self._emit(EngineEvent("refund", refund=refund))
            failpoint("after_refund_written")
            try:
                if not self.ledger.hold("refund", refund.out_refund_no, self.owner, self._lease_until(),
                                        S.REFUND_SENDING):
                    return self._refund_taken_over(refund.out_refund_no)  # it must not leave now
                return self._send_refund(refund, order, gw)
            except StateConflict:
                return self._refund_taken_over(refund.out_refund_no)
            finally:
                self.ledger.release("refund", refund.out_refund_no, self.owner)

    def _refund_taken_over(self, out_refund_no: str) -> RefundRecord:
        """Another process took it over while this one stalled: report what the ledger says."""
        return self.ledger.get_refund(out_refund_no)

    def _send_refund(self, refund: RefundRecord, order: OrderRecord, gw: Gateway) -> RefundRecord:
        try:
            result = gw.refund(self._ref(order), refund.out_refund_no, refund.amount, refund.reason or "")
        except (DefiniteError, UnknownOutcome, AlreadyExists) as exc:
            written = self._write_refund(refund, D.refund_sent(refund, exc, self.now(), gw.limits, self.settings),
                                         action="refund_sent")
            if isinstance(exc, DefiniteError):
                raise
            return written
        return self._write_refund(refund, D.refund_sent(refund, result, self.now(), gw.limits, self.settings),
                                  action="refund_answer")

    def check_refund(self, out_refund_no: str, actor: str = "clerk") -> RefundRecord:
        """Ask the gateway about a refund now (within its rate limit)."""
        if self.ledger.get_refund(out_refund_no) is None:
            raise EngineError("engine.unknown_order", out_trade_no=out_refund_no)
        with self._order_lock("refund:" + out_refund_no), \
                self._claimed("refund", out_refund_no, wait=self.settings.claim_wait_seconds) as claim:
            if claim is None:
                raise EngineError("engine.busy_elsewhere", number=out_refund_no)
            refund = claim[0]
            self.ledger.record_event("refund", out_refund_no, "check", actor, None)
            if refund.state in S.FINAL_REFUND_STATES:
                return refund
            gw = self.gateway(self._get(refund.out_trade_no).profile)
            if gw.supports(Capability.REFUND_QUERY):
                wait = self._reserve(gw, "refund_query", gw.limits.refund_query_interval)
                if wait > 0:
                    raise EngineError("engine.check_too_soon", wait=int(wait) + 1)
            return self._step_refund(refund, reserved=True)

    def _step_refund(self, refund: RefundRecord, *, reserved: bool = False) -> RefundRecord:
        """One step of a refund this process has claimed."""
        if refund.state == S.REFUND_SENDING:  # its sender is gone or its lease ran out
            refund = self._write_refund(refund, D.Decision(S.R_TAKEN_OVER, {"next_check_at": self.now()},
                                                           audit=True), action="taken_over")
        order = self._get(refund.out_trade_no)
        gw = self.gateway(order.profile)
        now = self.now()
        if not gw.supports(Capability.REFUND_QUERY):
            return self._write_refund(refund, D.refund_without_query(refund), action="unknown_no_query")

        def ask():
            try:
                return gw.refund_query(self._ref(order), refund.out_refund_no, amount=refund.amount)
            except GatewayError as exc:
                if isinstance(exc, RateLimited):
                    raise  # counted by _call_limited: come back after the interval
                return exc

        result = self._call_limited(gw, "refund_query", gw.limits.refund_query_interval, ask, reserved=reserved)
        if isinstance(result, float):
            return self._write_refund(refund, D.reschedule(now + result))
        decision = D.refund_queried(refund, result, self.now(), gw.limits, self.settings,
                                    self.ledger.refunds_for(refund.out_trade_no))
        refund = self._write_refund(refund, decision, action="refund_query")
        if decision.then == D.RESEND_REFUND:
            return self._send_refund(refund, order, gw)
        return refund
