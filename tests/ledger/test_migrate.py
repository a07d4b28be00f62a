"""`cashier-cli ledger migrate --to postgresql://...`: a counter's SQLite books copied
into a shared PostgreSQL ledger, idempotently, and verified."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from cashier.ledger import Ledger, states
from cashier.ledger.migrate import MigrationMismatch, copy_ledger

from .helpers import RawConnection, new_order, paid_order


def _books_in_every_state(path, clock) -> dict[str, str]:
    """A SQLite ledger with an order in every order state and a refund in every refund
    state (set directly in the file: a state machine's path to each is not the point
    here), each with its events. Returns number -> state."""
    made = {}
    with Ledger(path, clock=clock) as ledger:
        for i, state in enumerate(sorted(states.ORDER_STATES)):
            no = f"PA1{i:03d}"
            new_order(ledger, no, counter_id="A1", amount=D("10.00") + i)
            made[no] = state
            clock.advance(1)
        paid = paid_order(ledger, "PA1999", amount=D("500.00"), counter_id="A1")
        for i, state in enumerate(sorted(states.REFUND_STATES)):
            no = f"RA1{i:03d}"
            ledger.create_refund(out_refund_no=no, out_trade_no=paid.out_trade_no, amount=D("1.25"),
                                 reason="退货", actor="店长")
            made[no] = state
            clock.advance(1)
        ledger.next_sequence("order")
        ledger.record_event("order", "PA1000", "manager_note", "店长", {"note": "看过了"})
    with Ledger(path, clock=clock) as ledger, RawConnection(ledger) as raw:
        for no, state in made.items():
            if no.startswith("R"):
                raw.execute("UPDATE refunds SET state = ? WHERE out_refund_no = ?", (state, no))
            else:
                raw.execute("UPDATE orders SET state = ?, paid_at = CASE WHEN ? = 'paid' THEN created_at END"
                            " WHERE out_trade_no = ?", (state, state, no))
        made["PA1999"] = "paid"
    return made


def _snapshot(ledger: Ledger, numbers) -> dict:
    out = {}
    for no in numbers:
        record = ledger.get_refund(no) if no.startswith("R") else ledger.get_order(no)
        out[no] = (record.state, record.amount, [(e.action, e.actor, e.old_state, e.new_state, e.detail)
                                                 for e in ledger.events(no)])
    return out


def test_copy_is_complete_idempotent_and_verified(tmp_path, pg_url, clock):
    source = tmp_path / "counter.sqlite3"
    made = _books_in_every_state(source, clock)
    with Ledger(pg_url, clock=clock) as shared:  # another counter's books are already there
        new_order(shared, "PB2000", counter_id="B2")

    first = copy_ledger(source, pg_url)
    assert first.copied["orders"] == len(states.ORDER_STATES) + 1
    assert first.copied["refunds"] == len(states.REFUND_STATES)
    assert first.copied["events"] > len(made)
    with Ledger(source, clock=clock) as old, Ledger(pg_url, clock=clock) as new:
        assert _snapshot(new, made) == _snapshot(old, made)
        assert {no: s for no, (s, *_rest) in _snapshot(new, made).items()} == made
        assert new.get_order("PB2000") is not None  # the other counter's order is untouched
        assert new.refundable("PA1999") == old.refundable("PA1999")
        assert new.next_sequence("order") == 2
        report_day = __import__("datetime").date.fromtimestamp(old.get_order("PA1999").paid_at)
        assert new.daily_report(report_day).totals == old.daily_report(report_day).totals

    second = copy_ledger(source, pg_url)
    assert not any(second.copied.values()) and {"orders", "refunds", "events"} <= set(second.copied)
    assert second.updated == {}
    assert second.totals == first.totals

    # The counter kept selling on its own file before switching: only what is new moves.
    with Ledger(source, clock=clock) as old:
        clock.advance(60)
        new_order(old, "PA1500", counter_id="A1")
        old.update_order("PA1500", state="pending", expect="sending")
    third = copy_ledger(source, pg_url)
    assert third.copied["orders"] == 1 and third.copied["events"] == 2
    with Ledger(pg_url, clock=clock) as new:
        assert new.get_order("PA1500").state == "pending"


def test_diverged_events_are_refused_and_nothing_is_written(tmp_path, pg_url, clock):
    source = tmp_path / "counter.sqlite3"
    with Ledger(source, clock=clock) as old:
        new_order(old, "PA1001", counter_id="A1")
    with Ledger(pg_url, clock=clock) as shared:
        new_order(shared, "PA1001", counter_id="A1", amount=D("99.00"))  # the same number, other books
    with pytest.raises(MigrationMismatch) as caught:
        copy_ledger(source, pg_url)
    assert "PA1001" in caught.value.message("en")
    with Ledger(pg_url, clock=clock) as shared:
        assert shared.get_order("PA1001").amount == D("99.00")
        assert shared.count_orders() == 1


def test_cli_migrate_twice(tmp_path, pg_url, clock, isolated_home):
    from cashier.paths import database_path

    from ..test_cli import as_json, cli

    _books_in_every_state(database_path(), clock)
    once = as_json(cli("--json", "ledger", "migrate", "--to", pg_url))
    assert once["copied"]["orders"] == len(states.ORDER_STATES) + 1
    again = as_json(cli("--json", "ledger", "migrate", "--to", pg_url))
    assert not any(again["copied"].values()) and {"orders", "refunds", "events"} <= set(again["copied"])
    assert again["verified"] == once["verified"]
    text = cli("--lang", "en", "ledger", "migrate", "--to", pg_url).stdout
    assert "0 orders, 0 refunds, 0 events" in text and "Totals agree" in text
