"""cashier-cli's back-office commands: shift, cash, cash-move, cash-refund, reconcile,
export. `--json` field names are part of the interface (scripts rely on them):

  cash:        out_trade_no, status, amount, change (and tendered, shift_id, clerk)
  shift close: shift_id, expected_cash, counted_cash, difference, totals (per method:
               cash / qr / micropay, each with count, amount, refund_count, refunded, net)
  reconcile:   orders_checked, differences (each with out_trade_no, kind, ours, gateway)
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from cashier.i18n import UserError, define, tr
from cashier.money import format_yuan, parse_amount, parse_amount_or_zero

define({
    "cli.shift_opened": ("第 {shift_id} 班已开班：收银员 {clerk}，备用金 {float} 元",
                         "Shift {shift_id} open: clerk {clerk}, float ¥{float}"),
    "cli.cash_done": ("现金收款 {amount} 元，找零 {change} 元（{no}）", "Cash ¥{amount}, change ¥{change} ({no})"),
    "cli.cash_moved": ("钱箱 {amount} 元：{reason}（{no}）", "Drawer ¥{amount}: {reason} ({no})"),
    "cli.pin_stdin_empty": ("标准输入中没有读到店长密码", "No manager PIN was read from standard input"),
    "cli.exported": ("已导出 {count} 行到 {path}", "Exported {count} rows to {path}"),
    "cli.recon_done": ("对账完成：查询 {checked} 笔，差异 {count} 处", "Reconciled: {checked:plural:order,orders} checked, {count:plural:difference,differences}"),
    "cli.resolved": ("已处理 {no}：{resolution}", "Resolved {no}: {resolution}"),
    "cli.need_resolve_args": ("用法：reconcile resolve 订单号 --action record|refund|checked --note 备注",
                              "Usage: reconcile resolve OUT_TRADE_NO --action record|refund|checked --note TEXT"),
    "cli.bad_signed": ("金额格式不对：{text}", "Not an amount: {text}"),
})


class CliBooksError(UserError):
    pass


def _signed(text: str) -> Decimal:
    """"-50.00" / "+50" / "50": a signed yuan amount, parsed as strictly as any other."""
    stripped = (text or "").strip()
    sign = -1 if stripped[:1] in ("-", "−") else 1
    body = stripped[1:] if stripped[:1] in ("-", "−", "+") else stripped
    return parse_amount(body) * sign


def _pin(args) -> str | None:
    if not getattr(args, "pin_stdin", False):
        return None
    pin = sys.stdin.readline().strip()
    if not pin:
        raise CliBooksError("cli.pin_stdin_empty")
    return pin


def shift_text(report) -> str:
    d = report.to_dict()
    lines = [f"第 {d['shift_id']} 班 / shift {d['shift_id']}  {d['clerk']}  {d['state']}"]
    for line in report.lines:
        lines.append(f"  {line.method:<9}{line.gateway:<10}{line.wallet:<9}{line.count:>5} {format_yuan(line.amount):>11}"
                     f" {line.refund_count:>4} {format_yuan(line.refunded):>11}")
    lines.append(f"  float {d['float']}  cash sales {d['cash_sales']}  cash refunds {d['cash_refunds']}"
                 f"  in {d['cash_in']}  out {d['cash_out']}")
    lines.append(f"  expected {d['expected_cash']}  counted {d['counted_cash'] or '-'}  difference {d['difference'] or '-'}")
    for u in d["unresolved"]:
        lines.append(f"  ! {u['out_trade_no']} {u['state']} {u['amount']}")
    for c in d["corrections"]:
        lines.append(f"  + {c['entry_no']} {c['amount']} {c['reason']} ({c['clerk']})")
    return "\n".join(lines)


def _peripherals():
    """The drawer hangs on the receipt printer: only when one is set up."""
    from cashier.settings import SettingsStore

    settings = SettingsStore().load_or_default()[0]
    if not settings.printer_url or not settings.cash_drawer:
        return None
    from cashier.peripherals import Peripherals

    return Peripherals(settings)


def run(args, out, ctx) -> int:
    from cashier.books import Books
    from cashier.cli import _day

    books = Books(ctx.engine, peripherals=_peripherals())
    if args.command == "shift":
        sub = args.shift_command
        if sub == "open":
            amount = parse_amount_or_zero(args.float_amount)
            shift = books.open_shift(args.clerk, amount)
            out.emit({"shift_id": shift.shift_id, "clerk": shift.clerk, "float": shift.float_amount,
                      "status": shift.state},
                     tr("cli.shift_opened", shift_id=shift.shift_id, clerk=shift.clerk,
                        float=format_yuan(shift.float_amount)))
            return 0
        if sub == "close":
            counted = parse_amount_or_zero(args.counted)
            books.count_drawer()
            if args.next_clerk:
                report, opened = books.handover(counted, args.next_clerk, note=args.note)
            else:
                report, opened = books.close_shift(counted, note=args.note), None
            data = report.to_dict()
            if opened is not None:
                data["next_shift_id"] = opened.shift_id
            out.emit(data, shift_text(report))
            return 0
        if sub == "list":
            from cashier.books import _stamp as stamp

            shifts = ctx.ledger.shifts(limit=max(1, min(args.limit, 1000)), counter_id=args.counter)
            rows = [{"shift_id": s.shift_id, "counter_id": s.counter_id, "clerk": s.clerk, "state": s.state,
                     "opened_at": stamp(s.opened_at), "closed_at": stamp(s.closed_at)} for s in shifts]
            out.emit({"counter_id": args.counter, "shifts": rows},
                     "\n".join(f"{r['shift_id']}  {r['counter_id']}  {r['clerk']}  {r['state']}  {r['opened_at']}"
                               f"  {r['closed_at']}" for r in rows))
            return 0
        if sub == "report":
            report = books.shift_report(args.shift)
            out.emit(report.to_dict(), shift_text(report))
            return 0
        if sub == "correct":
            entry = books.correct_shift(args.shift, _signed(args.amount), args.reason, pin=_pin(args))
            out.emit({"entry_no": entry.entry_no, "shift_id": entry.shift_id, "amount": entry.amount,
                      "reason": entry.reason, "actor": entry.clerk},
                     tr("cli.cash_moved", amount=format_yuan(entry.amount), reason=entry.reason, no=entry.entry_no))
            return 0
    if args.command == "cash":
        amount = parse_amount(args.amount)
        tendered = parse_amount(args.tendered) if args.tendered else None
        sale = books.cash_sale(amount, tendered)
        out.emit(sale.to_dict(), tr("cli.cash_done", amount=format_yuan(sale.amount),
                                    change=format_yuan(sale.change), no=sale.out_trade_no))
        return 0
    if args.command == "cash-move":
        entry = books.cash_move(_signed(args.amount), args.reason)
        out.emit({"entry_no": entry.entry_no, "kind": entry.kind, "amount": entry.amount, "reason": entry.reason,
                  "shift_id": entry.shift_id},
                 tr("cli.cash_moved", amount=format_yuan(entry.amount), reason=entry.reason, no=entry.entry_no))
        return 0
    if args.command == "cash-refund":
        entry = books.cash_refund(args.out_trade_no, parse_amount(args.amount), args.reason, pin=_pin(args))
        out.emit({"entry_no": entry.entry_no, "out_trade_no": args.out_trade_no, "status": "refunded",
                  "amount": -entry.amount, "shift_id": entry.shift_id},
                 tr("cli.cash_moved", amount=format_yuan(entry.amount), reason=entry.reason, no=entry.entry_no))
        return 0
    if args.command == "reconcile":
        from cashier import reconcile

        if args.target == "resolve":
            if not args.out_trade_no or not args.action:
                raise CliBooksError("cli.need_resolve_args")
            diff = reconcile.resolve(ctx.engine, books, args.out_trade_no, args.action, args.note, pin=_pin(args))
            out.emit(diff.to_dict(), tr("cli.resolved", no=diff.out_trade_no, resolution=diff.resolution))
            return 0
        ctx.engine.gateway(args.target)  # an unknown profile is said plainly
        day = _day(args.date)
        last = [0.0]

        def progress(p) -> None:
            if time.monotonic() - last[0] > 1.0:
                last[0] = time.monotonic()
                out.note(p.text())

        result = reconcile.Reconciler(ctx.engine, on_progress=progress).run(args.target, day)
        text = [tr("cli.recon_done", checked=result.orders_checked, count=len(result.differences))]
        text += [f"  {d.out_trade_no}  {reconcile.kind_text(d.kind)}  ours={d.ours}  gateway={d.gateway}"
                 for d in result.differences]
        out.emit(result.to_dict(), "\n".join(text))
        return 0 if not result.not_checked else 3
    if args.command == "export":
        first, last = _day(args.first), _day(args.last)
        count = books.export_csv(first, last, args.out)
        out.emit({"path": args.out, "rows": count}, tr("cli.exported", count=count, path=args.out))
        return 0
    raise CliBooksError("error.generic")
