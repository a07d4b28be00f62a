"""The back office of one counter, without Qt: shifts (交班), cash (现金), the manager
PIN for what a clerk may not do alone, and CSV export. The window and cashier-cli
both drive the same `Books`; reconciliation (对账) is in `cashier.reconcile`.

Choices where a shop's habits decide:
- A cash sale needs an open shift (the drawer belongs to a clerk); QR and 付款码 sales
  are recorded without one, as before, and simply carry no shift.
- The change is what was tendered minus the amount; tendering less is refused.
- Refunding cash, correcting a closed shift and resolving a reconciliation difference
  need the manager PIN (the same PIN the settings keep); each refusal is audited.
- The cash drawer is kicked for a cash sale, a cash refund, a cash move and the shift
  count, when a drawer is set up; a drawer or printer that fails never fails the sale.
"""

from __future__ import annotations

import csv
import datetime
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from cashier.i18n import UserError, define, tr
from cashier.ledger import books as B
from cashier.money import format_yuan

log = logging.getLogger("cashier.books")

define({
    "books.pin_needed": ("此操作需要店长密码", "This needs the manager PIN"),
    "books.bad_range": ("开始日期不能晚于结束日期", "The start date may not be after the end date"),
    "books.kind.order": ("订单", "order"),
    "books.kind.refund": ("退款", "refund"),
    "books.kind.cash": ("现金", "cash"),
    "books.csv.header": ("类型,单号,关联单号,时间,班次,收银员,方式,网关,钱包,状态,金额,实收,已退,原因",
                         "type,number,related number,time,shift,clerk,method,gateway,wallet,status,amount,paid,refunded,reason"),
})

MANAGER = "manager"


@dataclass(frozen=True)
class CashSale:
    entry: B.CashEntry

    @property
    def out_trade_no(self) -> str:
        return self.entry.entry_no

    @property
    def amount(self) -> Decimal:
        return self.entry.amount

    @property
    def change(self) -> Decimal:
        return self.entry.change or Decimal("0.00")

    @property
    def tendered(self) -> Decimal:
        return self.entry.tendered or self.entry.amount

    def to_dict(self) -> dict[str, Any]:
        return {"out_trade_no": self.out_trade_no, "status": "paid", "amount": format_yuan(self.amount),
                "tendered": format_yuan(self.tendered), "change": format_yuan(self.change),
                "shift_id": self.entry.shift_id, "clerk": self.entry.clerk}


class Books:
    """Shifts, cash and export for the engine's counter (engine.settings.counter_id)."""

    def __init__(self, engine, *, settings_loader: Callable[[], Any] | None = None, peripherals=None,
                 drawer_in_background: bool = False) -> None:
        """peripherals: a `cashier.peripherals.Peripherals` (the drawer hangs on the
        receipt printer). drawer_in_background: kick it from a thread of its own (the
        window: a printer over the network must never hold the GUI)."""
        self.engine = engine
        self.ledger = engine.ledger
        self._settings_loader = settings_loader or _load_settings
        self.peripherals = peripherals
        self._drawer_in_background = drawer_in_background

    @property
    def counter_id(self) -> str:
        return self.engine.settings.counter_id

    def _number(self, kind: str) -> str:
        from cashier.engine.numbers import make_number

        return make_number(kind, self.counter_id, self.engine.now(), self.ledger.next_sequence("cash"))

    # ------------------------------------------------------------------ roles
    def verify_manager(self, pin: str | None, *, action: str) -> str:
        """The manager PIN or UserError; returns the actor to record. A wrong PIN is
        audited (never the PIN itself)."""
        if not pin:
            raise UserError("books.pin_needed")
        settings = self._settings_loader()
        if not settings.verify_pin(pin):  # raises PinNotSet when there is none
            self.ledger.record_event("manager", action, "pin_refused", self.clerk() or "clerk", {"action": action})
            raise UserError("settings.pin_wrong")
        return MANAGER

    def clerk(self) -> str | None:
        shift = self.current_shift()
        return shift.clerk if shift else None

    # ------------------------------------------------------------------ drawer
    def open_drawer(self) -> bool:
        """Kick the drawer when one is set up; never raises (a sale must not fail on it)."""
        p = self.peripherals
        if p is None:
            return False
        settings = getattr(p, "settings", None)
        if not getattr(settings, "cash_drawer", False) or not getattr(settings, "printer_url", ""):
            return False
        def kick() -> bool:
            try:
                p.open_drawer()
                return True
            except Exception as exc:  # an unplugged printer must never fail the sale
                log.warning("cash drawer not opened: %s", exc)
                return False

        if self._drawer_in_background:
            import threading

            threading.Thread(target=kick, name="cash-drawer", daemon=True).start()
            return True
        return kick()

    # ------------------------------------------------------------------ shifts
    def current_shift(self) -> B.ShiftRecord | None:
        return self.ledger.current_shift(self.counter_id)

    def require_shift(self) -> B.ShiftRecord:
        shift = self.current_shift()
        if shift is None:
            raise UserError("books.no_open_shift")
        return shift

    def open_shift(self, clerk: str, float_amount: Decimal) -> B.ShiftRecord:
        return self.ledger.open_shift(counter_id=self.counter_id, clerk=clerk, float_amount=float_amount)

    def count_drawer(self) -> bool:
        """The clerk is about to count the cash: open the drawer."""
        return self.open_drawer()

    def close_shift(self, counted: Decimal, *, note: str = "", actor: str | None = None) -> B.ShiftReport:
        shift = self.require_shift()
        return self.ledger.close_shift(shift.shift_id, counted=counted, actor=actor or shift.clerk, note=note)

    def handover(self, counted: Decimal, next_clerk: str, next_float: Decimal | None = None, *, note: str = ""
                 ) -> tuple[B.ShiftReport, B.ShiftRecord]:
        """交班: close this shift with the counted cash and open the next clerk's with
        the cash left in the drawer as its float (unless another float is given)."""
        report = self.close_shift(counted, note=note)
        opened = self.open_shift(next_clerk, counted if next_float is None else next_float)
        return report, opened

    def shift_report(self, shift_id: int | None = None) -> B.ShiftReport:
        if shift_id is None:
            shift = self.current_shift()
            if shift is None:
                recent = self.ledger.shifts(limit=1)
                if not recent:
                    raise UserError("books.no_open_shift")
                shift = recent[0]
            shift_id = shift.shift_id
        return self.ledger.shift_report(shift_id)

    def correct_shift(self, shift_id: int, amount: Decimal, reason: str, *, pin: str | None) -> B.CashEntry:
        actor = self.verify_manager(pin, action="shift_correction")
        return self.ledger.correct_shift(entry_no=self._number("D"), shift_id=shift_id, amount=amount,
                                         reason=reason, actor=actor)

    # ------------------------------------------------------------------ cash
    def cash_sale(self, amount: Decimal, tendered: Decimal | None = None) -> CashSale:
        entry = self.ledger.cash_sale(entry_no=self._number("C"), counter_id=self.counter_id, amount=amount,
                                      tendered=tendered)
        self.open_drawer()
        return CashSale(entry)

    def cash_move(self, amount: Decimal, reason: str) -> B.CashEntry:
        entry = self.ledger.cash_move(entry_no=self._number("D"), counter_id=self.counter_id, amount=amount,
                                      reason=reason)
        self.open_drawer()
        return entry

    def cash_refund(self, sale_no: str, amount: Decimal, reason: str, *, pin: str | None) -> B.CashEntry:
        actor = self.verify_manager(pin, action="cash_refund")
        entry = self.ledger.cash_refund(entry_no=self._number("D"), counter_id=self.counter_id, sale_no=sale_no,
                                        amount=amount, reason=reason, actor=actor)
        self.open_drawer()
        return entry

    # ------------------------------------------------------------------ export
    def export_csv(self, first: datetime.date, last: datetime.date, path: str | os.PathLike[str]) -> int:
        """Orders, refunds and cash entries created from `first` to `last` (local days,
        both included) as CSV that Excel opens: UTF-8 with BOM, amounts as text with
        two decimals. Written beside the target and moved in whole. Returns the rows."""
        return export_csv(self.ledger, first, last, path)


def _load_settings():
    from cashier.settings import SettingsStore

    return SettingsStore().load_or_default()[0]


def _stamp(ts: float | None) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _yuan(value: Decimal | None) -> str:
    return "" if value is None else format_yuan(value)


def export_rows(ledger, first: datetime.date, last: datetime.date):
    """The export's rows (without the header), oldest first per kind."""
    from cashier.ledger.db import _day_bounds

    if first > last:
        raise UserError("books.bad_range")
    start, _ = _day_bounds(first, None)
    _, end = _day_bounds(last, None)
    kind_order, kind_refund, kind_cash = tr("books.kind.order"), tr("books.kind.refund"), tr("books.kind.cash")
    for order, refunded in ledger.orders_created_between(start, end):
        yield [kind_order, order.out_trade_no, order.gateway_trade_no or "", _stamp(order.created_at),
               "" if order.shift_id is None else str(order.shift_id), order.clerk or "", order.method,
               order.gateway, order.wallet, order.state, _yuan(order.amount), _yuan(order.paid_amount),
               _yuan(refunded), order.reason or ""]
    for refund, order in ledger.refunds_created_between(start, end):
        yield [kind_refund, refund.out_refund_no, refund.out_trade_no, _stamp(refund.created_at),
               "" if refund.shift_id is None else str(refund.shift_id), refund.clerk or "", order.method,
               order.gateway, order.wallet, refund.state, _yuan(refund.amount), "", "",
               refund.reason or refund.failure_reason or ""]
    for entry in ledger.cash_entries_between(start, end):
        yield [kind_cash, entry.entry_no, entry.ref_no or "", _stamp(entry.created_at), str(entry.shift_id),
               entry.clerk, "cash", "cash", "cash", entry.kind, _yuan(entry.amount),
               _yuan(entry.amount) if entry.kind == B.CASH_SALE else "",
               _yuan(entry.refunded) if entry.kind == B.CASH_SALE else "", entry.reason]


def export_csv(ledger, first: datetime.date, last: datetime.date, path: str | os.PathLike[str]) -> int:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.part")
    count = 0
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(tr("books.csv.header").split(","))
        for row in export_rows(ledger, first, last):
            writer.writerow(row)
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return count
