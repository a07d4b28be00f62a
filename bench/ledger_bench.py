"""Ledger benchmark: fill a ledger with a year of orders, then time what a counter does.

    python bench/ledger_bench.py                   # 1,000,000 orders (a few minutes)
    python bench/ledger_bench.py --orders 20000    # quick
    python bench/ledger_bench.py --keep /tmp/big.sqlite3
    python bench/ledger_bench.py --pg-url postgresql://postgres@127.0.0.1/test
                                  # the same on a shared PostgreSQL ledger too (a fresh
                                  # schema, dropped afterwards), both in one table

Prints figures; asserts nothing. Targets (2 cores): history page and lookup < 10 ms,
a day's report < 100 ms, recovery scan (unresolved orders + refunds) < 50 ms.

The fill writes rows with executemany in batch transactions, straight into the schema
the Ledger created (the same columns, events and indexes the engine's path produces).
The engine's real path (create_order + update_order + update_order, each committed with
synchronous=FULL) is timed separately on the filled ledger.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cashier.ledger import Ledger, db  # noqa: E402
from cashier.money import from_fen  # noqa: E402

GATEWAYS = [("ltzf", 35), ("epay", 20), ("fengniao", 20), ("weidoufu", 15), ("its500", 10)]
METHODS = [("micropay", 50), ("merged", 20), ("wechat", 15), ("alipay", 15)]
UNRESOLVED = ["pending", "unknown", "userpaying", "needs_check", "expired", "closing", "reversing"]
DAY = 86400


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def number(kind: str, counter: str, at: float, seq: int) -> str:
    return f"{kind}{counter}{time.strftime('%Y%m%d%H%M%S', time.localtime(at))}{seq % 1_000_000:06d}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    """(first call, later calls) in seconds."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    later = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        later.append(time.perf_counter() - start)
    return first, later


def show(label: str, first: float, later: list[float]) -> None:
    later = sorted(later) or [first]
    p99 = later[min(len(later) - 1, math.ceil(len(later) * 0.99) - 1)]
    print(f"  {label:<44} first {ms(first)}  median {ms(statistics.median(later))}"
          f"  p99 {ms(p99)}  max {ms(later[-1])}  (n={len(later)})")


# --------------------------------------------------------------------------- fill


def _connect(target):
    """A raw connection to the ledger's database taking the ledger's SQL (SQLite, or
    PostgreSQL through the dialect layer)."""
    if isinstance(target, str):
        import psycopg

        from cashier.ledger import postgres

        return postgres.Connection(psycopg.connect(target, autocommit=True))
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def fill(path, n_orders: int, n_unresolved: int, seed: int, end: float) -> dict:
    rng = random.Random(seed)
    conn = _connect(path)
    shared = isinstance(path, str)
    start_day = datetime.date.fromtimestamp(end) - datetime.timedelta(days=365)
    recent = range(max(0, n_orders - n_orders // 12), n_orders)  # the last month
    unresolved_at = set(rng.sample(recent, min(n_unresolved, len(recent))))
    order_sql = (
        "INSERT INTO orders (out_trade_no, sale_id, counter_id, profile, gateway, method, wallet,"
        " amount_fen, amount_to_pay_fen, paid_amount_fen, state, subject, auth_code_last4, qr,"
        " gateway_trade_no, reason, created_at, updated_at, sent_at, expires_at, paid_at,"
        " watch_until, next_check_at, check_count)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    refund_sql = (
        "INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, state, reason, actor,"
        " gateway_refund_no, created_at, updated_at, sent_at, finished_at, next_check_at, check_count)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    event_sql = (
        "INSERT INTO events (at, entity, entity_id, action, actor, old_state, new_state, detail, changes)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    per_day = n_orders / 365
    counts = {"orders": 0, "refunds": 0, "events": 0, "unresolved_refunds": 0}
    batch = 10_000
    refund_seq = 0
    started = time.perf_counter()
    i = 0
    while i < n_orders:
        orders, refunds, events = [], [], []
        for i in range(i, min(i + batch, n_orders)):
            day = start_day + datetime.timedelta(days=int(i / per_day))
            opening = datetime.datetime(day.year, day.month, day.day, 8).timestamp()
            # spread the day's orders over 08:00-22:00, in order
            created = opening + (i / per_day - int(i / per_day)) * 14 * 3600 + rng.random()
            counter = rng.choice(("C1", "C2", "C3"))
            no = number("P", counter, created, i)
            gateway = pick(rng, GATEWAYS)
            method = "wechat" if gateway == "its500" and rng.random() < 0.5 else pick(rng, METHODS)
            if gateway == "its500" and method == "micropay":
                method = "alipay"
            if method == "micropay":
                wallet = rng.choices(["wechat", "alipay", "unionpay"], [60, 35, 5])[0]
            elif method == "merged":
                wallet = rng.choice(["wechat", "alipay"])
            else:
                wallet = method
            fen = max(1, min(2_000_000, int(math.exp(rng.gauss(7.3, 1.1)))))
            to_pay = fen - rng.randint(1, min(99, fen - 1)) if gateway == "its500" and fen > 100 else fen
            qr = None if method == "micropay" else (
                f"weixin://wxpay/bizpayurl?pr={rng.getrandbits(40):x}" if wallet == "wechat"
                else f"https://qr.alipay.com/bax0{rng.getrandbits(64):x}")
            last4 = f"{rng.randint(0, 9999):04d}" if method == "micropay" else None
            sent = created + 0.05
            roll = rng.random()
            if i in unresolved_at:
                state = rng.choice(UNRESOLVED)
                final_at, paid_at, paid_fen, gw_no = sent + 5, None, None, None
                next_check = end + rng.uniform(-60, 600)
            elif roll < 0.90:
                state, final_at = "paid", sent + rng.uniform(2, 60)
                paid_at, paid_fen = final_at, to_pay
                gw_no = f"42000{rng.getrandbits(70):022d}"[:28]
                next_check = None
            else:
                state = "closed" if roll < 0.95 else "failed" if roll < 0.98 else "reversed"
                final_at, paid_at, paid_fen, gw_no, next_check = sent + rng.uniform(30, 300), None, None, None, None
            orders.append((
                no, no, counter, f"{gateway}-main", gateway, method, wallet, fen, to_pay, paid_fen,
                state, "收银台", last4, qr, gw_no, None if state == "paid" else "", created, final_at,
                sent, created + 300, paid_at, None, next_check, rng.randint(0, 6),
            ))
            events.append((created, "order", no, "created", "clerk", None, "sending", "{}", "{}"))
            middle = "userpaying" if method == "micropay" else "pending"
            events.append((sent, "order", no, "sent", "engine", "sending", middle, "{}",
                           json.dumps({"sent_at": sent} | ({"qr": qr} if qr else {}))))
            if state != middle:
                changes = {"paid_amount": str(from_fen(paid_fen)), "paid_at": paid_at,
                           "gateway_trade_no": gw_no} if state == "paid" else {}
                events.append((final_at, "order", no, "query", "engine", middle, state, "{}", json.dumps(changes)))
            if state == "paid" and rng.random() < 0.02:
                refund_seq += 1
                rno = number("R", counter, final_at + 600, refund_seq)
                amount = paid_fen if rng.random() < 0.7 else rng.randint(1, paid_fen)
                r_created = final_at + rng.uniform(60, 3 * DAY)
                pending_refund = r_created > end - 3 * DAY and rng.random() < 0.3
                r_state = rng.choice(["processing", "unknown"]) if pending_refund else "succeeded"
                finished = None if pending_refund else r_created + rng.uniform(1, 120)
                refunds.append((rno, no, amount, r_state, "退货", "manager", f"50{rng.getrandbits(60):020d}",
                                r_created, finished or r_created, r_created + 0.05, finished,
                                end + 60 if pending_refund else None, 1))
                events.append((r_created, "refund", rno, "created", "manager", None, "sending",
                               json.dumps({"out_trade_no": no, "amount": str(from_fen(amount))}), "{}"))
                events.append((finished or r_created + 1, "refund", rno, "query", "engine", "sending", r_state, "{}", "{}"))
                counts["unresolved_refunds"] += pending_refund
        i += 1
        conn.execute("BEGIN" if shared else "BEGIN IMMEDIATE")
        conn.executemany(order_sql, orders)
        conn.executemany(refund_sql, refunds)
        conn.executemany(event_sql, events)
        conn.execute("COMMIT")
        counts["orders"] += len(orders)
        counts["refunds"] += len(refunds)
        counts["events"] += len(events)
        if counts["orders"] % 100_000 < batch:
            rate = counts["orders"] / (time.perf_counter() - started)
            print(f"  ... {counts['orders']:>9,} orders ({rate:,.0f}/s)", flush=True)
    if not shared:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    (conn.raw if shared else conn).close()
    counts["seconds"] = time.perf_counter() - started
    return counts


# ---------------------------------------------------------------------- measures


def real_path(ledger: Ledger, n: int, seed: int) -> None:
    rng = random.Random(seed)
    base = ledger.next_sequence("bench")
    calls = {"create_order": [], "update_order(pending)": [], "update_order(paid)": []}
    started = time.perf_counter()
    for k in range(n):
        no = f"PBENCH{base:06d}{k:08d}"
        t0 = time.perf_counter()
        ledger.create_order(out_trade_no=no, sale_id=no, counter_id="C9", profile="ltzf-main",
                            gateway="ltzf", method="wechat", wallet="wechat",
                            amount=from_fen(rng.randint(1, 100_000)), subject="收银台")
        t1 = time.perf_counter()
        ledger.update_order(no, state="pending", expect="sending", action="sent",
                            qr="weixin://wxpay/bizpayurl?pr=abcdef", sent_at=t1)
        t2 = time.perf_counter()
        ledger.update_order(no, state="paid", expect="pending", action="query",
                            gateway_trade_no=f"4200{k:024d}")
        t3 = time.perf_counter()
        calls["create_order"].append(t1 - t0)
        calls["update_order(pending)"].append(t2 - t1)
        calls["update_order(paid)"].append(t3 - t2)
    total = time.perf_counter() - started
    print(f"  engine path: {n:,} orders x (create_order + 2 x update_order), each committed")
    print(f"    {n / total:,.0f} orders/s, {3 * n / total:,.0f} committed writes/s, {total / n * 1000:.2f} ms per order")
    for name, values in calls.items():
        values.sort()
        print(f"    {name:<24} median {ms(statistics.median(values))}  p99 "
              f"{ms(values[int(len(values) * 0.99) - 1])}  max {ms(values[-1])}")
    return total / n


def run(path, args, end: float) -> dict[str, float]:
    """Fill the ledger at `path` (a SQLite file or a postgresql:// URL), time what a
    counter does, print it; returns the medians for the summary table."""
    shared = isinstance(path, str)
    results: dict[str, float] = {}
    Ledger(path).close()  # schema
    counts = fill(path, args.orders, args.unresolved, args.seed, end)
    print(f"fill: {counts['orders']:,} orders, {counts['refunds']:,} refunds, {counts['events']:,} events"
          f" in {counts['seconds']:.1f} s = {counts['orders'] / counts['seconds']:,.0f} orders/s"
          f" (executemany, 10,000 orders per transaction{'' if shared else ', synchronous=FULL'})")

    start = time.perf_counter()
    ledger = Ledger(path)
    if shared:
        print(f"open ({args.orders:,} orders, schema current): {ms(time.perf_counter() - start)}")
    else:
        checked = "quick_check at open" if ledger.integrity != "not checked" else (
            f"no quick_check at open: file above {db.QUICK_CHECK_MAX_BYTES / 2**20:.0f} MiB")
        print(f"open ({args.orders:,} orders, schema current, {checked}): {ms(time.perf_counter() - start)}")
        start = time.perf_counter()
        db.quick_check(path)
        print(f"full PRAGMA quick_check (check_integrity, the support bundle): {ms(time.perf_counter() - start)}")
    rng = random.Random(args.seed + 1)
    raw = _connect(path)
    try:
        print("reads (the database's cache is warm after the fill):")
        first, later = timed(lambda: ledger.history(limit=50), 50)
        show("history: newest page of 50", first, later)
        results["history page"] = statistics.median(later)
        page = ledger.history(limit=50)
        deep = []
        for _ in range(40):
            start = time.perf_counter()
            page = ledger.history(limit=50, before=page[-1])
            deep.append(time.perf_counter() - start)
        show("history: next 40 pages (keyset)", deep[0], deep[1:])
        results["history: older pages"] = statistics.median(deep[1:])

        rng_seed = rng.randint(1, 10**6)
        sample = [r[0] for r in raw.execute(
            "SELECT out_trade_no FROM orders ORDER BY (CAST(created_at * 1000 AS BIGINT) + ?) % 9973 LIMIT 1000",
            (rng_seed,)).fetchall()]
        gw_sample = [r[0] for r in raw.execute(
            "SELECT gateway_trade_no FROM orders WHERE gateway_trade_no IS NOT NULL"
            " ORDER BY (CAST(created_at * 1000 AS BIGINT) + ?) % 9973 LIMIT 1000", (rng_seed,)).fetchall()]
        it = iter(sample)
        first, later = timed(lambda: ledger.find(next(it)), len(sample) - 1)
        show("find(out_trade_no)", first, later)
        results["lookup: find(order number)"] = statistics.median(later)
        it = iter(sample)
        first, later = timed(lambda: ledger.get_order(next(it)), len(sample) - 1)
        show("get_order(out_trade_no)", first, later)
        it = iter(gw_sample)
        first, later = timed(lambda: ledger.find(next(it)), len(gw_sample) - 1)
        show("find(gateway_trade_no)", first, later)
        results["lookup: find(gateway's number)"] = statistics.median(later)

        today = datetime.date.fromtimestamp(end)
        days = [today - datetime.timedelta(days=rng.randint(1, 360)) for _ in range(30)]
        it = iter(days)
        first, later = timed(lambda: ledger.daily_report(next(it)), len(days) - 1)
        report = ledger.daily_report(days[0])
        show("daily_report(one day)", first, later)
        results["day report"] = statistics.median(later)
        print(f"    (a day: {report.totals.paid_count:,} paid, {report.totals.refund_count} refunds,"
              f" {len(report.lines)} lines, {len(report.unresolved_orders)} unresolved orders listed)")

        first, later = timed(lambda: (ledger.unresolved_orders(), ledger.unresolved_refunds()), 30)
        show("recovery scan: unresolved orders + refunds", first, later)
        results["recovery scan"] = statistics.median(later)
        print(f"    ({len(ledger.unresolved_orders())} orders, {len(ledger.unresolved_refunds())} refunds)")
        first, later = timed(lambda: (ledger.due_orders(end + 300), ledger.due_refunds(end + 300)), 30)
        show("due_orders + due_refunds", first, later)
        results["due orders + refunds"] = statistics.median(later)

        print("writes:")
        results["engine path: one order (3 commits)"] = real_path(ledger, args.real, args.seed)
    finally:
        ledger.close()

    total_orders = counts["orders"] + args.real
    if shared:
        size = int(raw.execute(
            "SELECT sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)::regclass))"
            " FROM pg_tables WHERE schemaname = current_schema()").fetchone()[0])
        print(f"database: {size / 1e6:,.1f} MB = {size / total_orders:,.0f} bytes per order (tables and indexes)")
        raw.raw.close()
        return results
    raw.close()
    size = sum(Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists())
    print(f"file: {size / 1e6:,.1f} MB = {size / total_orders:,.0f} bytes per order"
          f" (with its events and refunds)")
    try:
        conn = sqlite3.connect(path)
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        conn.close()
        print("  " + ", ".join(f"{name} {b / total_orders:,.0f}" for name, b in rows) + " (bytes/order)")
    except sqlite3.Error:
        pass  # dbstat not compiled in
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to fill (default 1,000,000)")
    parser.add_argument("--unresolved", type=int, default=300, help="unresolved orders among them")
    parser.add_argument("--real", type=int, default=2000, help="orders written through the engine's path")
    parser.add_argument("--keep", type=Path, help="write the ledger here and keep it")
    parser.add_argument("--pg-url", help="also run on this PostgreSQL server (in a fresh schema, dropped after)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    tmp = None
    if args.keep:
        path = args.keep
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="ledger-bench-")
        path = Path(tmp.name) / "ledger.sqlite3"
    print(f"ledger bench: {args.orders:,} orders -> {path}")
    print(f"  python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} cpus, {platform.platform()}")
    end = time.time()
    columns = {"SQLite": run(path, args, end)}
    if tmp is not None:
        tmp.cleanup()
    if args.pg_url:
        import psycopg

        schema = f"bench_{os.getpid()}"
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        joiner = "&" if "?" in args.pg_url else "?"
        url = f"{args.pg_url}{joiner}options=-csearch_path%3D{schema}"
        print(f"\nledger bench: {args.orders:,} orders -> PostgreSQL {version} ({args.pg_url}, schema {schema})")
        try:
            columns[f"PostgreSQL {version.split()[0]}"] = run(url, args, end)
        finally:
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    names = list(columns)
    print(f"\nmedians, {args.orders:,} orders" + (" (PostgreSQL over TCP on this machine)" if args.pg_url else ""))
    print(f"  {'':<38}" + "".join(f"{n:>18}" for n in names))
    for row in columns[names[0]]:
        print(f"  {row:<38}" + "".join(f"{ms(columns[n].get(row, float('nan'))):>18}" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
