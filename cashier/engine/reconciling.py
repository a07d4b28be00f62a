"""The engine's side of reconciliation (对账): queries and order lists within the same
rate-limit slots as the scheduler, and the manager's "record the payment" going
through the state machine.

A final order never leaves its state (the machine has no exit from paid, closed,
reversed or failed). So money the gateway took for an order we closed is recorded as
a new, audited correction row "<number>-R" (paid), linked to the original; an order
still watched (expired, cancelled, needs_check) takes the ordinary "paid" event.
"""

from __future__ import annotations

from decimal import Decimal

from cashier.engine import decisions as D
from cashier.engine.types import EngineEvent
from cashier.gateways.base import Method, Wallet
from cashier.ledger import OrderRecord, RefundRecord
from cashier.ledger import states as S

CORRECTION_SUFFIX = "-R"
_METHOD_OF_WALLET = {Wallet.WECHAT: Method.WECHAT.value, Wallet.ALIPAY: Method.ALIPAY.value,
                     Wallet.QQ: Method.QQ.value}


class ReconcileFlows:
    def reconcile_query(self, order: OrderRecord):
        """Ask the gateway about any order, final ones too, within the scheduler's
        query slot, WITHOUT applying the answer (reconciliation only compares).
        Returns the PaymentState, or seconds to wait for the slot."""
        return self._query(order, self.gateway(order.profile))

    def reconcile_list(self, profile: str, page: int, limit: int = 50):
        """A page of the gateway's order list (Capability.LIST_ORDERS) within the
        gateway's query spacing; or seconds to wait."""
        gw = self.gateway(profile)
        return self._call_limited(gw, "list_orders", gw.limits.query_interval, lambda: gw.list_orders(page, limit))

    def _reconciled_fields(self, paid_amount: Decimal, paid_at: float | None, gateway_trade_no: str | None,
                           actor: str, note: str) -> dict:
        return {"paid_amount": paid_amount, "paid_at": paid_at or self.now(), "gateway_trade_no": gateway_trade_no,
                "next_check_at": None, "checked_by": actor, **D.why("recon.reason.recorded", note)}

    def record_reconciled_payment(self, out_trade_no: str, *, paid_amount: Decimal, actor: str, note: str,
                                  paid_at: float | None = None, gateway_trade_no: str | None = None,
                                  detail: dict | None = None) -> OrderRecord:
        """A manager records what reconciliation found at the gateway: money for this
        order. Returns the row that now holds the payment."""
        with self._order_lock(out_trade_no):
            order = self._get(out_trade_no)
            fields = self._reconciled_fields(paid_amount, paid_at, gateway_trade_no or order.gateway_trade_no,
                                             actor, note)
            if order.state == S.PAID:  # the amount differs: the gateway's figure, no state change
                new = self.ledger.update_order(out_trade_no, expect=S.PAID, actor=actor, action="reconciled_amount",
                                               detail=detail, paid_amount=paid_amount, checked_by=actor,
                                               reason_code=fields["reason_code"],
                                               reason_params=fields["reason_params"])
                self._emit(EngineEvent("order", order=new))
                return new
            if order.state in S.FINAL_ORDER_STATES:
                return self._correction_row(order, fields, actor, detail)
        with self._order_lock(out_trade_no), self._clerk_claim(out_trade_no) as order:
            order = self._write(order, D.Decision(S.PAID_EVENT, fields, detail=detail), actor=actor,
                                action="reconciled")
            if order.state == S.NEEDS_CHECK:  # a cancelled sale's money: settled by the manager at once
                order = self._write(order, D.Decision(S.CHECKED_PAID, {"checked_by": actor}, detail=detail),
                                    actor=actor, action="reconciled")
            return order

    def _correction_row(self, order: OrderRecord, fields: dict, actor: str, detail: dict | None) -> OrderRecord:
        number = order.out_trade_no + CORRECTION_SUFFIX
        new = self.ledger.create_order(
            out_trade_no=number, sale_id=order.sale_id, counter_id=self.settings.counter_id, profile=order.profile,
            gateway=order.gateway, method=order.method, wallet=order.wallet, amount=fields["paid_amount"],
            actor=actor, detail={**(detail or {}), "corrects": order.out_trade_no})
        return self._write(new, D.Decision(S.PAID_EVENT, fields, detail=detail), actor=actor, action="reconciled")

    def adopt_gateway_order(self, profile: str, listed, *, actor: str, note: str, detail: dict | None = None
                            ) -> OrderRecord:
        """A manager records an order only the gateway knew (paid there): it enters the
        ledger as paid, marked as found by reconciliation."""
        gw = self.gateway(profile)
        wallet = Wallet(getattr(listed.wallet, "value", listed.wallet) or "unknown")
        order = self.ledger.create_order(
            out_trade_no=listed.out_trade_no, sale_id=listed.out_trade_no, counter_id=self.settings.counter_id,
            profile=profile, gateway=gw.name, method=_METHOD_OF_WALLET.get(wallet, Method.MERGED.value),
            wallet=wallet.value, amount=listed.amount, actor=actor, detail={"found_by": "reconciliation"})
        paid_at = listed.paid_at.timestamp() if listed.paid_at else None
        fields = self._reconciled_fields(listed.amount, paid_at, listed.gateway_trade_no, actor, note)
        return self._write(order, D.Decision(S.PAID_EVENT, fields, detail=detail), actor=actor, action="reconciled")

    def record_reconciled_refund(self, out_trade_no: str, amount: Decimal, *, actor: str, note: str,
                                 detail: dict | None = None) -> RefundRecord:
        """A manager records a refund done in the gateway's back office (never sent by us)."""
        with self._order_lock(out_trade_no):
            refund = self.ledger.create_refund(out_refund_no=self._new_number("R"), out_trade_no=out_trade_no,
                                               amount=amount, reason=note, actor=actor,
                                               counter_id=self.settings.counter_id, detail=detail)
            return self._write_refund(refund, D.Decision(S.R_SUCCEEDED, {"finished_at": self.now(),
                                                                         "next_check_at": None}, detail=detail),
                                      actor=actor, action="reconciled")
