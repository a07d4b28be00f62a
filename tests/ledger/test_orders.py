"""Orders: creation, compare-and-set updates, events, lookups, pagination, counters."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal

import pytest

from cashier.gateways.base import Method, Wallet
from cashier.ledger import (
    FINAL_ORDER_STATES,
    ORDER_STATES,
    UNRESOLVED_ORDER_STATES,
    DuplicateOrder,
    FullAuthCode,
    Ledger,
    OrderNotFound,
    StateConflict,
    states,
)

from .helpers import RawConnection, drive, drive_refund, new_order, sqlite_only


def test_states_partition():
    assert FINAL_ORDER_STATES == {"paid", "closed", "reversed", "failed"}
    assert not FINAL_ORDER_STATES & UNRESOLVED_ORDER_STATES
    assert ORDER_STATES == FINAL_ORDER_STATES | UNRESOLVED_ORDER_STATES
    assert "needs_check" in UNRESOLVED_ORDER_STATES
    assert states.FINAL_REFUND_STATES == {"succeeded", "failed"}
    assert "needs_check" in states.UNRESOLVED_REFUND_STATES


def test_create_order_is_sending_with_an_event(ledger, clock):
    order = ledger.create_order(
        out_trade_no="A1", sale_id="S1", counter_id="c1", profile="shop", gateway="ltzf",
        method=Method.MICROPAY, wallet=Wallet.WECHAT, amount=Decimal("12.34"), subject="咖啡",
        auth_code_last4="0123", expires_at=clock.now + 300,
    )
    assert order.state == "sending"
    assert order.method == "micropay" and order.wallet == "wechat"  # enums stored as text
    assert order.amount == order.amount_to_pay == Decimal("12.34")
    assert order.paid_amount is None and order.paid_at is None
    assert order.created_at == order.updated_at == clock.now
    assert order.expires_at == clock.now + 300
    assert ledger.get_order("A1") == order
    [event] = ledger.events("A1")
    assert (event.entity, event.action, event.actor, event.old_state, event.new_state) == (
        "order", "created", "clerk", None, "sending")
    assert event.at == clock.now


def test_discounted_amount_to_pay(ledger):
    order = new_order(ledger, "D1", gateway="its500", amount=Decimal("20.00"),
                      amount_to_pay=Decimal("19.37"))
    assert order.amount_to_pay == Decimal("19.37")
    paid = ledger.update_order("D1", state="paid")
    assert paid.paid_amount == Decimal("19.37")


def test_duplicate_order_number_is_refused(ledger):
    first = new_order(ledger, "A1")
    with pytest.raises(DuplicateOrder) as caught:
        new_order(ledger, "A1", amount=Decimal("99.00"))
    assert "A1" in str(caught.value)
    assert ledger.get_order("A1") == first
    assert len(ledger.events("A1")) == 1


@pytest.mark.parametrize("bad", ["134567890123456789", "12345", "123", "12a4", "１２３４", " 1234", "1234\n", 1234, ""])
def test_anything_but_four_digits_is_refused_as_auth_code(ledger, bad):
    with pytest.raises(FullAuthCode):
        new_order(ledger, "A1", auth_code_last4=bad)
    assert ledger.get_order("A1") is None
    new_order(ledger, "A2")
    with pytest.raises(FullAuthCode):
        ledger.update_order("A2", auth_code_last4=bad)


def test_money_must_be_decimal_fen(ledger):
    with pytest.raises(TypeError):
        new_order(ledger, "F1", amount=12.34)
    with pytest.raises(ValueError):
        new_order(ledger, "F2", amount=Decimal("1.234"))
    with pytest.raises(ValueError):
        new_order(ledger, "F3", amount=Decimal("0"))
    assert ledger.count_orders() == 0


def test_full_auth_code_never_reaches_the_file(db_path, clock):
    code = "134567890123456789"  # a WeChat payment code
    with Ledger(db_path, clock=clock) as ledger:
        new_order(ledger, "M1", method="micropay", auth_code_last4=code[-4:], subject="付款码支付")
        ledger.update_order("M1", state="userpaying", detail={"auth_code_last4": code[-4:]})
        ledger.record_event("order", "M1", "clerk pressed 查单", "clerk", {"last4": code[-4:]})
        with pytest.raises(ValueError):  # a detail naming the code itself is refused
            ledger.record_event("order", "M1", "oops", "clerk", {"auth_code": code})
        with pytest.raises(ValueError):
            ledger.update_order("M1", detail={"nested": [{"auth_code": code}]})
        files = [db_path, db_path.with_name(db_path.name + "-wal")]
        raw = b"".join(p.read_bytes() for p in files if p.exists())
        assert code.encode() not in raw
        assert code[:12].encode() not in raw
    raw = db_path.read_bytes()
    assert code.encode() not in raw
    assert b"M1" in raw  # we did read the right file


def test_update_order_changes_fields_and_state_with_one_event(ledger, clock):
    new_order(ledger, "A1")
    clock.advance(2)
    updated = ledger.update_order(
        "A1", state="pending", expect="sending", actor="engine", action="qr shown",
        detail={"why": "create ok"}, qr="weixin://wxpay/bizpayurl?pr=abc", sent_at=clock.now - 1,
        next_check_at=clock.now + 5,
    )
    assert updated.state == "pending"
    assert updated.qr == "weixin://wxpay/bizpayurl?pr=abc"
    assert updated.updated_at == clock.now and updated.created_at == clock.now - 2
    event = ledger.events("A1")[-1]
    assert (event.action, event.old_state, event.new_state, event.detail) == (
        "qr shown", "sending", "pending", {"why": "create ok"})
    assert event.changes["qr"] == "weixin://wxpay/bizpayurl?pr=abc"


def test_paid_fills_paid_at_and_amount_unless_given(ledger, clock):
    new_order(ledger, "A1", amount=Decimal("5.00"))
    paid = ledger.update_order("A1", state="paid", expect={"sending", "pending"})
    assert paid.paid_at == clock.now and paid.paid_amount == Decimal("5.00")
    new_order(ledger, "A2", amount=Decimal("5.00"))
    paid = ledger.update_order("A2", state="paid", paid_at=123.0, paid_amount=Decimal("4.99"))
    assert paid.paid_at == 123.0 and paid.paid_amount == Decimal("4.99")
    assert ledger.events("A2")[-1].changes["paid_amount"] == "4.99"


def test_compare_and_set_conflict_changes_nothing(ledger):
    new_order(ledger, "A1")
    ledger.update_order("A1", state="unknown", expect="sending")
    before = ledger.get_order("A1")
    events_before = ledger.events("A1")
    with pytest.raises(StateConflict) as caught:
        ledger.update_order("A1", state="closed", expect={"pending", "expired"}, reason="clerk cancel")
    assert caught.value.current == "unknown"
    assert "unknown" in str(caught.value)
    assert ledger.get_order("A1") == before
    assert ledger.events("A1") == events_before


def test_compare_and_set_race_between_threads(ledger):
    """Two workers try to move the same order out of "unknown": exactly one wins."""
    new_order(ledger, "A1")
    ledger.update_order("A1", state="unknown")
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def worker(target: str) -> None:
        barrier.wait()
        try:
            ledger.update_order("A1", state=target, expect="unknown")
            outcomes.append(target)
        except StateConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=worker, args=("paid" if i % 2 else "reversing",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o != "conflict"]
    assert len(winners) == 1
    assert ledger.get_order("A1").state == winners[0]


def test_update_refuses_unknown_fields_and_states(ledger):
    new_order(ledger, "A1")
    with pytest.raises(TypeError):
        ledger.update_order("A1", colour="red")
    with pytest.raises(TypeError):
        ledger.update_order("A1", amount=Decimal("1.00"))  # fixed at creation
    with pytest.raises(TypeError):
        ledger.update_order("A1", out_trade_no="B1")
    with pytest.raises(ValueError):
        ledger.update_order("A1", state="refunded")
    with pytest.raises(OrderNotFound):
        ledger.update_order("nope", state="paid")
    assert len(ledger.events("A1")) == 1


def test_mark_checked(ledger):
    new_order(ledger, "A1")
    with pytest.raises(StateConflict):
        ledger.mark_checked("A1", state="closed", actor="boss")
    ledger.update_order("A1", state="needs_check", reason="gateway unreachable for 1 h")
    assert ledger.get_order("A1") in ledger.unresolved_orders()
    with pytest.raises(ValueError):
        ledger.mark_checked("A1", state="pending", actor="boss")
    checked = ledger.mark_checked("A1", state="closed", actor="boss", detail={"note": "not paid per app"})
    assert checked.checked_by == "boss" and checked.state == "closed"
    assert ledger.unresolved_orders() == []
    event = ledger.events("A1")[-1]
    assert (event.action, event.actor, event.old_state, event.new_state) == (
        "checked", "boss", "needs_check", "closed")


def test_events_are_append_only(ledger):
    new_order(ledger, "A1")
    with RawConnection(ledger) as conn:
        with pytest.raises(conn.errors, match="append-only"):
            conn.execute("UPDATE events SET actor = 'someone else'")
        with pytest.raises(conn.errors, match="append-only"):
            conn.execute("DELETE FROM events")
    assert [e.actor for e in ledger.events("A1")] == ["clerk"]


def test_record_event_without_state_change(ledger, clock):
    new_order(ledger, "A1")
    clock.advance(3)
    event = ledger.record_event("order", "A1", "clerk pressed 查单", "clerk", {"amount": Decimal("1.50")})
    assert event.old_state is None and event.new_state is None
    assert event.detail == {"amount": "1.50"}
    assert event.at == clock.now
    assert ledger.events("A1")[-1] == event
    assert ledger.events("A1", entity="refund") == []


def test_unresolved_and_due_orders(ledger, clock):
    for state in sorted(ORDER_STATES):
        new_order(ledger, f"O-{state}")
        drive(ledger, f"O-{state}", state, next_check_at=clock.now + len(state))
    unresolved = {o.out_trade_no for o in ledger.unresolved_orders()}
    assert unresolved == {f"O-{s}" for s in UNRESOLVED_ORDER_STATES}
    due = ledger.due_orders(clock.now + 7)
    assert [o.out_trade_no for o in due] == sorted(
        (f"O-{s}" for s in UNRESOLVED_ORDER_STATES if len(s) <= 7), key=lambda n: (len(n), n))
    assert all(due[i].next_check_at <= due[i + 1].next_check_at for i in range(len(due) - 1))
    # no next check: never due
    ledger.update_order("O-pending", next_check_at=None)
    assert "O-pending" not in {o.out_trade_no for o in ledger.due_orders(clock.now + 1e9)}


def test_touch_counts_checks_without_events(ledger, clock):
    new_order(ledger, "A1")
    ledger.update_order("A1", state="pending")
    for i in range(3):
        touched = ledger.touch_order("A1", next_check_at=clock.now + 5 * (i + 1))
    assert touched.check_count == 3 and touched.next_check_at == clock.now + 15
    assert len(ledger.events("A1")) == 2
    with pytest.raises(OrderNotFound):
        ledger.touch_order("nope", next_check_at=None)


@sqlite_only
def test_queries_use_the_indexes(ledger, db_path):
    """The recovery scan, history page, lookups and the report must not scan the table."""
    conn = sqlite3.connect(db_path)
    try:
        def plan(sql: str, *params) -> str:
            return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

        from cashier.ledger import db

        assert "orders_unresolved" in plan(f"SELECT * FROM orders WHERE {db._ORDER_UNRESOLVED_SQL}")
        assert "refunds_unresolved" in plan(f"SELECT * FROM refunds WHERE {db._REFUND_UNRESOLVED_SQL}")
        assert "orders_history" in plan(
            "SELECT * FROM orders ORDER BY created_at DESC, out_trade_no DESC LIMIT 50")
        assert "orders_gateway_trade_no" in plan(
            "SELECT * FROM orders WHERE gateway_trade_no = ? AND gateway_trade_no IS NOT NULL", "x")
        assert "USING INDEX" in plan("SELECT * FROM orders WHERE out_trade_no = ?", "x")
    finally:
        conn.close()


def test_orders_for_sale(ledger, clock):
    new_order(ledger, "A1", sale_id="S9")
    ledger.update_order("A1", state="failed", reason="code expired")
    clock.advance(1)
    new_order(ledger, "A2", sale_id="S9")
    new_order(ledger, "B1", sale_id="S10")
    assert [o.out_trade_no for o in ledger.orders_for_sale("S9")] == ["A1", "A2"]
    assert ledger.orders_for_sale("none") == []


def test_history_keyset_pagination(ledger, clock):
    names = []
    for i in range(137):
        if i % 3:  # several orders share a timestamp: the order number breaks the tie
            clock.advance(1)
        names.append(new_order(ledger, f"H{i:04d}").out_trade_no)
    expected = [o.out_trade_no for o in sorted(
        (ledger.get_order(n) for n in names), key=lambda o: (o.created_at, o.out_trade_no), reverse=True)]
    seen: list[str] = []
    page = ledger.history(limit=10)
    assert page[0].out_trade_no == expected[0]
    while page:
        seen += [o.out_trade_no for o in page]
        page = ledger.history(limit=10, before=page[-1])
    assert seen == expected
    # a tuple cursor works too, and an order created meanwhile does not shift pages
    first = ledger.history(limit=20)
    clock.advance(10)
    new_order(ledger, "NEWEST")
    second = ledger.history(limit=20, before=first[-1].page_key)
    assert [o.out_trade_no for o in second] == expected[20:40]
    assert ledger.history(limit=1)[0].out_trade_no == "NEWEST"


def test_find(ledger):
    new_order(ledger, "A1")
    ledger.update_order("A1", state="paid", gateway_trade_no="4200001234")
    new_order(ledger, "A2")
    ledger.create_refund(out_refund_no="R1", out_trade_no="A1", amount=Decimal("1.00"), reason="", actor="boss")
    ledger.update_refund("R1", gateway_refund_no="5000009")
    assert [o.out_trade_no for o in ledger.find("A1")] == ["A1"]
    assert [o.out_trade_no for o in ledger.find("  4200001234\n")] == ["A1"]
    assert [o.out_trade_no for o in ledger.find("R1")] == ["A1"]
    assert [o.out_trade_no for o in ledger.find("5000009")] == ["A1"]
    assert ledger.find("A") == []
    assert ledger.find("") == []


def test_next_sequence_is_atomic_and_persistent(books, clock):
    with Ledger(books, clock=clock) as ledger:
        assert ledger.next_sequence("order") == 1
        assert ledger.next_sequence("refund") == 1
        results: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            got = [ledger.next_sequence("order") for _ in range(25)]
            with lock:
                results.extend(got)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == list(range(2, 102))
    # a second program on the same file continues the same counter
    with Ledger(books, clock=clock) as one, Ledger(books, clock=clock) as two:
        assert one.next_sequence("order") == 102
        assert two.next_sequence("order") == 103


def test_threads_share_one_ledger(ledger):
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(20):
                no = f"T{k}-{i}"
                new_order(ledger, no, sale_id=f"S{k}")
                ledger.update_order(no, state="pending", expect="sending")
                ledger.get_order(no)
                ledger.unresolved_orders()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ledger.count_orders() == 80
    assert all(len(ledger.events(f"T{k}-{i}")) == 2 for k in range(4) for i in range(20))
