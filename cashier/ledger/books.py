"""The shop's books beside the orders: shifts (交班), the cash drawer (现金) and
reconciliation runs (对账). A mixin of `Ledger`: the same connection, the same
BEGIN IMMEDIATE transactions, the same event log.

Rules kept here:
- One open shift per counter (a partial unique index). Orders and refunds are stamped
  with the open shift and its clerk in the transaction that creates them.
- A closed shift is read-only (a trigger refuses any UPDATE). Its report is the
  snapshot taken in the closing transaction; a later correction is a new cash entry
  of kind "correction", audited, listed under the shift without changing it.
- Cash entries are signed integer fen: + into the drawer (sale, 备用金 in), − out of
  it (cash refund, 取款 out). Expected cash = float + the sum of the shift's entries.
- Compare-and-set everywhere: closing a shift that someone else closed, or refunding
  more cash than a sale had, changes nothing and raises.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cashier.i18n import define
from cashier.money import check_amount, format_yuan, from_fen, to_fen

from . import states
from .errors import LedgerError, StateConflict

define({
    "books.no_open_shift": ("还没有开班：请先开班（输入收银员姓名和备用金）",
                            "No shift is open: open one first (clerk's name and the cash float)"),
    "books.shift_already_open": ("收银台 {counter} 已有未交班的班次（{clerk}，第 {shift_id} 班）",
                                 "Counter {counter} already has an open shift ({clerk}, shift {shift_id})"),
    "books.no_such_shift": ("没有第 {shift_id} 班", "No shift {shift_id}"),
    "books.shift_closed": ("第 {shift_id} 班已交班，只能由店长补记更正",
                           "Shift {shift_id} is closed; only a manager's correction can be added"),
    "books.no_such_cash": ("没有这笔现金收款：{no}", "No such cash sale: {no}"),
    "books.cash_refund_too_large": ("现金退款 {amount} 元超过可退金额 {refundable} 元（{no}）",
                                    "The cash refund of ¥{amount} exceeds the refundable ¥{refundable} ({no})"),
    "books.drawer_short": ("钱箱里只有 {cash} 元，不够付出 {amount} 元",
                           "The drawer holds only ¥{cash}, not enough to pay out ¥{amount}"),
    "cash.tendered_short": ("收到的现金 {tendered} 元少于应收 {amount} 元", "¥{tendered} tendered is less than the ¥{amount} due"),
    "books.clerk_empty": ("请填写收银员姓名", "Enter the clerk's name"),
    "books.reason_empty": ("请填写原因", "Enter a reason"),
    "books.no_such_difference": ("对账结果中没有订单 {out_trade_no} 的差异",
                                 "No reconciliation difference for order {out_trade_no}"),
    "books.difference_resolved": ("订单 {out_trade_no} 的差异已处理（{resolution}）",
                                  "The difference for order {out_trade_no} is already resolved ({resolution})"),
})

SHIFT_OPEN = "open"
SHIFT_CLOSED = "closed"
CASH_SALE = "sale"
CASH_REFUND = "refund"
CASH_IN = "in"
CASH_OUT = "out"
CASH_CORRECTION = "correction"
CASH_KINDS = (CASH_SALE, CASH_REFUND, CASH_IN, CASH_OUT, CASH_CORRECTION)

# Reconciliation differences (recon_differences.kind).
PAID_THERE_NOT_HERE = "paid_there_not_here"
PAID_HERE_NOT_THERE = "paid_here_not_there"
AMOUNT_DIFFERS = "amount_differs"
REFUND_DIFFERS = "refund_differs"
UNKNOWN_TO_US = "unknown_to_us"
DIFFERENCE_KINDS = (PAID_THERE_NOT_HERE, PAID_HERE_NOT_THERE, AMOUNT_DIFFERS, REFUND_DIFFERS, UNKNOWN_TO_US)
RESOLUTIONS = ("record", "refund", "checked")

# Payment methods as a shift report groups them.
METHOD_CASH = "cash"
METHOD_QR = "qr"
METHOD_MICROPAY = "micropay"

_PAID_STATES = (states.PAID, states.NEEDS_CHECK)
_UNRESOLVED_SQL = "state NOT IN ('paid', 'closed', 'reversed', 'failed')"


class BooksError(LedgerError):
    key = "ledger.error"


def method_group(method: str) -> str:
    if method == METHOD_CASH:
        return METHOD_CASH
    return METHOD_MICROPAY if method == "micropay" else METHOD_QR


@dataclass(frozen=True)
class ShiftRecord:
    shift_id: int
    counter_id: str
    clerk: str
    state: str
    float_amount: Decimal
    opened_at: float
    closed_at: float | None
    closed_by: str | None
    expected_cash: Decimal | None
    counted_cash: Decimal | None
    note: str

    @property
    def difference(self) -> Decimal | None:
        if self.expected_cash is None or self.counted_cash is None:
            return None
        return self.counted_cash - self.expected_cash


@dataclass(frozen=True)
class CashEntry:
    entry_no: str
    shift_id: int
    kind: str
    amount: Decimal  # signed: + into the drawer, − out of it
    tendered: Decimal | None
    change: Decimal | None
    refunded: Decimal
    ref_no: str | None
    reason: str
    clerk: str
    created_at: float


@dataclass(frozen=True)
class TotalLine:
    """Money taken (and given back) through one method, gateway and wallet."""

    method: str  # cash / qr / micropay
    gateway: str
    wallet: str
    count: int = 0
    amount: Decimal = Decimal("0.00")
    refund_count: int = 0
    refunded: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return self.amount - self.refunded

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "gateway": self.gateway, "wallet": self.wallet, "count": self.count,
                "amount": format_yuan(self.amount), "refund_count": self.refund_count,
                "refunded": format_yuan(self.refunded), "net": format_yuan(self.net)}


@dataclass(frozen=True)
class ShiftReport:
    """What closing a shift shows (and what a closed shift's report reprints)."""

    shift: ShiftRecord
    lines: tuple[TotalLine, ...]
    unresolved: tuple[dict[str, Any], ...]  # orders not final: carried into the next shift
    float_amount: Decimal
    cash_sales: Decimal
    cash_refunds: Decimal  # positive: what went out
    cash_in: Decimal
    cash_out: Decimal  # positive: what went out
    expected_cash: Decimal
    counted_cash: Decimal | None
    corrections: tuple[CashEntry, ...] = ()
    cash_entries: tuple[CashEntry, ...] = ()

    @property
    def difference(self) -> Decimal | None:
        return None if self.counted_cash is None else self.counted_cash - self.expected_cash

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per payment method (cash / qr / micropay): count, taken, refunded, net."""
        out: dict[str, dict[str, Any]] = {}
        for line in self.lines:
            t = out.setdefault(line.method, {"count": 0, "amount": Decimal("0.00"), "refund_count": 0,
                                             "refunded": Decimal("0.00")})
            t["count"] += line.count
            t["amount"] += line.amount
            t["refund_count"] += line.refund_count
            t["refunded"] += line.refunded
        return {m: {**t, "amount": format_yuan(t["amount"]), "refunded": format_yuan(t["refunded"]),
                    "net": format_yuan(t["amount"] - t["refunded"])} for m, t in sorted(out.items())}

    def to_dict(self) -> dict[str, Any]:
        s = self.shift
        return {
            "shift_id": s.shift_id, "counter_id": s.counter_id, "clerk": s.clerk, "state": s.state,
            "opened_at": s.opened_at, "closed_at": s.closed_at, "closed_by": s.closed_by,
            "float": format_yuan(self.float_amount),
            "cash_sales": format_yuan(self.cash_sales), "cash_refunds": format_yuan(self.cash_refunds),
            "cash_in": format_yuan(self.cash_in), "cash_out": format_yuan(self.cash_out),
            "expected_cash": format_yuan(self.expected_cash),
            "counted_cash": None if self.counted_cash is None else format_yuan(self.counted_cash),
            "difference": None if self.difference is None else format_yuan(self.difference),
            "totals": self.totals(),
            "lines": [line.to_dict() for line in self.lines],
            "unresolved": list(self.unresolved),
            "corrections": [_entry_dict(e) for e in self.corrections],
        }


def _entry_dict(e: CashEntry) -> dict[str, Any]:
    return {"entry_no": e.entry_no, "shift_id": e.shift_id, "kind": e.kind, "amount": format_yuan(e.amount),
            "reason": e.reason, "clerk": e.clerk, "created_at": e.created_at, "ref_no": e.ref_no}


@dataclass(frozen=True)
class ReconRun:
    run_id: int
    profile: str
    day: str
    state: str
    actor: str
    started_at: float
    finished_at: float | None
    orders_planned: int
    orders_checked: int
    listed: int


@dataclass(frozen=True)
class Difference:
    run_id: int
    out_trade_no: str
    kind: str
    ours: dict[str, Any]
    gateway: dict[str, Any]
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"out_trade_no": self.out_trade_no, "kind": self.kind, "ours": self.ours, "gateway": self.gateway,
                "resolution": self.resolution, "resolved_by": self.resolved_by, "note": self.note,
                "run_id": self.run_id}


_SHIFT_COLUMNS = ("shift_id, counter_id, clerk, state, float_fen, opened_at, closed_at, closed_by,"
                  " expected_cash_fen, counted_cash_fen, note")
_CASH_COLUMNS = ("entry_no, shift_id, kind, amount_fen, tendered_fen, change_fen, refunded_fen, ref_no, reason,"
                 " clerk, created_at")
_RUN_COLUMNS = ("run_id, profile, day, state, actor, started_at, finished_at, orders_planned, orders_checked,"
                " listed")
_DIFF_COLUMNS = "run_id, out_trade_no, kind, ours, gateway, resolution, resolved_by, resolved_at, note"


def _money(fen: int | None) -> Decimal | None:
    return None if fen is None else from_fen(int(fen))


def _shift(row: tuple) -> ShiftRecord:
    (sid, counter, clerk, state, float_fen, opened, closed, closed_by, expected, counted, note) = row
    return ShiftRecord(int(sid), counter, clerk, state, from_fen(int(float_fen)), opened, closed, closed_by,
                       _money(expected), _money(counted), note)


def _cash(row: tuple) -> CashEntry:
    (no, sid, kind, fen, tendered, change, refunded, ref, reason, clerk, at) = row
    return CashEntry(no, int(sid), kind, from_fen(int(fen)), _money(tendered), _money(change),
                     from_fen(int(refunded)), ref, reason, clerk, at)


def _run(row: tuple) -> ReconRun:
    return ReconRun(*row)


def _diff(row: tuple) -> Difference:
    (run_id, no, kind, ours, gw, resolution, by, at, note) = row
    return Difference(int(run_id), no, kind, json.loads(ours or "{}"), json.loads(gw or "{}"), resolution, by,
                      at, note or "")


class BooksMixin:
    """Shift, cash and reconciliation tables of the ledger (see the module doc)."""

    # Provided by Ledger.
    _clock: Any
    _writing: Any
    _reading: Any
    _snapshot: Any
    _event: Any
    _dumps: Any

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _open_shift_row(conn: sqlite3.Connection, counter_id: str) -> ShiftRecord | None:
        row = conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE counter_id = ? AND state = 'open'",
                           (counter_id,)).fetchone()
        return None if row is None else _shift(row)

    @staticmethod
    def _shift_row(conn: sqlite3.Connection, shift_id: int) -> ShiftRecord | None:
        row = conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE shift_id = ?", (int(shift_id),)).fetchone()
        return None if row is None else _shift(row)

    @staticmethod
    def _next_value(conn: sqlite3.Connection, name: str) -> int:
        conn.execute("INSERT INTO sequences (name, value) VALUES (?, 1)"
                     " ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1", (name,))
        return int(conn.execute("SELECT value FROM sequences WHERE name = ?", (name,)).fetchone()[0])

    # ------------------------------------------------------------------ shifts
    def open_shift(self, *, counter_id: str, clerk: str, float_amount: Decimal, actor: str | None = None
                   ) -> ShiftRecord:
        """Open a shift with the clerk's name and the cash float. Orders still unresolved
        from earlier shifts of this counter are carried into it (each with an event)."""
        clerk = (clerk or "").strip()
        if not clerk:
            raise BooksError("books.clerk_empty")
        float_fen = 0 if float_amount == 0 else to_fen(check_amount(float_amount))
        now = self._clock()
        with self._writing() as conn:
            current = self._open_shift_row(conn, counter_id)
            if current is not None:
                raise BooksError("books.shift_already_open", counter=counter_id, clerk=current.clerk,
                                 shift_id=current.shift_id)
            shift_id = self._next_value(conn, "shift")
            conn.execute("INSERT INTO shifts (shift_id, counter_id, clerk, state, float_fen, opened_at)"
                         " VALUES (?, ?, ?, 'open', ?, ?)", (shift_id, counter_id, clerk, float_fen, now))
            carried = [r[0] for r in conn.execute(
                f"SELECT out_trade_no FROM orders WHERE {_UNRESOLVED_SQL} AND counter_id = ?"
                " AND shift_id IS NOT NULL AND shift_id <> ?", (counter_id, shift_id))]
            for no in carried:
                old = conn.execute("SELECT shift_id, state FROM orders WHERE out_trade_no = ?", (no,)).fetchone()
                conn.execute("UPDATE orders SET shift_id = ? WHERE out_trade_no = ?", (shift_id, no))
                self._event(conn, "order", no, "carried_to_shift", actor or clerk, old[1], old[1],
                            {"from_shift": old[0], "to_shift": shift_id}, {"shift_id": shift_id}, now)
            self._event(conn, "shift", str(shift_id), "opened", actor or clerk, None, SHIFT_OPEN,
                        {"clerk": clerk, "float": from_fen(float_fen), "counter_id": counter_id,
                         "carried": carried}, None, now)
            record = self._shift_row(conn, shift_id)
        assert record is not None
        return record

    def current_shift(self, counter_id: str) -> ShiftRecord | None:
        with self._reading() as conn:
            return self._open_shift_row(conn, counter_id)

    def get_shift(self, shift_id: int) -> ShiftRecord | None:
        with self._reading() as conn:
            return self._shift_row(conn, shift_id)

    def shifts(self, *, limit: int = 50, counter_id: str | None = None) -> list[ShiftRecord]:
        """The newest shifts of every counter (shared books), or of one."""
        where, params = ("", ()) if counter_id is None else (" WHERE counter_id = ?", (counter_id,))
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts{where} ORDER BY shift_id DESC LIMIT ?",
                                (*params, int(limit))).fetchall()
        return [_shift(r) for r in rows]

    def _live_report(self, conn: sqlite3.Connection, shift: ShiftRecord) -> ShiftReport:
        sid = shift.shift_id
        marks = ", ".join("?" for _ in _PAID_STATES)
        lines: dict[tuple[str, str, str], list] = {}
        for method, gateway, wallet, count, fen in conn.execute(
                "SELECT method, gateway, wallet, count(*), coalesce(sum(paid_amount_fen), 0) FROM orders"
                f" WHERE shift_id = ? AND state IN ({marks}) AND paid_amount_fen IS NOT NULL"
                " GROUP BY method, gateway, wallet", (sid, *_PAID_STATES)):
            key = (method_group(method), gateway, wallet)
            line = lines.setdefault(key, [0, 0, 0, 0])
            line[0] += count
            line[1] += int(fen)
        for method, gateway, wallet, count, fen in conn.execute(
                "SELECT o.method, o.gateway, o.wallet, count(*), coalesce(sum(r.amount_fen), 0)"
                " FROM refunds AS r JOIN orders AS o ON o.out_trade_no = r.out_trade_no"
                " WHERE r.shift_id = ? AND r.state = 'succeeded' GROUP BY o.method, o.gateway, o.wallet", (sid,)):
            key = (method_group(method), gateway, wallet)
            line = lines.setdefault(key, [0, 0, 0, 0])
            line[2] += count
            line[3] += int(fen)
        by_kind = {kind: (int(count), int(fen)) for kind, count, fen in conn.execute(
            "SELECT kind, count(*), coalesce(sum(amount_fen), 0) FROM cash_entries WHERE shift_id = ?"
            " GROUP BY kind", (sid,))}
        sales = by_kind.get(CASH_SALE, (0, 0))
        refunds = by_kind.get(CASH_REFUND, (0, 0))
        if sales[0] or refunds[0]:
            lines[(METHOD_CASH, METHOD_CASH, METHOD_CASH)] = [sales[0], sales[1], refunds[0], -refunds[1]]
        unresolved = tuple(
            {"out_trade_no": no, "state": state, "amount": format_yuan(from_fen(int(fen))), "method": method,
             "gateway": gateway, "wallet": wallet, "created_at": created}
            for no, state, fen, method, gateway, wallet, created in conn.execute(
                "SELECT out_trade_no, state, amount_fen, method, gateway, wallet, created_at FROM orders"
                f" WHERE shift_id = ? AND {_UNRESOLVED_SQL} ORDER BY created_at, out_trade_no", (sid,)))
        entries = tuple(_cash(r) for r in conn.execute(
            f"SELECT {_CASH_COLUMNS} FROM cash_entries WHERE shift_id = ? ORDER BY created_at, entry_no", (sid,)))
        drawer = sum(fen for kind, (_, fen) in by_kind.items() if kind != CASH_CORRECTION)
        ordered = tuple(TotalLine(m, g, w, c, from_fen(a), rc, from_fen(r))
                        for (m, g, w), (c, a, rc, r) in sorted(lines.items()))
        return ShiftReport(
            shift=shift, lines=ordered, unresolved=unresolved, float_amount=shift.float_amount,
            cash_sales=from_fen(sales[1]), cash_refunds=from_fen(-refunds[1]),
            cash_in=from_fen(by_kind.get(CASH_IN, (0, 0))[1]), cash_out=from_fen(-by_kind.get(CASH_OUT, (0, 0))[1]),
            expected_cash=shift.float_amount + from_fen(drawer), counted_cash=shift.counted_cash,
            corrections=tuple(e for e in entries if e.kind == CASH_CORRECTION),
            cash_entries=tuple(e for e in entries if e.kind != CASH_CORRECTION))

    def shift_report(self, shift_id: int) -> ShiftReport:
        """An open shift's figures now; a closed one's as they were at the close (its
        snapshot), with any correction added since listed apart."""
        with self._snapshot() as conn:
            shift = self._shift_row(conn, shift_id)
            if shift is None:
                raise BooksError("books.no_such_shift", shift_id=shift_id)
            live = self._live_report(conn, shift)
            if shift.state == SHIFT_OPEN:
                return live
            summary = json.loads(conn.execute("SELECT summary FROM shifts WHERE shift_id = ?",
                                              (shift.shift_id,)).fetchone()[0] or "{}")
        if not summary:  # closed without a snapshot (a copied or hand-made row): its figures now
            return live
        return _from_summary(shift, summary, live.corrections, live.cash_entries)

    def close_shift(self, shift_id: int, *, counted: Decimal, actor: str, note: str = "") -> ShiftReport:
        """Close (交班) with the cash the clerk counted: the report is computed and kept in
        the same transaction; from then on the shift is read-only."""
        counted_fen = 0 if counted == 0 else to_fen(check_amount(counted))
        now = self._clock()
        with self._writing() as conn:
            shift = self._shift_row(conn, shift_id)
            if shift is None:
                raise BooksError("books.no_such_shift", shift_id=shift_id)
            if shift.state != SHIFT_OPEN:
                raise StateConflict(entity_id=f"shift {shift_id}", current=shift.state, expected=SHIFT_OPEN)
            live = self._live_report(conn, shift)
            expected_fen = to_fen(live.expected_cash)
            closing = ShiftRecord(shift.shift_id, shift.counter_id, shift.clerk, SHIFT_CLOSED, shift.float_amount,
                                  shift.opened_at, now, actor, live.expected_cash, from_fen(counted_fen), note)
            report = ShiftReport(closing, live.lines, live.unresolved, live.float_amount, live.cash_sales,
                                 live.cash_refunds, live.cash_in, live.cash_out, live.expected_cash,
                                 from_fen(counted_fen), (), live.cash_entries)
            summary = report.to_dict()
            changed = conn.execute(
                "UPDATE shifts SET state = 'closed', closed_at = ?, closed_by = ?, expected_cash_fen = ?,"
                " counted_cash_fen = ?, summary = ?, note = ? WHERE shift_id = ? AND state = 'open'",
                (now, actor, expected_fen, counted_fen, self._dumps(summary), note or "", shift_id)).rowcount
            if changed != 1:
                raise StateConflict(entity_id=f"shift {shift_id}", current="closed", expected=SHIFT_OPEN)
            self._event(conn, "shift", str(shift_id), "closed", actor, SHIFT_OPEN, SHIFT_CLOSED,
                        {"expected_cash": live.expected_cash, "counted_cash": from_fen(counted_fen),
                         "difference": from_fen(counted_fen) - live.expected_cash,
                         "carried": [u["out_trade_no"] for u in live.unresolved], "note": note or ""},
                        None, now)
        return report

    # ------------------------------------------------------------------ cash
    def _insert_cash(self, conn: sqlite3.Connection, *, entry_no: str, shift: ShiftRecord, kind: str, fen: int,
                     clerk: str, reason: str = "", tendered_fen: int | None = None, change_fen: int | None = None,
                     ref_no: str | None = None, actor: str | None = None, detail: dict | None = None,
                     now: float) -> CashEntry:
        conn.execute(f"INSERT INTO cash_entries ({_CASH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                     (entry_no, shift.shift_id, kind, fen, tendered_fen, change_fen, ref_no, reason or "", clerk,
                      now))
        info = {"kind": kind, "amount": from_fen(fen), "shift_id": shift.shift_id, "reason": reason or ""}
        if ref_no:
            info["ref_no"] = ref_no
        info.update(detail or {})
        self._event(conn, "cash", entry_no, kind, actor or clerk, None, kind, info, None, now)
        row = conn.execute(f"SELECT {_CASH_COLUMNS} FROM cash_entries WHERE entry_no = ?", (entry_no,)).fetchone()
        return _cash(row)

    def _require_open(self, conn: sqlite3.Connection, counter_id: str) -> ShiftRecord:
        shift = self._open_shift_row(conn, counter_id)
        if shift is None:
            raise BooksError("books.no_open_shift")
        return shift

    @staticmethod
    def _drawer_fen(conn: sqlite3.Connection, shift: ShiftRecord) -> int:
        fen = conn.execute("SELECT coalesce(sum(amount_fen), 0) FROM cash_entries WHERE shift_id = ?"
                           " AND kind <> 'correction'", (shift.shift_id,)).fetchone()[0]
        return to_fen(shift.float_amount) + int(fen)

    def cash_sale(self, *, entry_no: str, counter_id: str, amount: Decimal, tendered: Decimal | None = None
                  ) -> CashEntry:
        """A cash sale in the open shift; `tendered` (≥ amount) gives the change."""
        fen = to_fen(check_amount(amount))
        tendered_fen = fen if tendered is None else to_fen(check_amount(tendered))
        if tendered_fen < fen:
            raise BooksError("cash.tendered_short", amount=format_yuan(amount),
                             tendered=format_yuan(from_fen(tendered_fen)))
        now = self._clock()
        with self._writing() as conn:
            shift = self._require_open(conn, counter_id)
            return self._insert_cash(conn, entry_no=entry_no, shift=shift, kind=CASH_SALE, fen=fen,
                                     clerk=shift.clerk, tendered_fen=tendered_fen, change_fen=tendered_fen - fen,
                                     now=now)

    def cash_move(self, *, entry_no: str, counter_id: str, amount: Decimal, reason: str, actor: str | None = None
                  ) -> CashEntry:
        """备用金 in (amount > 0) or 取款 out (amount < 0), with a reason."""
        if not (reason or "").strip():
            raise BooksError("books.reason_empty")
        fen = to_fen(check_amount(abs(amount))) * (1 if amount > 0 else -1)
        now = self._clock()
        with self._writing() as conn:
            shift = self._require_open(conn, counter_id)
            if fen < 0 and self._drawer_fen(conn, shift) + fen < 0:
                raise BooksError("books.drawer_short", cash=format_yuan(from_fen(self._drawer_fen(conn, shift))),
                                 amount=format_yuan(from_fen(-fen)))
            return self._insert_cash(conn, entry_no=entry_no, shift=shift, kind=CASH_IN if fen > 0 else CASH_OUT,
                                     fen=fen, clerk=shift.clerk, reason=reason.strip(), actor=actor, now=now)

    def cash_refund(self, *, entry_no: str, counter_id: str, sale_no: str, amount: Decimal, reason: str,
                    actor: str) -> CashEntry:
        """Give cash back for a cash sale (of any shift), out of the open shift's drawer;
        never more than the sale had left."""
        fen = to_fen(check_amount(amount))
        now = self._clock()
        with self._writing() as conn:
            shift = self._require_open(conn, counter_id)
            row = conn.execute(f"SELECT {_CASH_COLUMNS} FROM cash_entries WHERE entry_no = ? AND kind = 'sale'",
                               (sale_no,)).fetchone()
            if row is None:
                raise BooksError("books.no_such_cash", no=sale_no)
            sale = _cash(row)
            left = to_fen(sale.amount) - to_fen(sale.refunded)
            if fen > left:
                raise BooksError("books.cash_refund_too_large", amount=format_yuan(amount),
                                 refundable=format_yuan(from_fen(left)), no=sale_no)
            changed = conn.execute("UPDATE cash_entries SET refunded_fen = refunded_fen + ? WHERE entry_no = ?"
                                   " AND refunded_fen = ?", (fen, sale_no, to_fen(sale.refunded))).rowcount
            if changed != 1:
                raise StateConflict(entity_id=sale_no, current="refunded", expected="unchanged")
            return self._insert_cash(conn, entry_no=entry_no, shift=shift, kind=CASH_REFUND, fen=-fen,
                                     clerk=shift.clerk, reason=reason or "", ref_no=sale_no, actor=actor, now=now)

    def correct_shift(self, *, entry_no: str, shift_id: int, amount: Decimal, reason: str, actor: str
                      ) -> CashEntry:
        """A manager's later correction of a closed shift: a new entry, audited; the
        shift itself is not changed."""
        if not (reason or "").strip():
            raise BooksError("books.reason_empty")
        fen = to_fen(check_amount(abs(amount))) * (1 if amount > 0 else -1)
        now = self._clock()
        with self._writing() as conn:
            shift = self._shift_row(conn, shift_id)
            if shift is None:
                raise BooksError("books.no_such_shift", shift_id=shift_id)
            return self._insert_cash(conn, entry_no=entry_no, shift=shift, kind=CASH_CORRECTION, fen=fen,
                                     clerk=actor, reason=reason.strip(), actor=actor, now=now)

    def cash_entry(self, entry_no: str) -> CashEntry | None:
        with self._reading() as conn:
            row = conn.execute(f"SELECT {_CASH_COLUMNS} FROM cash_entries WHERE entry_no = ?",
                               (entry_no,)).fetchone()
        return None if row is None else _cash(row)

    def cash_entries_between(self, start: float, end: float) -> Iterator[CashEntry]:
        """Cash entries created in [start, end), oldest first (a generator: for exports)."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_CASH_COLUMNS} FROM cash_entries WHERE created_at >= ? AND created_at < ?"
                                " ORDER BY created_at, entry_no", (start, end)).fetchall()
        for row in rows:
            yield _cash(row)

    def cash_day(self, start: float, end: float, counter_id: str | None = None) -> dict[str, tuple[int, Decimal]]:
        """Per kind: count and signed sum of the cash entries created in [start, end)
        (at one counter's drawer, or every counter's)."""
        by_counter = ("" if counter_id is None else
                      " AND shift_id IN (SELECT shift_id FROM shifts WHERE counter_id = ?)")
        with self._reading() as conn:
            return {kind: (int(count), from_fen(int(fen))) for kind, count, fen in conn.execute(
                "SELECT kind, count(*), coalesce(sum(amount_fen), 0) FROM cash_entries"
                f" WHERE created_at >= ? AND created_at < ?{by_counter} GROUP BY kind",
                (start, end, *(() if counter_id is None else (counter_id,))))}

    # ------------------------------------------------------------ reconciliation
    def start_recon_run(self, *, profile: str, day: str, actor: str, planned: int) -> ReconRun:
        now = self._clock()
        with self._writing() as conn:
            run_id = self._next_value(conn, "recon_run")
            conn.execute("INSERT INTO recon_runs (run_id, profile, day, state, actor, started_at, orders_planned)"
                         " VALUES (?, ?, ?, 'running', ?, ?, ?)", (run_id, profile, day, actor, now, int(planned)))
            self._event(conn, "reconciliation", str(run_id), "started", actor, None, "running",
                        {"profile": profile, "day": day, "planned": planned}, None, now)
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run(row)

    def recon_progress(self, run_id: int, *, checked: int, listed: int | None = None) -> None:
        with self._writing() as conn:
            conn.execute("UPDATE recon_runs SET orders_checked = ?, listed = coalesce(?, listed)"
                         " WHERE run_id = ? AND state = 'running'", (int(checked), listed, run_id))

    def add_difference(self, run_id: int, out_trade_no: str, kind: str, ours: dict, gateway: dict) -> Difference:
        if kind not in DIFFERENCE_KINDS:
            raise ValueError(f"unknown difference kind {kind!r}")
        now = self._clock()
        with self._writing() as conn:
            conn.execute("INSERT INTO recon_differences (run_id, out_trade_no, kind, ours, gateway)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, out_trade_no) DO UPDATE SET"
                         " kind = excluded.kind, ours = excluded.ours, gateway = excluded.gateway",
                         (run_id, out_trade_no, kind, self._dumps(ours), self._dumps(gateway)))
            self._event(conn, "reconciliation", out_trade_no, "difference", "reconciliation", None, None,
                        {"run_id": run_id, "kind": kind, "ours": ours, "gateway": gateway}, None, now)
            row = conn.execute(f"SELECT {_DIFF_COLUMNS} FROM recon_differences WHERE run_id = ? AND out_trade_no = ?",
                               (run_id, out_trade_no)).fetchone()
        return _diff(row)

    def finish_recon_run(self, run_id: int, *, state: str = "done") -> ReconRun:
        now = self._clock()
        with self._writing() as conn:
            conn.execute("UPDATE recon_runs SET state = ?, finished_at = ? WHERE run_id = ? AND state = 'running'",
                         (state, now, run_id))
            self._event(conn, "reconciliation", str(run_id), "finished", "reconciliation", "running", state,
                        None, None, now)
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run(row)

    def recon_runs(self, day: str, profile: str | None = None) -> list[ReconRun]:
        with self._reading() as conn:
            if profile is None:
                rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE day = ? ORDER BY run_id",
                                    (day,)).fetchall()
            else:
                rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE day = ? AND profile = ?"
                                    " ORDER BY run_id", (day, profile)).fetchall()
        return [_run(r) for r in rows]

    def recon_runs_by_id(self, run_ids: list[int]) -> list[ReconRun]:
        with self._reading() as conn:
            return [_run(r) for rid in run_ids for r in conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM recon_runs WHERE run_id = ?", (int(rid),))]

    def differences(self, run_id: int) -> list[Difference]:
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_DIFF_COLUMNS} FROM recon_differences WHERE run_id = ?"
                                " ORDER BY kind, out_trade_no", (run_id,)).fetchall()
        return [_diff(r) for r in rows]

    def open_difference(self, out_trade_no: str) -> Difference | None:
        """The newest unresolved difference found for this order number."""
        with self._reading() as conn:
            row = conn.execute(f"SELECT {_DIFF_COLUMNS} FROM recon_differences WHERE out_trade_no = ?"
                               " AND resolution IS NULL ORDER BY run_id DESC LIMIT 1", (out_trade_no,)).fetchone()
        return None if row is None else _diff(row)

    def resolve_difference(self, run_id: int, out_trade_no: str, *, resolution: str, actor: str, note: str,
                           detail: dict | None = None) -> Difference:
        """A manager settled a difference (compare-and-set: once)."""
        if resolution not in RESOLUTIONS:
            raise ValueError(f"unknown resolution {resolution!r}")
        now = self._clock()
        with self._writing() as conn:
            row = conn.execute(f"SELECT {_DIFF_COLUMNS} FROM recon_differences WHERE run_id = ? AND out_trade_no = ?",
                               (run_id, out_trade_no)).fetchone()
            if row is None:
                raise BooksError("books.no_such_difference", out_trade_no=out_trade_no)
            current = _diff(row)
            changed = conn.execute(
                "UPDATE recon_differences SET resolution = ?, resolved_by = ?, resolved_at = ?, note = ?"
                " WHERE run_id = ? AND out_trade_no = ? AND resolution IS NULL",
                (resolution, actor, now, note or "", run_id, out_trade_no)).rowcount
            if changed != 1:
                raise BooksError("books.difference_resolved", out_trade_no=out_trade_no,
                                 resolution=current.resolution)
            info = {"run_id": run_id, "kind": current.kind, "resolution": resolution, "note": note or ""}
            info.update(detail or {})
            self._event(conn, "reconciliation", out_trade_no, f"resolved_{resolution}", actor, None, resolution,
                        info, None, now)
            row = conn.execute(f"SELECT {_DIFF_COLUMNS} FROM recon_differences WHERE run_id = ? AND out_trade_no = ?",
                               (run_id, out_trade_no)).fetchone()
        return _diff(row)

    def recon_summary(self, day: str) -> list[dict[str, Any]]:
        """The day's reconciliation runs with their differences (for the day report)."""
        out = []
        for run in self.recon_runs(day):
            diffs = self.differences(run.run_id)
            out.append({"run_id": run.run_id, "profile": run.profile, "state": run.state,
                        "orders_checked": run.orders_checked, "started_at": run.started_at,
                        "differences": [d.to_dict() for d in diffs],
                        "unresolved": sum(1 for d in diffs if d.resolution is None)})
        return out


def _from_summary(shift: ShiftRecord, s: dict[str, Any], corrections: tuple[CashEntry, ...],
                  entries: tuple[CashEntry, ...]) -> ShiftReport:
    def d(value: Any) -> Decimal:
        return Decimal(str(value)).quantize(Decimal("0.01"))

    lines = tuple(TotalLine(line["method"], line["gateway"], line["wallet"], int(line["count"]), d(line["amount"]),
                            int(line["refund_count"]), d(line["refunded"])) for line in s.get("lines", ()))
    return ShiftReport(shift=shift, lines=lines, unresolved=tuple(s.get("unresolved", ())),
                       float_amount=d(s["float"]), cash_sales=d(s["cash_sales"]), cash_refunds=d(s["cash_refunds"]),
                       cash_in=d(s["cash_in"]), cash_out=d(s["cash_out"]), expected_cash=d(s["expected_cash"]),
                       counted_cash=d(s["counted_cash"]), corrections=corrections, cash_entries=entries)


