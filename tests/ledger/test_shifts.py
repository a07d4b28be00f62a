"""Shifts, cash entries and reconciliation rows in the ledger, on each backend:
compare-and-set, read-only closed shifts, signed fen, audit events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cashier.i18n import UserError
from cashier.ledger import StateConflict
from cashier.ledger import books as B

from .helpers import new_order


def test_a_shift_from_open_to_close_and_after(ledger, clock):
    shift = ledger.open_shift(counter_id="01", clerk="小王", float_amount=Decimal("100.00"))
    with pytest.raises(UserError):
        ledger.open_shift(counter_id="01", clerk="小李", float_amount=Decimal("0"))
    order = new_order(ledger, counter_id="01")
    assert (order.shift_id, order.clerk) == (shift.shift_id, "小王")
    sale = ledger.cash_sale(entry_no="C1", counter_id="01", amount=Decimal("12.00"), tendered=Decimal("50.00"))
    assert (sale.change, sale.amount) == (Decimal("38.00"), Decimal("12.00"))
    ledger.cash_refund(entry_no="D1", counter_id="01", sale_no="C1", amount=Decimal("2.00"), reason="x", actor="m")
    with pytest.raises(UserError):
        ledger.cash_refund(entry_no="D2", counter_id="01", sale_no="C1", amount=Decimal("10.01"), reason="x",
                           actor="m")
    with pytest.raises(UserError):  # never more out of the drawer than is in it
        ledger.cash_move(entry_no="D3", counter_id="01", amount=Decimal("-110.01"), reason="取款")
    ledger.cash_move(entry_no="D4", counter_id="01", amount=Decimal("-50.00"), reason="取款")
    live = ledger.shift_report(shift.shift_id)
    assert live.expected_cash == Decimal("60.00") and live.counted_cash is None
    clock.advance(60)
    report = ledger.close_shift(shift.shift_id, counted=Decimal("61.00"), actor="小王")
    assert report.difference == Decimal("1.00")
    assert [u["out_trade_no"] for u in report.unresolved] == [order.out_trade_no]
    with pytest.raises(StateConflict):
        ledger.close_shift(shift.shift_id, counted=Decimal("61.00"), actor="小王")
    with pytest.raises(UserError):
        ledger.cash_sale(entry_no="C2", counter_id="01", amount=Decimal("1.00"))
    ledger.correct_shift(entry_no="D5", shift_id=shift.shift_id, amount=Decimal("-1.00"), reason="多点了",
                         actor="manager")
    again = ledger.shift_report(shift.shift_id)
    assert again.to_dict()["difference"] == "1.00" and [c.entry_no for c in again.corrections] == ["D5"]
    actions = [e.action for e in ledger.events(str(shift.shift_id), "shift")]
    assert actions == ["opened", "closed"]
    assert [e.action for e in ledger.events("D5", "cash")] == ["correction"]
    nxt = ledger.open_shift(counter_id="01", clerk="小李", float_amount=Decimal("61.00"))
    assert ledger.get_order(order.out_trade_no).shift_id == nxt.shift_id
    assert [e.action for e in ledger.events(order.out_trade_no)][-1] == "carried_to_shift"


def test_reconciliation_rows_resolve_once(ledger):
    run = ledger.start_recon_run(profile="p", day="2026-01-02", actor="manager", planned=3)
    ledger.add_difference(run.run_id, "X1", B.UNKNOWN_TO_US, {}, {"amount": Decimal("8.88")})
    ledger.recon_progress(run.run_id, checked=3, listed=1)
    done = ledger.finish_recon_run(run.run_id)
    assert (done.state, done.orders_checked, done.listed) == ("done", 3, 1)
    assert ledger.open_difference("X1").gateway == {"amount": "8.88"}
    ledger.resolve_difference(run.run_id, "X1", resolution="checked", actor="manager", note="ok")
    with pytest.raises(UserError):
        ledger.resolve_difference(run.run_id, "X1", resolution="record", actor="manager", note="again")
    assert ledger.open_difference("X1") is None
    assert ledger.recon_summary("2026-01-02")[0]["unresolved"] == 0


def test_shifts_and_cash_move_to_a_shared_ledger(tmp_path, pg_url, clock):
    from cashier.ledger import Ledger
    from cashier.ledger.migrate import copy_ledger

    source = tmp_path / "ledger.sqlite3"
    with Ledger(source, clock=clock) as old:
        shift = old.open_shift(counter_id="01", clerk="小王", float_amount=Decimal("10.00"))
        old.cash_sale(entry_no="C1", counter_id="01", amount=Decimal("5.00"))
        old.close_shift(shift.shift_id, counted=Decimal("15.00"), actor="小王")
        before = old.shift_report(shift.shift_id).to_dict()
    copied = copy_ledger(source, pg_url, clock=clock)
    assert copied.copied["shifts"] == 1 and copied.copied["cash_entries"] == 1
    with Ledger(pg_url, clock=clock) as new:
        assert new.shift_report(shift.shift_id).to_dict() == before


def test_shifts_of_the_whole_shop_or_one_counter(ledger):
    a = ledger.open_shift(counter_id="A1", clerk="小王", float_amount=Decimal("0.00"))
    b = ledger.open_shift(counter_id="B2", clerk="小李", float_amount=Decimal("50.00"))
    assert [s.shift_id for s in ledger.shifts()] == [b.shift_id, a.shift_id]
    assert [s.counter_id for s in ledger.shifts(counter_id="B2")] == ["B2"]
    assert ledger.shifts(counter_id="C3") == []
