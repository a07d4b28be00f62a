"""History search: by amount, time range, wallet, state and number; keyset pages;
refund state per order; the indexes it walks."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from cashier.ledger import Ledger
from cashier.ledger.records import HistoryEntry, OrderQuery

from .helpers import RawConnection, drive, new_order, paid_order, sqlite_only

D = Decimal


def _refund(ledger, order, no, amount, state="succeeded"):
    ledger.create_refund(out_refund_no=no, out_trade_no=order.out_trade_no, amount=D(amount), reason="退货",
                         actor="店长")
    if state != "sending":
        ledger.update_refund(no, state=state, expect="sending")


def _numbers(entries):
    return [e.order.out_trade_no for e in entries]


@pytest.fixture
def shop(ledger, clock):
    """Six orders a minute apart: amounts, wallets and states to search for."""
    made = {}
    made["a"] = paid_order(ledger, "A", amount=D("12.34"), wallet="wechat")
    clock.advance(60)
    made["b"] = paid_order(ledger, "B", amount=D("12.34"), wallet="alipay")
    clock.advance(60)
    made["c"] = paid_order(ledger, "C", amount=D("50.00"), wallet="wechat")
    clock.advance(60)
    made["d"] = new_order(ledger, "D", amount=D("12.34"), wallet="wechat")  # still sending
    clock.advance(60)
    made["e"] = ledger.update_order(new_order(ledger, "E", amount=D("8.00")).out_trade_no, state="closed",
                                    expect="sending")
    clock.advance(60)
    # its500 style: a sale of 20.00 the customer paid 19.50 for
    made["f"] = paid_order(ledger, "F", amount=D("20.00"), amount_to_pay=D("19.50"), wallet="alipay")
    clock.advance(60)
    return made


def test_no_query_lists_everything_newest_first(ledger, shop):
    entries = ledger.search_orders()
    assert _numbers(entries) == ["F", "E", "D", "C", "B", "A"]
    assert all(isinstance(e, HistoryEntry) for e in entries)


def test_by_amount_finds_sale_amount_and_paid_amount(ledger, shop):
    assert _numbers(ledger.search_orders(OrderQuery(amount=D("12.34")))) == ["D", "B", "A"]
    assert _numbers(ledger.search_orders(OrderQuery(amount=D("19.50")))) == ["F"]  # what the customer paid
    assert _numbers(ledger.search_orders(OrderQuery(amount=D("20.00")))) == ["F"]  # what the sale was
    assert ledger.search_orders(OrderQuery(amount=D("12.35"))) == []


def test_by_time_range(ledger, shop):
    a, c = shop["a"], shop["c"]
    entries = ledger.search_orders(OrderQuery(since=a.created_at + 30, until=c.created_at + 1))
    assert _numbers(entries) == ["C", "B"]
    assert _numbers(ledger.search_orders(OrderQuery(amount=D("12.34"), until=c.created_at))) == ["B", "A"]


def test_by_wallet(ledger, shop):
    assert _numbers(ledger.search_orders(OrderQuery(wallet="alipay"))) == ["F", "B"]
    assert _numbers(ledger.search_orders(OrderQuery(wallet="wechat", amount=D("12.34")))) == ["D", "A"]


def test_by_state(ledger, shop):
    assert _numbers(ledger.search_orders(OrderQuery(status="paid"))) == ["F", "C", "B", "A"]
    assert _numbers(ledger.search_orders(OrderQuery(status="unresolved"))) == ["D"]
    assert _numbers(ledger.search_orders(OrderQuery(status="not_paid"))) == ["E"]
    assert _numbers(ledger.search_orders(OrderQuery(status="paid", wallet="alipay"))) == ["F", "B"]
    assert _numbers(ledger.search_orders(OrderQuery(status="not_paid", wallet="wechat"))) == ["E"]
    assert ledger.search_orders(OrderQuery(status="not_paid", wallet="alipay")) == []
    with pytest.raises(ValueError):
        OrderQuery(status="weird")


def test_refund_state_per_order_and_by_state(ledger, shop):
    _refund(ledger, shop["a"], "RA1", "2.34")  # partly
    _refund(ledger, shop["c"], "RC1", "20.00")
    _refund(ledger, shop["c"], "RC2", "30.00")  # fully, in two refunds
    _refund(ledger, shop["b"], "RB1", "1.00", state="failed")  # gives nothing back
    _refund(ledger, shop["f"], "RF1", "5.00", state="processing")  # not final yet
    entries = {e.order.out_trade_no: e for e in ledger.search_orders()}
    assert entries["A"].refund_state == "partly" and entries["A"].refunded == D("2.34")
    assert entries["A"].refundable == D("10.00")
    assert entries["C"].refund_state == "fully" and entries["C"].refundable == D("0.00")
    assert entries["B"].refund_state == "none" and entries["B"].refunded == D("0.00")
    assert entries["F"].refund_state == "none" and entries["F"].refunding == D("5.00")
    assert entries["F"].refundable == D("14.50") == ledger.refundable("F")
    assert _numbers(ledger.search_orders(OrderQuery(status="refunded"))) == ["C", "A"]
    assert _numbers(ledger.search_orders(OrderQuery(status="partly_refunded"))) == ["A"]
    assert _numbers(ledger.search_orders(OrderQuery(status="fully_refunded"))) == ["C"]
    assert _numbers(ledger.search_orders(OrderQuery(status="refund_open"))) == ["F"]
    assert ledger.history_entry("C").refund_state == "fully"
    assert ledger.history_entry("nope") is None


def test_by_number_finds_order_gateway_and_refund_numbers(ledger, shop):
    ledger.update_order("B", gateway_trade_no="4200000001")
    _refund(ledger, shop["a"], "RA1", "1.00")
    assert _numbers(ledger.search_orders(OrderQuery(number="C"))) == ["C"]
    assert _numbers(ledger.search_orders(OrderQuery(number="4200000001"))) == ["B"]
    found = ledger.search_orders(OrderQuery(number="RA1"))
    assert _numbers(found) == ["A"] and found[0].refunded == D("1.00")
    assert ledger.search_orders(OrderQuery(number="ZZZ")) == []


def test_pages_follow_each_other_without_gaps_or_repeats(ledger, clock):
    for k in range(23):
        paid_order(ledger, f"P{k:03d}", amount=D("12.34") if k % 2 else D("9.99"),
                   **({"amount_to_pay": D("12.00")} if k % 5 == 0 and k % 2 else {}))
        if k % 3 == 0:
            clock.advance(1)  # some share a created_at: the order number breaks the tie
    for query in (OrderQuery(), OrderQuery(amount=D("12.34")), OrderQuery(amount=D("12.00")),
                  OrderQuery(status="paid")):
        everything = ledger.search_orders(query, limit=1000)
        pages, page = [], ledger.search_orders(query, limit=4)
        while page:
            pages.extend(page)
            page = ledger.search_orders(query, limit=4, before=page[-1])
        assert _numbers(pages) == _numbers(everything)
        assert len(set(_numbers(pages))) == len(pages)
    assert len(ledger.search_orders(OrderQuery(amount=D("12.34")), limit=1000)) == 11


@sqlite_only
def test_search_walks_an_index_in_order(ledger, shop):
    """Each filter's query plan uses its index and needs no sort (keyset pages)."""
    conn = sqlite3.connect(ledger.path)

    def plan(sql, params):
        return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    from cashier.ledger import db

    base = f"{db._ORDER_SELECT}"
    order = " ORDER BY created_at DESC, out_trade_no DESC LIMIT 50"
    amount = plan(base + " INDEXED BY orders_amount WHERE amount_fen = ?" + order, (1234,))
    assert "orders_amount" in amount and "TEMP B-TREE" not in amount
    paid = plan(base + f" INDEXED BY orders_paid_amount WHERE {db._SHOWN_AMOUNT_SQL} = ?"
                f" AND {db._SHOWN_AMOUNT_DIFFERS_SQL}" + order, (1234,))
    assert "orders_paid_amount" in paid and "TEMP B-TREE" not in paid
    wallet = plan(base + " WHERE created_at >= ? AND created_at < ? AND wallet = ?" + order, (0, 1, "wechat"))
    assert "orders_wallet" in wallet and "TEMP B-TREE" not in wallet
    state = plan(base + " WHERE state = 'paid'" + order, ())
    assert "orders_state" in state and "TEMP B-TREE" not in state
    for status in ("refunded", "partly_refunded", "fully_refunded"):
        refunded = plan(base + f" INDEXED BY orders_refunded WHERE {db._STATUS_SQL[status][0]}" + order, ())
        assert "orders_refunded" in refunded and "TEMP B-TREE" not in refunded
    conn.close()


def test_migration_from_v2_adds_the_search_indexes(db_path):
    from cashier.ledger import schema

    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN")
    schema.apply(conn, 0, 2)
    conn.execute("COMMIT")
    conn.close()
    with Ledger(db_path) as ledger:
        assert ledger.schema_version == schema.SCHEMA_VERSION >= 3
        paid_order(ledger, "X1", amount=D("3.00"))
        assert _numbers(ledger.search_orders(OrderQuery(amount=D("3.00")))) == ["X1"]


def test_not_paid_and_unfinished_pages_across_states(ledger, clock):
    kinds = ["closed", "failed", "reversed", "pending", "paid", "needs_check"]
    for k in range(30):
        state = kinds[k % len(kinds)]
        order = new_order(ledger, f"N{k:03d}", amount=D("1.00"))
        drive(ledger, order.out_trade_no, state)  # along the state machine
        clock.advance(1 if k % 4 else 0)
    for status, wanted in (("not_paid", {"closed", "failed", "reversed"}), ("unresolved", {"pending", "needs_check"})):
        expected = [f"N{k:03d}" for k in range(29, -1, -1) if kinds[k % len(kinds)] in wanted]
        query = OrderQuery(status=status)
        pages, page = [], ledger.search_orders(query, limit=4)
        while page:
            pages.extend(page)
            page = ledger.search_orders(query, limit=4, before=page[-1])
        assert _numbers(pages) == expected, status
        assert _numbers(ledger.search_orders(OrderQuery(status=status, amount=D("1.00")), limit=100)) == expected


def _refunded_fen(ledger, no):
    with RawConnection(ledger) as conn:
        return conn.scalar("SELECT refunded_fen FROM orders WHERE out_trade_no = ?", (no,))


def test_refunded_sum_follows_every_refund_state(ledger):
    order = paid_order(ledger, "R1", amount=D("30.00"))
    ledger.create_refund(out_refund_no="X1", out_trade_no="R1", amount=D("10.00"), reason="", actor="店长")
    assert _refunded_fen(ledger, "R1") == 0  # sent, not yet given back
    ledger.update_refund("X1", state="processing", expect="sending")
    assert _refunded_fen(ledger, "R1") == 0
    ledger.update_refund("X1", state="succeeded", expect="processing")
    assert _refunded_fen(ledger, "R1") == 1000
    _refund(ledger, order, "X2", "5.00", state="failed")
    assert _refunded_fen(ledger, "R1") == 1000
    _refund(ledger, order, "X3", "20.00")
    assert _refunded_fen(ledger, "R1") == 3000
    assert ledger.history_entry("R1").refund_state == "fully"


def test_migration_from_v3_counts_the_refunds_already_made(db_path):
    from cashier.ledger import schema

    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN")
    schema.apply(conn, 0, 3)
    conn.execute("COMMIT")
    for no, state in (("O1", "paid"), ("O2", "paid")):
        conn.execute("INSERT INTO orders (out_trade_no, sale_id, counter_id, profile, gateway, method, wallet,"
                     " amount_fen, amount_to_pay_fen, paid_amount_fen, state, created_at, updated_at)"
                     " VALUES (?, ?, '01', 'p', 'ltzf', 'wechat', 'wechat', 1000, 1000, 1000, ?, 1, 1)",
                     (no, no, state))
    for rno, no, fen, state in (("Q1", "O1", 300, "succeeded"), ("Q2", "O1", 200, "failed"),
                                ("Q3", "O2", 1000, "succeeded")):
        conn.execute("INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, state, actor, created_at,"
                     " updated_at) VALUES (?, ?, ?, ?, 'x', 2, 2)", (rno, no, fen, state))
    conn.close()
    with Ledger(db_path) as ledger:
        assert (_refunded_fen(ledger, "O1"), _refunded_fen(ledger, "O2")) == (300, 1000)
        assert _numbers(ledger.search_orders(OrderQuery(status="partly_refunded"))) == ["O1"]
        assert _numbers(ledger.search_orders(OrderQuery(status="fully_refunded"))) == ["O2"]
