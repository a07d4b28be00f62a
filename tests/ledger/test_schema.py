"""Opening, migrating, refusing newer files, and durability across reopen."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from cashier.i18n import tr
from cashier.ledger import (
    SCHEMA_VERSION,
    Ledger,
    LedgerCorrupt,
    LedgerError,
    SchemaTooNew,
)
from cashier.ledger import schema

from .helpers import RawConnection, new_order, paid_order, sqlite_only


def _build_v1_file(path) -> None:
    """A ledger file as version 1 of the program left it, with one order, refund and event."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    schema.apply(conn, 0, 1)
    conn.execute(
        "INSERT INTO orders (out_trade_no, sale_id, counter_id, profile, gateway, method, wallet,"
        " amount_fen, amount_to_pay_fen, paid_amount_fen, state, subject, auth_code_last4,"
        " created_at, updated_at, paid_at)"
        " VALUES ('OLD1', 'S-old', 'c1', 'shop', 'ltzf', 'micropay', 'wechat', 1234, 1234, 1234,"
        " 'paid', '咖啡', '5678', 1000.0, 1001.0, 1001.0)"
    )
    conn.execute(
        "INSERT INTO orders (out_trade_no, sale_id, counter_id, profile, gateway, method, wallet,"
        " amount_fen, amount_to_pay_fen, state, created_at, updated_at, next_check_at, reason)"
        " VALUES ('OLD2', 'S-old2', 'c1', 'shop', 'ltzf', 'wechat', 'wechat', 500, 500,"
        " 'unknown', 2000.0, 2000.0, 2005.0, '支付网关响应超时，结果未知，正在查询')"
    )
    conn.execute(
        "INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, state, reason, actor,"
        " created_at, updated_at) VALUES ('ROLD1', 'OLD1', 234, 'succeeded', 'broken cup', 'boss',"
        " 1100.0, 1100.0)"
    )
    conn.execute(
        "INSERT INTO events (at, entity, entity_id, action, actor, old_state, new_state, detail)"
        " VALUES (1000.0, 'order', 'OLD1', 'created', 'clerk', NULL, 'sending', '{}')"
    )
    conn.execute("INSERT INTO sequences (name, value) VALUES ('order', 41)")
    conn.execute("COMMIT")
    assert schema.user_version(conn) == 1
    conn.close()


def _raw_version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return schema.user_version(conn)
    finally:
        conn.close()


@sqlite_only
def test_new_file_is_current_wal_and_full_sync(ledger):
    settings = ledger.settings()
    assert settings["user_version"] == SCHEMA_VERSION
    assert ledger.schema_version == SCHEMA_VERSION
    assert settings["journal_mode"] == "wal"
    assert settings["synchronous"] == 2  # FULL
    assert settings["busy_timeout"] == 5000
    assert settings["foreign_keys"] == 1


def test_default_path_is_the_app_database(clock):
    from cashier.paths import database_path

    with Ledger(clock=clock) as ledger:
        assert ledger.path == database_path()
        new_order(ledger, "X1")
    assert database_path().exists()


def test_v1_file_is_migrated_keeping_its_data(db_path, clock):
    _build_v1_file(db_path)
    with Ledger(db_path, clock=clock) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        old = ledger.get_order("OLD1")
        assert old.amount == Decimal("12.34")
        assert old.paid_amount == Decimal("12.34")
        assert old.subject == "咖啡"
        assert old.auth_code_last4 == "5678"
        assert old.checked_by is None  # column added by v2
        assert [e.action for e in ledger.events("OLD1")] == ["created"]
        assert ledger.events("OLD1")[0].changes == {}
        assert ledger.refundable("OLD1") == Decimal("10.00")
        assert [o.out_trade_no for o in ledger.unresolved_orders()] == ["OLD2"]
        assert [o.out_trade_no for o in ledger.due_orders(2005.0)] == ["OLD2"]
        assert ledger.next_sequence("order") == 42
        # a reason stored as text before v3 is shown as it was; new ones are codes
        old2 = ledger.get_order("OLD2")
        assert old2.reason == "支付网关响应超时，结果未知，正在查询" and old2.reason_code is None
        assert old2.owner is None and old2.lease_until is None  # claimable: no process owns it
        # and the migrated file works like a new one
        ledger.update_order("OLD2", state="needs_check", expect="unknown")
        ledger.mark_checked("OLD2", state="closed", actor="boss", reason_code="reason.unreachable")
        assert ledger.get_order("OLD2").checked_by == "boss"
        from cashier.i18n import tr

        assert ledger.get_order("OLD2").reason.startswith(tr("reason.unreachable"))
    conn = sqlite3.connect(db_path)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert {"orders_unresolved", "orders_history", "orders_paid_at", "refunds_finished"} <= indexes


def test_failed_migration_leaves_the_file_as_it_was(db_path, clock):
    _build_v1_file(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    # Something in the way of migration 2 (an object with the name of one of its indexes).
    conn.execute("CREATE TABLE orders_history (x)")
    conn.close()
    with pytest.raises(LedgerError):
        Ledger(db_path, clock=clock)
    assert _raw_version(db_path) == 1
    conn = sqlite3.connect(db_path)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(orders)")}
    conn.close()
    assert "checked_by" not in columns  # the ALTER TABLE of migration 2 was rolled back


def test_file_from_a_newer_version_is_refused(db_path, clock):
    with Ledger(db_path, clock=clock) as ledger:
        new_order(ledger, "N1")
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew) as caught:
        Ledger(db_path, clock=clock)
    error = caught.value
    assert str(SCHEMA_VERSION + 1) in error.message("zh_CN")
    assert "升级" in error.message("zh_CN")
    assert "newer version" in error.message("en")
    assert str(db_path) in error.message("en")
    assert _raw_version(db_path) == SCHEMA_VERSION + 1  # untouched


def test_garbage_file_is_reported_corrupt(db_path, clock):
    db_path.write_bytes(b"this is not a ledger at all, just some text\n" * 200)
    with pytest.raises(LedgerCorrupt) as caught:
        Ledger(db_path, clock=clock)
    assert "损坏" in caught.value.message("zh_CN")


def test_reopen_after_close_keeps_everything(db_path, clock):
    with Ledger(db_path, clock=clock) as ledger:
        order = new_order(ledger, "K1", auth_code_last4="4321", method="micropay")
        ledger.update_order("K1", state="userpaying", expect="sending", sent_at=clock.advance(1))
        paid = ledger.update_order("K1", state="paid", expect="userpaying", gateway_trade_no="420000")
        refund = ledger.create_refund(out_refund_no="KR1", out_trade_no="K1", amount=Decimal("1.00"),
                                      reason="找零", actor="boss")
        ledger.record_event("refund", "KR1", "manager approved", "boss", {"note": "ok"})
        seq = ledger.next_sequence("order")
        events_before = ledger.events("K1") + ledger.events("KR1")
    with Ledger(db_path, clock=clock) as ledger:
        assert ledger.get_order("K1") == paid
        assert ledger.get_refund("KR1") == refund
        assert ledger.events("K1") + ledger.events("KR1") == events_before
        assert ledger.next_sequence("order") == seq + 1
        assert ledger.refundable("K1") == paid.paid_amount - Decimal("1.00")
        assert order.created_at == ledger.get_order("K1").created_at


def test_closed_ledger_refuses_use(ledger):
    ledger.close()
    ledger.close()  # twice is fine
    with pytest.raises(LedgerError):
        ledger.get_order("X")


def test_messages_exist_in_both_languages():
    for key in ("ledger.busy", "ledger.full", "ledger.corrupt", "ledger.schema_too_new",
                "ledger.state_conflict", "ledger.duplicate_order", "ledger.refund_too_large",
                "ledger.refund_not_paid", "ledger.full_auth_code"):
        assert tr(key, lang="zh_CN") != key
        assert tr(key, lang="en") != tr(key, lang="zh_CN")


def test_paid_order_helper(ledger):
    assert paid_order(ledger, "P1").state == "paid"


def test_shared_ledger_is_current_and_writers_take_turns(pg_url, clock):
    """A PostgreSQL ledger records its version in ledger_meta, waits for another
    writer up to its lock timeout (like SQLite's busy timeout), and a second counter
    opening it at once migrates nothing twice."""
    with Ledger(pg_url, clock=clock) as first, Ledger(pg_url, clock=clock) as second:
        settings = first.settings()
        assert settings["backend"] == "postgresql"
        assert settings["user_version"] == SCHEMA_VERSION == second.schema_version
        assert settings["lock_timeout"] == "5s"
        assert settings["current_schema"].startswith("t_")
        new_order(first, "A1")
        assert second.get_order("A1") is not None


def test_money_checks_hold_on_postgresql(pg_url, clock):
    """The CHECK constraints are the database's own: a raw write of negative or zero
    fen is refused by the server."""
    with Ledger(pg_url, clock=clock) as ledger:
        new_order(ledger, "A1")
        with RawConnection(ledger) as conn:
            with pytest.raises(conn.errors, match="check"):
                conn.execute("UPDATE orders SET amount_fen = 0 WHERE out_trade_no = 'A1'")
            with pytest.raises(conn.errors, match="check"):
                conn.execute("UPDATE orders SET paid_amount_fen = -1 WHERE out_trade_no = 'A1'")
            with pytest.raises(conn.errors, match="check"):
                conn.execute("UPDATE orders SET auth_code_last4 = '12345' WHERE out_trade_no = 'A1'")
