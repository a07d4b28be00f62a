"""A shop's full day against the simulator: shift, QR, 付款码 and cash sales, refunds,
cash out, the shift count; then reconciliation finding each kind of difference made
at the simulated gateway, and resolving them with and without the manager PIN."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from cashier.books import Books
from cashier.gateways.base import Method, PayStatus
from cashier.i18n import UserError
from cashier.ledger import books as B
from cashier.ledger import states as S
from cashier.reconcile import Reconciler, classify, resolve
from cashier.settings import SettingsStore

PIN = "2468"


@pytest.fixture
def books(env):
    SettingsStore().set_pin(PIN)
    return Books(env.engine)


def _paid_qr(env, profile: str, amount: str):
    order = env.engine.start_qr(profile, Decimal(amount), Method.WECHAT)
    env.sim_client.pay_order(order)
    env.advance(5)
    return env.engine.check(order.out_trade_no)


def test_full_day_shift_with_every_kind_of_sale(env, books):
    epay, ltzf = env.profile("epay"), env.profile("ltzf")
    shift = books.open_shift("小王", Decimal("100.00"))
    qr = _paid_qr(env, ltzf, "30.00")
    assert qr.state == S.PAID and qr.shift_id == shift.shift_id and qr.clerk == "小王"
    micro = env.engine.start_micropay(env.profile("fengniao"), Decimal("20.00"), "134567890123456789")
    micro = env.run_until(micro.out_trade_no, {S.PAID})
    sale = books.cash_sale(Decimal("12.00"), Decimal("20.00"))
    assert sale.change == Decimal("8.00")
    with pytest.raises(UserError):
        books.cash_sale(Decimal("12.00"), Decimal("10.00"))  # not enough tendered
    env.advance(60)
    refund = env.engine.refund(qr.out_trade_no, Decimal("5.00"), "退货", actor="manager")
    refund = env.engine.ledger.get_refund(refund.out_refund_no)
    for _ in range(120):
        if refund.state == S.REFUND_SUCCEEDED:
            break
        env.run(5)
        refund = env.engine.ledger.get_refund(refund.out_refund_no)
    assert refund.state == S.REFUND_SUCCEEDED and refund.shift_id == shift.shift_id
    with pytest.raises(UserError):
        books.cash_refund(sale.out_trade_no, Decimal("2.00"), "少找", pin=None)
    with pytest.raises(UserError):
        books.cash_refund(sale.out_trade_no, Decimal("2.00"), "少找", pin="0000")
    books.cash_refund(sale.out_trade_no, Decimal("2.00"), "少找", pin=PIN)
    with pytest.raises(UserError):  # no more than the sale had left
        books.cash_refund(sale.out_trade_no, Decimal("10.01"), "再退", pin=PIN)
    books.cash_move(Decimal("-50.00"), "取款")
    books.cash_move(Decimal("20.00"), "备用金")
    pending = env.engine.start_qr(epay, Decimal("9.99"), Method.ALIPAY)  # never paid: carried over

    report = books.close_shift(Decimal("79.50"))  # expected 100 + 12 − 2 − 50 + 20 = 80
    assert report.expected_cash == Decimal("80.00")
    assert report.counted_cash == Decimal("79.50") and report.difference == Decimal("-0.50")
    totals = report.totals()
    assert totals["cash"]["amount"] == "12.00" and totals["cash"]["refunded"] == "2.00"
    assert totals["qr"]["amount"] == "30.00" and totals["qr"]["refunded"] == "5.00"
    assert totals["micropay"]["amount"] == "20.00"
    assert [u["out_trade_no"] for u in report.unresolved] == [pending.out_trade_no]
    # Closed: read-only, reprinted the same, a correction is a new audited entry.
    with pytest.raises(UserError):
        books.cash_sale(Decimal("1.00"))
    again = books.shift_report(shift.shift_id)
    assert again.to_dict()["expected_cash"] == "80.00" and again.difference == Decimal("-0.50")
    with pytest.raises(UserError):
        books.correct_shift(shift.shift_id, Decimal("0.50"), "找到 5 角", pin=None)
    books.correct_shift(shift.shift_id, Decimal("0.50"), "找到 5 角", pin=PIN)
    corrected = books.shift_report(shift.shift_id)
    assert [c.amount for c in corrected.corrections] == [Decimal("0.50")]
    assert corrected.expected_cash == Decimal("80.00")  # the closed figures never move
    import sqlite3
    with sqlite3.connect(env.ledger_path) as raw:
        with pytest.raises(sqlite3.DatabaseError):
            raw.execute("UPDATE shifts SET counted_cash_fen = 8000 WHERE shift_id = ?", (shift.shift_id,))
    # The next clerk's shift takes the unresolved order over.
    nxt = books.open_shift("小李", Decimal("79.50"))
    assert env.engine.order(pending.out_trade_no).shift_id == nxt.shift_id
    assert [u["out_trade_no"] for u in books.shift_report().unresolved] == [pending.out_trade_no]
    # The day report holds cash too.
    day = datetime.date.fromtimestamp(env.clock.now())
    daily = env.engine.ledger.daily_report(day)
    cash_line = next(line for line in daily.lines if line.gateway == "cash")
    assert (cash_line.paid_sum, cash_line.refund_sum) == (Decimal("12.00"), Decimal("2.00"))
    assert (daily.cash_in, daily.cash_out) == (Decimal("20.00"), Decimal("50.00"))


def test_reconciliation_finds_each_kind_and_a_manager_resolves_them(env, books):
    epay = env.profile("epay")
    merchant = env.pairs["epay"][0].merchant_id
    books.open_shift("小王", Decimal("0.00"))
    # 1. A QR the clerk cancelled; checked by hand as not paid; then the customer paid.
    late = env.engine.start_qr(epay, Decimal("15.00"), Method.WECHAT)
    env.engine.stop_waiting(late.out_trade_no)
    env.engine.mark_checked(late.out_trade_no, actor="小王", note="顾客走了")
    assert env.engine.order(late.out_trade_no).state == S.CLOSED
    env.sim_client.pay_order(late)
    # 2. An order only the gateway knows.
    foreign = env.sim_client.foreign_order("epay", merchant, "8.88")
    # 3. An amount the gateway books differently.
    differs = _paid_qr(env, epay, "25.00")
    env.sim_client.set_amount("epay", differs.out_trade_no, "52.00")
    # 4. A refund done in the gateway's back office.
    behind = _paid_qr(env, epay, "40.00")
    env.sim_client.backoffice_refund("epay", behind.out_trade_no, "40.00")
    # 5. And one that agrees.
    fine = _paid_qr(env, epay, "10.00")

    seen = []
    result = Reconciler(env.engine, sleep=env.advance, on_progress=seen.append).run(
        epay, datetime.date.fromtimestamp(env.clock.now()))
    kinds = {d.out_trade_no: d.kind for d in result.differences}
    assert kinds == {late.out_trade_no: B.PAID_THERE_NOT_HERE, foreign["out_trade_no"]: B.UNKNOWN_TO_US,
                     differs.out_trade_no: B.AMOUNT_DIFFERS, behind.out_trade_no: B.REFUND_DIFFERS}
    assert fine.out_trade_no not in kinds
    assert result.orders_checked == 4 and not result.not_checked
    assert seen[-1].phase == "list" and any(p.phase == "query" and p.done == 4 for p in seen)
    # The queries kept the gateway's spacing (3 s per merchant): the simulator refused none.
    queries = [r["at"] for r in env.sim.state.requests if r.get("gateway") == "epay" and r.get("op") == "query"]
    assert len(queries) >= 4 and all(b - a >= 3.0 for a, b in zip(queries[-4:], queries[-3:]))
    kept = env.engine.ledger.recon_summary(result.run.day)
    assert kept[-1]["unresolved"] == 4 and env.engine.ledger.daily_report(
        datetime.date.fromisoformat(result.run.day)).reconciliation[-1]["run_id"] == result.run.run_id

    with pytest.raises(UserError) as no_pin:
        resolve(env.engine, books, late.out_trade_no, "record", "顾客后来付了", pin=None)
    assert "店长密码" in no_pin.value.message()
    with pytest.raises(UserError):
        resolve(env.engine, books, late.out_trade_no, "record", "顾客后来付了", pin="1111")
    assert any(e.action == "pin_refused" for e in env.engine.ledger.events("reconcile_record"))
    assert env.engine.order(late.out_trade_no).state == S.CLOSED  # nothing changed without the PIN

    resolve(env.engine, books, late.out_trade_no, "record", "顾客后来付了", pin=PIN)
    # A closed order stays closed (no way out of a final state): the money is a new,
    # audited correction row beside it.
    assert env.engine.order(late.out_trade_no).state == S.CLOSED
    paid = env.engine.order(late.out_trade_no + "-R")
    assert paid.state == S.PAID and paid.paid_amount == Decimal("15.00") and paid.checked_by == "manager"
    assert "对账补记" in paid.reason
    resolve(env.engine, books, foreign["out_trade_no"], "record", "另一台设备收的", pin=PIN)
    adopted = env.engine.order(foreign["out_trade_no"])
    assert adopted.state == S.PAID and adopted.paid_amount == Decimal("8.88")
    resolve(env.engine, books, behind.out_trade_no, "record", "后台退的", pin=PIN)
    assert env.engine.refundable(behind.out_trade_no) == Decimal("0.00")
    resolve(env.engine, books, differs.out_trade_no, "checked", "网关改价，已电话确认", pin=PIN)
    with pytest.raises(UserError):  # once
        resolve(env.engine, books, differs.out_trade_no, "refund", "再来一次", pin=PIN)
    audit = env.engine.ledger.events(differs.out_trade_no, "reconciliation")
    assert [e.action for e in audit][-1] == "resolved_checked" and audit[-1].actor == "manager"
    assert all(d.resolution for d in env.engine.ledger.differences(result.run.run_id))

    # A second run finds everything agreeing now, except what was only marked checked.
    again = Reconciler(env.engine, sleep=env.advance).run(epay, datetime.date.fromtimestamp(env.clock.now()))
    assert {d.out_trade_no: d.kind for d in again.differences} == {differs.out_trade_no: B.AMOUNT_DIFFERS}


def test_classify_paid_here_not_there():
    class O:
        state, paid_amount = S.PAID, Decimal("5.00")

    assert classify(O, Decimal("0"), PayStatus.NOT_FOUND, None) == B.PAID_HERE_NOT_THERE
    assert classify(O, Decimal("0"), PayStatus.CLOSED, None) == B.PAID_HERE_NOT_THERE
    assert classify(O, Decimal("0"), PayStatus.PAID, Decimal("5.00")) is None
    assert classify(O, Decimal("0"), PayStatus.UNKNOWN, None) is None
