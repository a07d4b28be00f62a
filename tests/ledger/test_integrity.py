"""Damaged books are named, never taken for new ones: a 0-byte file, garbage in the last
page, a file that is not whole pages. A new ledger appears at its path only whole."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest

from cashier.ledger import Ledger, LedgerCorrupt, LedgerEmpty, db

from .helpers import paid_order


def _garbage_over_last_page(path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size - 4096)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(4096)))


def _books(path, clock, n=30):
    with Ledger(path, clock=clock) as ledger:
        for i in range(n):
            paid_order(ledger, f"B{i:04d}", amount=Decimal("1.00"), subject="x" * 200)


def test_zero_byte_ledger_is_damaged_not_new(db_path, clock):
    db_path.write_bytes(b"")
    with pytest.raises(LedgerEmpty) as caught:
        Ledger(db_path, clock=clock)
    assert "0 字节" in caught.value.message("zh_CN") and str(db_path) in caught.value.message("en")
    assert db_path.stat().st_size == 0  # untouched


def test_garbage_in_the_last_page_is_found_at_open(db_path, clock):
    _books(db_path, clock)
    _garbage_over_last_page(db_path)
    with pytest.raises(LedgerCorrupt) as caught:
        Ledger(db_path, clock=clock)
    assert "损坏" in caught.value.message("zh_CN")


def test_a_file_that_is_not_whole_pages_is_damaged(db_path, clock):
    _books(db_path, clock, n=2)
    with open(db_path, "ab") as fh:
        fh.write(b"torn")
    with pytest.raises(LedgerCorrupt):
        Ledger(db_path, clock=clock)


def test_big_ledgers_are_checked_by_check_integrity(db_path, clock, monkeypatch):
    """Above the size read at every open, check_integrity (the window runs it on a worker
    after opening) finds the damage, on a connection of its own."""
    _books(db_path, clock)
    _garbage_over_last_page(db_path)
    monkeypatch.setattr(db, "QUICK_CHECK_MAX_BYTES", 0)
    with Ledger(db_path, clock=clock) as ledger:
        assert ledger.integrity == "not checked"
        with pytest.raises(LedgerCorrupt):
            ledger.check_integrity()
        assert ledger.integrity != "ok"


def test_new_ledger_appears_whole(db_path, clock):
    with Ledger(db_path, clock=clock) as ledger:
        assert ledger.integrity == "ok"
    assert [p.name for p in db_path.parent.iterdir() if p.name.startswith(".")] == []
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_processes_creating_the_same_new_ledger_at_once_all_open_it(tmp_path):
    path = tmp_path / "new" / "ledger.sqlite3"
    code = ("import sys; from cashier.ledger import Ledger\n"
            "l = Ledger(sys.argv[1]); print(l.schema_version); l.close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o for o, _ in outs}) == 1
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
