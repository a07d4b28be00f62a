"""Moving a counter's books into a shared ledger: `cashier-cli ledger migrate --to URL`.

Copies a SQLite ledger into a PostgreSQL one (which may already hold other counters'
books), idempotently: an order, refund or row already there is not copied again (a
row the counter changed since an earlier copy is brought up to date when it is newer
than the shared one), an order's events are appended only past those already copied,
and sequences never go backwards. Run twice, the second run copies nothing new.
Afterwards the copied books are compared: the same numbers, the same fen per state,
the same events, or the command fails naming what differs.

Both ledgers are opened through Ledger first, so each is at this program's schema
version (an old SQLite file is migrated in place as at any start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cashier.i18n import UserError, define, tr
from cashier.money import format_yuan, from_fen

from .db import Ledger
from .location import describe

log = logging.getLogger(__name__)

define({
    "migrate.same": ("源账本和目标账本是同一个", "The source and the target are the same ledger"),
    "migrate.source_shared": ("只能从本机的 SQLite 账本迁移：{where}", "Only a SQLite ledger can be moved: {where}"),
    "migrate.missing": ("没有找到要迁移的账本文件：{where}", "No ledger file to move at {where}"),
    "migrate.mismatch": ("迁移后核对不一致：{what}。共享账本没有任何改动，请联系技术支持",
                         "The books differ after the copy: {what}. Nothing was changed in the shared ledger; contact support"),
    "migrate.done": (
        "已复制到 {where}：订单 {orders} 笔、退款 {refunds} 笔、事件 {events} 条、其他 {other} 行（已存在的不再复制）。"
        "核对一致：共 {total_orders} 笔订单，收款 {paid} 元，退款 {refunded} 元",
        "Copied into {where}: {orders} orders, {refunds} refunds, {events} events, {other} other rows (nothing copied twice). "
        "Totals agree: {total_orders} orders, ¥{paid} taken, ¥{refunded} refunded",
    ),
})

# The tables copied by their primary key, parents first. Events are copied apart
# (their ids are the shared ledger's own); rate slots are live state, not books.
_KEYED_ORDER = ("orders", "refunds", "shifts", "recon_runs")  # cash_entries / recon_differences refer to these
_SKIP = {"events", "sequences", "rate_slots", "ledger_meta", "sqlite_sequence", "counters"}


class MigrationMismatch(UserError):
    key = "migrate.mismatch"


@dataclass
class MigrationResult:
    where: str
    copied: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"to": self.where, "copied": self.copied, "updated": self.updated, "verified": self.totals}

    def text(self) -> str:
        other = sum(v for k, v in self.copied.items() if k not in ("orders", "refunds", "events"))
        return tr("migrate.done", where=self.where, orders=self.copied.get("orders", 0),
                  refunds=self.copied.get("refunds", 0), events=self.copied.get("events", 0), other=other,
                  total_orders=self.totals["orders"], paid=self.totals["paid"], refunded=self.totals["refunded"])


def _columns(conn, table: str, shared: bool) -> list[str]:
    if shared:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? ORDER BY ordinal_position", (table,)).fetchall()
        return [r[0] for r in rows]
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")').fetchall()]


def _primary_key(conn, table: str) -> list[str]:
    rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    return [r[1] for r in sorted((r for r in rows if r[5]), key=lambda r: r[5])]


def _tables(conn) -> list[str]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    keyed = [t for t in _KEYED_ORDER if t in names]
    return keyed + [t for t in names if t not in keyed and t not in _SKIP]


def copy_ledger(source: "str | Path", target: str, *, clock=None) -> MigrationResult:
    """Copy the SQLite ledger at `source` into the PostgreSQL ledger at `target`."""
    if describe(source)[1] != "sqlite":
        raise UserError("migrate.source_shared", where=describe(source)[0])
    if not Path(source).exists():
        raise UserError("migrate.missing", where=str(source))
    kwargs = {} if clock is None else {"clock": clock}
    with Ledger(source, **kwargs) as old, Ledger(target, **kwargs) as new:
        result = MigrationResult(where=new.where)
        with old._reading() as src, new._writing() as dst:  # one transaction: all or nothing
            for table in _tables(src):
                columns = [c for c in _columns(src, table, False) if c in set(_columns(dst, table, True))]
                key = _primary_key(src, table)
                if not key or not set(key) <= set(columns):
                    log.warning("ledger migrate: table %s has no key to copy by; skipped", table)
                    continue
                copied, updated = _copy_table(src, dst, table, columns, key)
                result.copied[table] = copied
                if updated:
                    result.updated[table] = updated
            result.copied["events"] = _copy_events(src, dst)
            for name, value in src.execute("SELECT name, value FROM sequences").fetchall():
                dst.execute("INSERT INTO sequences (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE"
                            " SET value = CASE WHEN excluded.value > sequences.value THEN excluded.value"
                            " ELSE sequences.value END", (name, value))
            result.totals = _verify(src, dst)
    log.info("ledger migrate into %s: copied %s, updated %s", result.where, result.copied, result.updated)
    return result


def _copy_table(src, dst, table: str, columns: list[str], key: list[str]) -> tuple[int, int]:
    """Insert the rows `dst` lacks; bring up to date those that changed since (a row
    with updated_at newer here than there). Returns (inserted, updated)."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    key_sql = ", ".join(key)
    newer = "updated_at" in columns
    settable = [c for c in columns if c not in key]
    if newer and settable:
        conflict = (f" ON CONFLICT ({key_sql}) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in settable)
                    + f" WHERE {table}.updated_at < excluded.updated_at")
    else:
        conflict = f" ON CONFLICT ({key_sql}) DO NOTHING"
    inserted = updated = 0
    where_key = " AND ".join(f"{k} = ?" for k in key)
    for row in src.execute(f"SELECT {names} FROM {table} ORDER BY {key_sql}").fetchall():
        key_values = [row[columns.index(k)] for k in key]
        existed = dst.execute(f"SELECT 1 FROM {table} WHERE {where_key}", key_values).fetchone() is not None
        count = dst.execute(f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}", row).rowcount
        if count and existed:
            updated += 1
        elif count:
            inserted += 1
    return inserted, updated


_EVENT_COLUMNS = ("at", "entity", "entity_id", "action", "actor", "old_state", "new_state", "detail", "changes")


def _copy_events(src, dst) -> int:
    """Append each entity's events past those the shared ledger already has from an
    earlier copy (same order, same content); new ids are the shared ledger's."""
    names = ", ".join(_EVENT_COLUMNS)
    copied = 0
    by_entity: dict[tuple[str, str], list[tuple]] = {}
    for row in src.execute(f"SELECT {names} FROM events ORDER BY id").fetchall():
        by_entity.setdefault((row[1], row[2]), []).append(tuple(row))
    for (entity, entity_id), rows in by_entity.items():
        there = [tuple(r) for r in dst.execute(
            f"SELECT {names} FROM events WHERE entity = ? AND entity_id = ? ORDER BY id", (entity, entity_id))]
        if rows[:len(there)] != there[:len(rows)]:
            raise MigrationMismatch(what=f"events of {entity_id}")
        for row in rows[len(there):]:
            dst.execute(f"INSERT INTO events ({names}) VALUES ({', '.join('?' for _ in row)})", row)
            copied += 1
    return copied


def _verify(src, dst) -> dict[str, Any]:
    """The copied books, compared number by number: orders and refunds with their
    state and fen, and the count of events per entity."""
    problems = []
    for table, key, money in (("orders", "out_trade_no", "amount_fen, paid_amount_fen, state"),
                              ("refunds", "out_refund_no", "amount_fen, state")):
        here = {r[0]: tuple(r[1:]) for r in src.execute(f"SELECT {key}, {money} FROM {table}")}
        numbers = list(here)
        there: dict[str, tuple] = {}
        for start in range(0, len(numbers), 500):
            chunk = numbers[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            there.update({r[0]: tuple(r[1:]) for r in dst.execute(
                f"SELECT {key}, {money} FROM {table} WHERE {key} IN ({marks})", chunk)})
        missing = [n for n in numbers if n not in there]
        differ = [n for n in numbers if n in there and there[n] != here[n]]
        if missing:
            problems.append(f"{table} missing: {', '.join(missing[:5])}")
        if differ:
            problems.append(f"{table} differ: {', '.join(differ[:5])}")
    counts_here = dict(src.execute("SELECT entity_id, count(*) FROM events GROUP BY entity_id").fetchall())
    short = []
    for entity_id, count in counts_here.items():
        there_count = dst.execute("SELECT count(*) FROM events WHERE entity_id = ?", (entity_id,)).fetchone()[0]
        if there_count < count:
            short.append(entity_id)
    if short:
        problems.append(f"events missing for {', '.join(short[:5])}")
    if problems:
        raise MigrationMismatch(what="; ".join(problems))
    orders, paid = src.execute(
        "SELECT count(*), coalesce(sum(CASE WHEN state = 'paid' THEN paid_amount_fen ELSE 0 END), 0)"
        " FROM orders").fetchone()
    refunded = src.execute("SELECT coalesce(sum(amount_fen), 0) FROM refunds WHERE state = 'succeeded'").fetchone()[0]
    return {"orders": int(orders), "paid": format_yuan(from_fen(int(paid))),
            "refunded": format_yuan(from_fen(int(refunded))), "events": sum(counts_here.values())}
