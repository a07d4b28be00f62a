"""A write that fails changes nothing: locked database, full disk."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from cashier.ledger import Ledger, LedgerBusy, LedgerFull

from .helpers import new_order, paid_order


@pytest.fixture
def locker(db_path):
    """Another program's connection; `hold()` takes an exclusive lock until released."""

    class Locker:
        def __init__(self) -> None:
            self.conn = sqlite3.connect(db_path, isolation_level=None)
            # a SQLite file without the ledger's schema yet (a 0-byte file would be damaged books)
            self.conn.execute("PRAGMA journal_mode = WAL")

        def hold(self) -> None:
            self.conn.execute("BEGIN EXCLUSIVE")

        def release(self) -> None:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    locker = Locker()
    yield locker
    locker.release()
    locker.conn.close()


def test_locked_database_raises_busy_and_changes_nothing(db_path, clock, locker):
    with Ledger(db_path, clock=clock, busy_timeout_ms=50) as ledger:
        assert ledger.settings()["busy_timeout"] == 50
        paid_order(ledger, "P1", amount=Decimal("10.00"))
        new_order(ledger, "U1")
        before = {n: (ledger.get_order(n), ledger.events(n)) for n in ("P1", "U1")}
        seq = ledger.next_sequence("order")

        locker.hold()
        with pytest.raises(LedgerBusy) as caught:
            new_order(ledger, "N1")
        assert "占用" in caught.value.message("zh_CN")
        with pytest.raises(LedgerBusy):
            ledger.update_order("U1", state="pending", expect="sending")
        with pytest.raises(LedgerBusy):
            ledger.create_refund(out_refund_no="R1", out_trade_no="P1", amount=Decimal("1.00"),
                                 reason="", actor="boss")
        with pytest.raises(LedgerBusy):
            ledger.record_event("order", "U1", "clerk pressed 查单", "clerk")
        with pytest.raises(LedgerBusy):
            ledger.next_sequence("order")
        # reads still work while another program writes (WAL)
        assert ledger.get_order("U1").state == "sending"
        locker.release()

        assert ledger.get_order("N1") is None and ledger.events("N1") == []
        assert {n: (ledger.get_order(n), ledger.events(n)) for n in ("P1", "U1")} == before
        assert ledger.refunds_for("P1") == []
        assert ledger.next_sequence("order") == seq + 1
        # and the ledger works again once the lock is gone
        assert ledger.update_order("U1", state="pending", expect="sending").state == "pending"


def test_opening_a_locked_file_that_needs_migration_is_busy(db_path, clock, locker):
    locker.hold()  # the file does not even have a schema yet
    with pytest.raises(LedgerBusy):
        Ledger(db_path, clock=clock, busy_timeout_ms=50)
    locker.release()
    with Ledger(db_path, clock=clock) as ledger:
        assert ledger.count_orders() == 0


def test_full_disk_raises_full_and_changes_nothing(db_path, clock):
    """The file is capped at its current size (PRAGMA max_page_count): inserts hit
    SQLITE_FULL exactly as on a full disk."""
    with Ledger(db_path, clock=clock) as ledger:
        paid_order(ledger, "P1", amount=Decimal("10.00"))
        pages = ledger.settings()["page_count"]

    with Ledger(db_path, clock=clock, max_page_count=pages) as ledger:
        assert ledger.settings()["max_page_count"] == pages
        written = []
        with pytest.raises(LedgerFull) as caught:
            for i in range(100_000):
                written.append(new_order(ledger, f"F{i:06d}", subject="x" * 200).out_trade_no)
        assert "磁盘已满" in caught.value.message("zh_CN")
        failed = f"F{len(written):06d}"
        assert ledger.get_order(failed) is None
        assert ledger.events(failed) == []
        assert ledger.count_orders() == len(written) + 1
        for no in written:
            assert ledger.get_order(no).state == "sending"
            assert len(ledger.events(no)) == 1

        # a refund that does not fit either: nothing half-written
        refundable = ledger.refundable("P1")
        with pytest.raises(LedgerFull):
            for i in range(100_000):
                ledger.create_refund(out_refund_no=f"R{i}", out_trade_no="P1", amount=Decimal("0.01"),
                                     reason="y" * 300, actor="boss")
                refundable -= Decimal("0.01")
        assert ledger.refundable("P1") == refundable
        assert all(len(ledger.events(r.out_refund_no)) == 1 for r in ledger.refunds_for("P1"))

    # with room again, everything written before is there and writing works
    with Ledger(db_path, clock=clock) as ledger:
        assert ledger.count_orders() == len(written) + 1
        new_order(ledger, failed)
        assert ledger.get_order(failed).state == "sending"
