"""History search benchmark: fill a ledger with a year of orders (bench/ledger_bench.py's
fill), then time the searches a counter makes ("I paid 12.34 around three o'clock").

    python bench/history_bench.py                  # 1,000,000 orders (a few minutes)
    python bench/history_bench.py --orders 50000   # quick
    python bench/history_bench.py --keep /tmp/big.sqlite3
    python bench/history_bench.py --reuse /tmp/big.sqlite3   # a file kept before

Prints figures and query plans; asserts nothing. Each search is timed twice: with the
planner statistics the fill leaves (ANALYZE), and without them, as in a shop's file
that was never analysed. Every figure is one page of 50 (Ledger.search_orders), the
first page and then pages further back through the keyset cursor.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from ledger_bench import fill, ms, show, timed  # noqa: E402

from cashier.history_search import parse_search  # noqa: E402
from cashier.ledger import Ledger  # noqa: E402
from cashier.ledger.records import OrderQuery  # noqa: E402
from cashier.money import from_fen  # noqa: E402


def plan(path: Path, ledger: Ledger, query: OrderQuery) -> str:
    """The query plan of the search's SQL (traced from a real call)."""
    statements: list[str] = []
    conn = ledger._conn  # the bench reads the plan of the very statement the ledger runs
    conn.set_trace_callback(statements.append)
    try:
        ledger.search_orders(query, limit=50)
    finally:
        conn.set_trace_callback(None)
    out = []
    raw = sqlite3.connect(path)
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT") and " FROM orders" in sql and "LIMIT" in sql:
            rows = raw.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            out.append("; ".join(r[3] for r in rows))
    raw.close()
    return " || ".join(out)


def pages(ledger: Ledger, query: OrderQuery, n: int) -> tuple[float, list[float], int]:
    """(first page, the next n pages, rows seen)."""
    start = time.perf_counter()
    page = ledger.search_orders(query, limit=50)
    first = time.perf_counter() - start
    seen = len(page)
    later = []
    for _ in range(n):
        if len(page) < 50:
            break
        start = time.perf_counter()
        page = ledger.search_orders(query, limit=50, before=page[-1])
        later.append(time.perf_counter() - start)
        seen += len(page)
    return first, later, seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to fill (default 1,000,000)")
    parser.add_argument("--unresolved", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="write the ledger here and keep it")
    parser.add_argument("--reuse", type=Path, help="use a ledger filled before (--keep), no fill")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    tmp = None
    if args.reuse:
        path = args.reuse
        end = time.time()
    else:
        if args.keep:
            path = args.keep
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="history-bench-")
            path = Path(tmp.name) / "ledger.sqlite3"
        print(f"history bench: {args.orders:,} orders -> {path}")
        end = time.time()
        Ledger(path).close()  # schema, with the search indexes
        counts = fill(path, args.orders, args.unresolved, args.seed, end)
        print(f"fill: {counts['orders']:,} orders, {counts['refunds']:,} refunds in {counts['seconds']:.1f} s")
    print(f"  python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} cpus, {platform.platform()}")

    start = time.perf_counter()
    Ledger(path).close()
    print(f"open (migrating a file of an older schema, if it is one): {ms(time.perf_counter() - start)}")
    raw = sqlite3.connect(path)
    n_orders = raw.execute("SELECT count(*) FROM orders").fetchone()[0]
    newest = raw.execute("SELECT max(created_at) FROM orders").fetchone()[0]
    common_fen, common_n = raw.execute(
        "SELECT amount_fen, count(*) FROM orders GROUP BY amount_fen ORDER BY 2 DESC LIMIT 1").fetchone()
    rng = random.Random(args.seed + 7)
    # An order of the last day, as the customer at the counter remembers it.
    row = raw.execute("SELECT out_trade_no, amount_fen, created_at, wallet FROM orders"
                      " WHERE created_at > ? AND state = 'paid' ORDER BY random() LIMIT 1", (newest - 86400,)).fetchone()
    past = raw.execute("SELECT out_trade_no, amount_fen, created_at FROM orders WHERE rowid = ?",
                       (rng.randint(1, n_orders // 2),)).fetchone()
    raw.close()
    recent_no, recent_fen, recent_at, recent_wallet = row
    print(f"  {n_orders:,} orders; the commonest amount ¥{from_fen(common_fen)} is in {common_n:,} of them")

    recent_day = datetime.datetime.fromtimestamp(recent_at)
    typed = f"{from_fen(recent_fen)} {recent_day:%m-%d} {recent_day:%H}:{recent_day.minute // 30 * 30:02d}"
    parsed = parse_search(typed, now=newest)
    past_dt = datetime.datetime.fromtimestamp(past[2])
    day_start = datetime.datetime.combine(recent_day.date(), datetime.time()).timestamp()
    searches = [
        ("everything (newest first)", OrderQuery()),
        (f"typed '{typed}' (amount, day, around a time)", parsed.query),
        (f"amount ¥{from_fen(recent_fen)} (all days)", OrderQuery(amount=from_fen(recent_fen))),
        (f"commonest amount ¥{from_fen(common_fen)} (all days)", OrderQuery(amount=from_fen(common_fen))),
        (f"commonest amount, day {recent_day:%m-%d}", OrderQuery(amount=from_fen(common_fen), since=day_start,
                                                                 until=day_start + 86400)),
        (f"amount ¥{from_fen(past[1])}, {past_dt:%Y-%m-%d} 2 h", OrderQuery(
            amount=from_fen(past[1]), since=past[2] - 3600, until=past[2] + 3600)),
        ("one day", OrderQuery(since=day_start, until=day_start + 86400)),
        ("wallet unionpay (rare)", OrderQuery(wallet="unionpay")),
        ("wallet qq (none in the books)", OrderQuery(wallet="qq")),
        (f"wallet {recent_wallet}, one day", OrderQuery(wallet=recent_wallet, since=day_start,
                                                        until=day_start + 86400)),
        ("state paid", OrderQuery(status="paid")),
        ("state not paid", OrderQuery(status="not_paid")),
        ("state unfinished", OrderQuery(status="unresolved")),
        ("refunded (partly or fully)", OrderQuery(status="refunded")),
        ("partly refunded", OrderQuery(status="partly_refunded")),
        ("fully refunded", OrderQuery(status="fully_refunded")),
        ("refund not final", OrderQuery(status="refund_open")),
        ("partly refunded, wallet alipay", OrderQuery(status="partly_refunded", wallet="alipay")),
        # Worst cases: a second filter that nothing matches, so the walk reaches the end.
        ("worst: not paid, wallet qq (nothing)", OrderQuery(status="not_paid", wallet="qq")),
        ("worst: refunded, wallet qq (nothing)", OrderQuery(status="refunded", wallet="qq")),
        ("worst: paid, wallet qq (nothing)", OrderQuery(status="paid", wallet="qq")),
        (f"order number {recent_no}", OrderQuery(number=recent_no)),
        (f"order number {past[0]}", OrderQuery(number=past[0])),
    ]
    for label, stats in (("with planner statistics (ANALYZE)", True), ("without statistics (never analysed)", False)):
        if not stats:
            conn = sqlite3.connect(path)
            conn.execute("DROP TABLE IF EXISTS sqlite_stat1")
            conn.execute("DROP TABLE IF EXISTS sqlite_stat4")
            conn.commit()
            conn.close()
        ledger = Ledger(path)
        print(f"searches, one page of 50, {label}:")
        try:
            for name, query in searches:
                first, later = timed(lambda q=query: ledger.search_orders(q, limit=50), 20)
                show(name, first, later)
                page_first, deeper, seen = pages(ledger, query, 20)
                if deeper:
                    show("  ... then up to 20 older pages", deeper[0], deeper[1:] or deeper)
                print(f"      {len(ledger.search_orders(query, limit=50))} on the first page, {seen:,} in 21 pages;"
                      f" plan: {plan(path, ledger, query)}")
            start = time.perf_counter()
            for _ in range(100):
                parse_search(typed, now=newest)
            print(f"  parse_search('{typed}'): {ms((time.perf_counter() - start) / 100)}")
        finally:
            ledger.close()
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
