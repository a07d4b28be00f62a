"""Back-office benchmark: a year of orders (bench/ledger_bench.py's fill) spread over
shifts (two a day per counter) with cash sales beside them, then the time of what a
shop does every evening: the shift report and close (交班), reconciliation planning
(对账: a day's orders of one profile), the day report with cash, and a day's CSV export.

    python bench/books_bench.py                   # 1,000,000 orders (a few minutes)
    python bench/books_bench.py --orders 50000    # quick
    python bench/books_bench.py --reuse /tmp/big.sqlite3   # a ledger_bench --keep file

Prints figures and the query plans of the shift report; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ledger_bench import fill, ms, show, timed  # noqa: E402

from cashier.ledger import Ledger  # noqa: E402

SHIFT_HOURS = (8, 15)  # a morning and an evening shift per counter


class FakeEngine:
    """What Reconciler.plan needs: the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger


def add_shifts(path: Path, cash_share: float) -> dict[str, int]:
    """Give every order the shift it was taken in (counter, day, morning/evening), make
    those shifts (closed, the last one open) and cash sales beside the QR ones."""
    conn = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    conn.execute("BEGIN")
    rows = conn.execute("SELECT counter_id, min(created_at), max(created_at) FROM orders GROUP BY counter_id").fetchall()
    shift_id = 0
    shifts = []
    for counter, first, last in rows:
        day = datetime.date.fromtimestamp(first)
        end_day = datetime.date.fromtimestamp(last)
        while day <= end_day:
            for n, hour in enumerate(SHIFT_HOURS):
                opened = datetime.datetime(day.year, day.month, day.day, hour).timestamp()
                closes = opened + 7 * 3600
                shift_id += 1
                shifts.append((shift_id, counter, f"clerk{n}", opened, closes))
            day += datetime.timedelta(days=1)
    conn.executemany("INSERT INTO shifts (shift_id, counter_id, clerk, state, float_fen, opened_at, closed_at,"
                     " closed_by, expected_cash_fen, counted_cash_fen) VALUES (?, ?, ?, 'closed', 50000, ?, ?, ?,"
                     " 50000, 50000)", [(s, c, k, o, e, k) for s, c, k, o, e in shifts[:-1]])
    last = shifts[-1]
    conn.execute("INSERT INTO shifts (shift_id, counter_id, clerk, state, float_fen, opened_at)"
                 " VALUES (?, ?, ?, 'open', 50000, ?)", (last[0], last[1], last[2], last[3]))
    conn.execute("INSERT INTO sequences (name, value) VALUES ('shift', ?)", (shift_id,))
    by_key = {(c, o): s for s, c, _, o, _ in shifts}
    updates = []
    for no, counter, created in conn.execute("SELECT out_trade_no, counter_id, created_at FROM orders"):
        d = datetime.datetime.fromtimestamp(created)
        hour = SHIFT_HOURS[1] if d.hour >= SHIFT_HOURS[1] else SHIFT_HOURS[0]
        opened = datetime.datetime(d.year, d.month, d.day, hour).timestamp()
        updates.append((by_key.get((counter, opened)), no))
    conn.executemany("UPDATE orders SET shift_id = ?, clerk = 'clerk' WHERE out_trade_no = ?", updates)
    conn.execute("UPDATE refunds SET shift_id = (SELECT shift_id FROM orders WHERE orders.out_trade_no ="
                 " refunds.out_trade_no)")
    cash = []
    step = max(1, int(1 / cash_share))
    for i, (shift, no) in enumerate(updates[::step]):
        created = conn.execute("SELECT created_at FROM orders WHERE out_trade_no = ?", (no,)).fetchone()[0]
        cash.append((f"C{i:09d}", shift, "sale", 100 + i % 5000, created + 1))
    conn.executemany("INSERT INTO cash_entries (entry_no, shift_id, kind, amount_fen, clerk, created_at)"
                     " VALUES (?, ?, ?, ?, 'clerk', ?)", cash)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {"shifts": len(shifts), "cash_entries": len(cash), "seconds": int(time.perf_counter() - started)}


def plans(path: Path, ledger: Ledger, shift_id: int) -> list[str]:
    statements: list[str] = []
    conn = ledger._conn
    conn.set_trace_callback(statements.append)
    try:
        ledger.shift_report(shift_id)
    finally:
        conn.set_trace_callback(None)
    raw = sqlite3.connect(path)
    out = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT") and "FROM" in sql:
            rows = raw.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            out.append(" ".join(sql.split())[:70] + " -> " + "; ".join(r[3] for r in rows))
    raw.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--unresolved", type=int, default=200)
    parser.add_argument("--cash-share", type=float, default=0.2, help="cash sales per order (default 0.2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", default=None, help="a ledger filled before (ledger_bench --keep)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; sqlite "
          f"{sqlite3.sqlite_version}")
    tmp = None
    if args.reuse:
        path = Path(args.reuse)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="books-bench-")
        path = Path(tmp.name) / "ledger.sqlite3"
        Ledger(path).close()  # the schema, migrated to the newest version
        started = time.perf_counter()
        made = fill(path, args.orders, args.unresolved, args.seed, time.time())
        print(f"filled {made} in {time.perf_counter() - started:.0f} s")
    with Ledger(path) as ledger:  # migrates a reused older file
        pass
    print("shifts:", add_shifts(path, args.cash_share))
    with Ledger(path) as ledger:
        total = ledger.count_orders()
        open_shift = ledger.shifts(limit=1)[0]
        closed = ledger.shifts(limit=3)[2]
        counts = sqlite3.connect(path).execute(
            "SELECT count(*) FROM orders WHERE shift_id = ?", (open_shift.shift_id,)).fetchone()[0]
        print(f"{total} orders; the open shift {open_shift.shift_id} has {counts} orders")
        show("shift report, open shift (live)", *timed(lambda: ledger.shift_report(open_shift.shift_id),
                                                      args.repeat))
        show("shift report, closed shift (snapshot)", *timed(lambda: ledger.shift_report(closed.shift_id),
                                                            args.repeat))
        started = time.perf_counter()
        report = ledger.close_shift(open_shift.shift_id, counted=report_cash(ledger, open_shift.shift_id),
                                    actor="bench")
        print(f"  close shift (report + snapshot + event, one transaction): "
              f"{ms(time.perf_counter() - started)}; {len(report.lines)} lines, {len(report.unresolved)} unresolved")
        for line in plans(path, ledger, closed.shift_id):
            print("   plan:", line)
        from cashier.reconcile import Reconciler

        day = datetime.date.fromtimestamp(open_shift.opened_at)
        rec = Reconciler(FakeEngine(ledger))
        for profile in ("ltzf-main", "epay-main"):
            first, later = timed(lambda p=profile: rec.plan(p, day), args.repeat)
            print(f"  reconciliation plan {profile} {day}: {len(rec.plan(profile, day))} orders")
            show(f"reconciliation planning ({profile}, one day)", first, later)
        show("day report with cash and reconciliation", *timed(lambda: ledger.daily_report(day), args.repeat))
        from cashier.books import export_csv

        out = Path(tempfile.gettempdir()) / "books-bench-export.csv"
        started = time.perf_counter()
        rows = export_csv(ledger, day, day, out)
        print(f"  CSV export of one day: {rows} rows in {ms(time.perf_counter() - started)}")
        out.unlink()
    if tmp is not None:
        tmp.cleanup()
    return 0


def report_cash(ledger: Ledger, shift_id: int) -> Decimal:
    return ledger.shift_report(shift_id).expected_cash


if __name__ == "__main__":
    raise SystemExit(main())
