"""The engine's decisions (cashier.engine.decisions) from tables: an order or refund,
the time, an answer and the gateway's limits in; the state machine's event and the
fields out. Every event a decision names must be an arrow of the table from the
record's state. Then the same decisions driven through the engine with an in-memory
gateway (no HTTP), where the simulator cannot say what a hostile gateway says."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from cashier.engine import Engine, EngineSettings, FakeClock
from cashier.engine import decisions as D
from cashier.gateways.base import (
    AlreadyExists,
    Capability,
    Gateway,
    GatewayLimits,
    Method,
    PaymentState,
    PayStatus,
    Profile,
    QrOrder,
    RefundNotFound,
    RefundState,
    RefundStatus,
    ReverseResult,
    Timeout,
    Wallet,
)
from cashier.ledger import Ledger
from cashier.ledger import states as S
from cashier.ledger.records import OrderRecord, RefundRecord

NOW = 1_800_000_000.0
SETTINGS = EngineSettings()
LIMITS = GatewayLimits(query_interval=5.0, refund_query_interval=10.0, refund_first_query_after=60.0)


def order(**fields) -> OrderRecord:
    base = dict(out_trade_no="P1", sale_id="S1", counter_id="01", profile="p", gateway="fake", method="wechat",
                wallet="wechat", amount=Decimal("5.00"), amount_to_pay=Decimal("5.00"), paid_amount=None,
                state=S.PENDING, subject="", auth_code_last4=None, qr=None, qr_image_url=None,
                gateway_trade_no=None, note=None, created_at=NOW - 100, updated_at=NOW - 1, sent_at=None,
                expires_at=NOW + 200, paid_at=None, watch_until=None, next_check_at=NOW, check_count=0,
                checked_by=None)
    base.update(fields)
    return OrderRecord(**base)


def refund(**fields) -> RefundRecord:
    base = dict(out_refund_no="R1", out_trade_no="P1", amount=Decimal("2.00"), state=S.REFUND_PROCESSING,
                reason="", actor="t", gateway_refund_no=None, failure_note=None, created_at=NOW - 50,
                updated_at=NOW - 1, sent_at=None, finished_at=None, next_check_at=NOW, check_count=0)
    base.update(fields)
    return RefundRecord(**base)


def pay_state(status, **fields) -> PaymentState:
    return PaymentState(status=status, out_trade_no="P1", **fields)


PAID_5 = pay_state(PayStatus.PAID, paid_amount=Decimal("5.00"), paid_at=datetime.fromtimestamp(NOW - 5, timezone.utc))

QR_CASES = [
    # (what, order, answer, expected event, expected fields subset)
    ("paid while pending", order(), PAID_5, S.PAID_EVENT, {"paid_amount": Decimal("5.00"), "paid_at": NOW - 5}),
    ("wrong amount: a person looks", order(), pay_state(PayStatus.PAID, paid_amount=Decimal("4.00")), S.FLAGGED,
     {"reason_code": "reason.amount_mismatch"}),
    ("late payment after expiry", order(state=S.EXPIRED, expires_at=NOW - 10, watch_until=NOW + 100), PAID_5,
     S.PAID_EVENT, {"reason_code": "reason.late_payment"}),
    ("money on a cancelled sale", order(state=S.CANCELLED, watch_until=NOW + 100), PAID_5, S.PAID_EVENT,
     {"reason_code": "reason.late_payment"}),
    ("gateway says closed", order(), pay_state(PayStatus.CLOSED), S.GATEWAY_CLOSED,
     {"reason_code": "reason.closed_by_gateway", "next_check_at": None}),
    ("pending, time left: ask again at the rate limit", order(), pay_state(PayStatus.PENDING), None,
     {"next_check_at": NOW + 5.0}),
    ("pending, QR expired: expire and watch", order(expires_at=NOW - 1), pay_state(PayStatus.PENDING), S.EXPIRE,
     {"reason_code": "reason.expired", "watch_until": NOW + SETTINGS.late_payment_watch_seconds}),
    ("answer lost, order exists: never shown, cancel", order(state=S.UNKNOWN), pay_state(PayStatus.PENDING),
     S.CANCEL, {"reason_code": "reason.never_shown"}),
    ("answer lost, gateway never had it, time over", order(state=S.UNKNOWN, expires_at=NOW - 1),
     pay_state(PayStatus.NOT_FOUND), S.NEVER_CREATED, {"reason_code": "reason.never_created"}),
    ("answer lost, not there yet, time left", order(state=S.UNKNOWN), pay_state(PayStatus.NOT_FOUND), None,
     {"next_check_at": NOW + 5.0}),
    ("watch over, nothing came", order(state=S.CANCELLED, watch_until=NOW - 1), pay_state(PayStatus.PENDING),
     S.WATCH_ENDED, {"next_check_at": None}),
    ("gateway without a query", order(expires_at=NOW - 1), None, S.EXPIRE, {}),
]


@pytest.mark.parametrize("what, record, answer, event, fields", QR_CASES, ids=[c[0] for c in QR_CASES])
def test_qr_decisions(what, record, answer, event, fields):
    decision = D.qr_next(record, answer, NOW, LIMITS, SETTINGS)
    assert decision.event == event
    assert {k: decision.fields.get(k) for k in fields} == fields
    if event is not None:
        assert (record.state, event) in S.ORDER_TABLE


MICRO = dict(method="micropay", state=S.USERPAYING, expires_at=NOW + 20, created_at=NOW - 10)
MICROPAY_CASES = [
    ("paid", order(**MICRO), PAID_5, True, S.PAID_EVENT, None),
    ("declined", order(**MICRO), pay_state(PayStatus.FAILED, reason="余额不足"), True, S.DECLINED, None),
    ("still typing, deadline ahead", order(**MICRO), pay_state(PayStatus.PENDING, user_paying=True), True, None, None),
    ("unknown becomes user paying", order(**{**MICRO, "state": S.UNKNOWN}),
     pay_state(PayStatus.PENDING, user_paying=True), True, S.USER_PAYING, None),
    ("deadline passed: reverse, written first", order(**{**MICRO, "expires_at": NOW - 1, "created_at": NOW - 40}),
     pay_state(PayStatus.PENDING, user_paying=True), True, S.REVERSE, D.SEND_REVERSE),
    ("deadline passed, WeChat too early: wait", order(**{**MICRO, "expires_at": NOW - 1, "created_at": NOW - 5}),
     pay_state(PayStatus.PENDING), True, None, None),
    ("deadline passed, cannot reverse: a person", order(**{**MICRO, "expires_at": NOW - 1, "created_at": NOW - 40}),
     None, False, S.FLAGGED, None),
    ("rate limit: come back", order(**MICRO), 3.0, True, None, None),
]


@pytest.mark.parametrize("what, record, answer, can_reverse, event, then", MICROPAY_CASES,
                         ids=[c[0] for c in MICROPAY_CASES])
def test_micropay_decisions(what, record, answer, can_reverse, event, then):
    decision = D.micropay_next(record, answer, NOW, SETTINGS, can_reverse=can_reverse, limits=LIMITS)
    assert (decision.event, decision.then) == (event, then)
    if event is not None:
        assert (record.state, event) in S.ORDER_TABLE


def test_reverse_decisions():
    reversing = order(method="micropay", state=S.REVERSING, check_count=0)
    assert D.reverse_next(reversing, ReverseResult(done=True), NOW, SETTINGS).event == S.REVERSED_EVENT
    again = D.reverse_next(reversing, ReverseResult(done=False, retry=True), NOW, SETTINGS)
    assert again.event is None and again.fields["next_check_at"] == NOW + SETTINGS.reverse_retry_interval
    last = dataclasses.replace(reversing, check_count=SETTINGS.max_reverse_attempts - 1)
    flagged = D.reverse_next(last, Timeout(), NOW, SETTINGS)
    assert flagged.event == S.FLAGGED and flagged.fields["reason_code"] == "reason.reverse_failed"


REFUND_CASES = [
    ("succeeded", refund(), RefundState(RefundStatus.SUCCEEDED, "R1"), S.R_SUCCEEDED, None),
    ("failed", refund(), RefundState(RefundStatus.FAILED, "R1", reason="余额不足"), S.R_FAILED, None),
    ("accepted after a lost answer", refund(state=S.REFUND_UNKNOWN), RefundState(RefundStatus.PROCESSING, "R1"),
     S.R_ACCEPTED, None),
    ("never reached the gateway: re-send the same number", refund(state=S.REFUND_UNKNOWN), RefundNotFound(),
     S.R_RESEND, D.RESEND_REFUND),
    ("not found three times: no more re-sends", refund(state=S.REFUND_UNKNOWN, check_count=3), RefundNotFound(),
     None, None),
    ("gateway unreachable", refund(), Timeout(), None, None),
    ("the order's total shows exactly this refund", refund(),
     RefundState(RefundStatus.PROCESSING, "R1", order_refunded=Decimal("2.00")), S.R_SUCCEEDED, None),
    ("the order's total shows nothing yet", refund(),
     RefundState(RefundStatus.PROCESSING, "R1", order_refunded=Decimal("0.00")), None, None),
    ("still no status after three asks: a person", refund(check_count=2),
     RefundState(RefundStatus.PROCESSING, "R1", order_refunded=Decimal("0.00")), S.R_FLAGGED, None),
]


@pytest.mark.parametrize("what, record, answer, event, then", REFUND_CASES, ids=[c[0] for c in REFUND_CASES])
def test_refund_decisions(what, record, answer, event, then):
    decision = D.refund_queried(record, answer, NOW, LIMITS, SETTINGS, [record])
    assert (decision.event, decision.then) == (event, then)
    if event is not None:
        assert (record.state, event) in S.REFUND_TABLE


def test_order_evidence_never_settles_a_refund_while_another_is_open():
    mine = refund()
    other = refund(out_refund_no="R2", amount=Decimal("2.00"), state=S.REFUND_PROCESSING)
    answer = RefundState(RefundStatus.PROCESSING, "R1", order_refunded=Decimal("2.00"))
    assert D.refund_queried(mine, answer, NOW, LIMITS, SETTINGS, [mine, other]).event is None
    done = dataclasses.replace(other, state=S.REFUND_SUCCEEDED)
    both = RefundState(RefundStatus.PROCESSING, "R1", order_refunded=Decimal("4.00"))
    assert D.refund_queried(mine, both, NOW, LIMITS, SETTINGS, [mine, done]).event == S.R_SUCCEEDED


def test_sent_refund_that_already_exists_is_followed_not_failed():
    decision = D.refund_sent(refund(state=S.REFUND_SENDING), AlreadyExists(reason="退款单号已存在"), NOW, LIMITS,
                             SETTINGS)
    assert decision.event == S.R_ACCEPTED and decision.fields["failure_code"] == "gw.already_exists"


# ------------------------------------------------------------- in-memory gateway


class MemoryGateway(Gateway):
    """A gateway that keeps its books in memory and answers refund queries only with
    the order's refunded total, as Fengniao does after a 12003."""

    name = "memory"
    capabilities = frozenset({Capability.WECHAT_QR, Capability.QUERY, Capability.REFUND, Capability.REFUND_QUERY})
    limits = GatewayLimits(query_interval=1.0, refund_query_interval=1.0, refund_first_query_after=1.0)

    def __init__(self) -> None:
        super().__init__(Profile(name="mem", gateway="memory", base_url="http://127.0.0.1:9", merchant_id="m1"),
                         "secret")
        self.paid: dict[str, Decimal] = {}
        self.refunded: dict[str, Decimal] = {}
        self.calls: list[str] = []

    def create_qr(self, out_trade_no, amount, method, subject, expire_seconds):
        self.calls.append("create")
        return QrOrder(out_trade_no, "weixin://wxpay/bizpayurl?pr=mem", amount,
                       datetime.now(timezone.utc))

    def query(self, order):
        self.calls.append("query")
        if order.out_trade_no in self.paid:
            return PaymentState(PayStatus.PAID, order.out_trade_no, paid_amount=self.paid[order.out_trade_no],
                                wallet=Wallet.WECHAT)
        return PaymentState(PayStatus.PENDING, order.out_trade_no)

    def refund(self, order, out_refund_no, amount, reason):
        self.calls.append("refund")
        self.refunded[order.out_trade_no] = self.refunded.get(order.out_trade_no, Decimal("0.00")) + amount
        raise Timeout()  # the answer is lost; the money went back

    def refund_query(self, order, out_refund_no, amount=None):
        self.calls.append("refund_query")
        return RefundState(RefundStatus.PROCESSING, out_refund_no, amount,
                           order_refunded=self.refunded.get(order.out_trade_no, Decimal("0.00")))


def test_engine_settles_a_refund_from_the_orders_refunded_total(tmp_path):
    clock = FakeClock(NOW)
    gw = MemoryGateway()
    ledger = Ledger(tmp_path / "ledger.sqlite3", clock=clock.now)
    engine = Engine(ledger, {"mem": gw}, clock=clock)
    try:
        placed = engine.start_qr("mem", Decimal("6.00"), Method.WECHAT)
        gw.paid[placed.out_trade_no] = Decimal("6.00")
        for _ in range(3):
            clock.advance(1.0)
            engine.run_due()
        assert engine.order(placed.out_trade_no).state == S.PAID
        sent = engine.refund(placed.out_trade_no, Decimal("2.50"), "退货", actor="t")
        assert sent.state == S.REFUND_UNKNOWN  # the answer was lost: never "failed" on a guess
        for _ in range(30):
            clock.advance(1.0)
            engine.run_due()
        settled = ledger.get_refund(sent.out_refund_no)
        assert settled.state == S.REFUND_SUCCEEDED and settled.failure_code == "reason.refund_settled_by_order"
        assert gw.calls.count("refund") == 1  # never sent twice
        assert engine.refundable(placed.out_trade_no) == Decimal("3.50")
    finally:
        engine.stop()
        ledger.close()
