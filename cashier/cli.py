"""`cashier-cli`: the same engine as the window, scripted.

Every command starts like the app does: open the ledger, resume whatever an earlier
run left unresolved (an interrupted `pay --wait` is picked up here), then act.
`--json` prints exactly one JSON object on stdout. Errors exit non-zero with a
one-line message on stderr.

Exit codes: 0 done, 1 error, 2 usage, 3 not paid / not final within --wait.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cashier import i18n, logs
from cashier.i18n import UserError, define, tr

log = logging.getLogger("cashier.cli")

define({
    "cli.profile_saved": ("已保存商户配置“{name}”（密钥在系统钥匙串中）", "Saved profile '{name}' (key in the system keyring)"),
    "cli.profile_removed": ("已删除商户配置“{name}”", "Removed profile '{name}'"),
    "cli.no_profiles": ("还没有商户配置。用 cashier-cli profile add 添加", "No profiles yet. Add one with cashier-cli profile add"),
    "cli.key_stdin_empty": ("标准输入中没有读到密钥", "No key was read from standard input"),
    "cli.key_needed": ("请用 --key-stdin 从标准输入提供密钥", "Give the key on standard input with --key-stdin"),
    "cli.resumed": ("继续处理上次未完成的 {count} 笔订单/退款", "Resumed {count} unfinished orders/refunds from an earlier run"),
    "cli.unknown_refund": ("没有这笔退款：{no}", "No such refund: {no}"),
    "cli.doctor_ok": ("连接正常：{detail}", "Connection OK: {detail}"),
    "cli.waiting": ("等待付款……", "Waiting for payment..."),
    "cli.bad_extra": ("--extra 的格式是 键=值：{text}", "--extra takes key=value: {text}"),
    "cli.report.unresolved": ("未完成：{orders} 笔订单，{refunds} 笔退款", "Unresolved: {orders:plural:order,orders}, {refunds:plural:refund,refunds}"),
    "cli.report.header": ("{day}  网关/钱包  笔数  收款  退款笔数  退款  净额", "{day}  gateway/wallet  count  taken  refunds  refunded  net"),
    "cli.paid_held": ("paid（资金被冻结）", "paid (held)"),
    "cli.report.held": ("已付款但资金被支付站点冻结：{count} 笔（已计入收款，请与站点核实）",
                        "Paid but held (frozen) by the payment site: {count} (counted as taken; check with the site)"),
    "cli.report.total": ("合计", "Total"),
    "cli.report.cash_moves": ("备用金存入 {cash_in}，取款 {cash_out}", "Cash put in {cash_in}, taken out {cash_out}"),
    "cli.report.recon": ("对账 {profile}：查询 {checked} 笔，差异 {count} 处，未处理 {open} 处",
                         "Reconciliation {profile}: {checked} checked, {count:plural:difference,differences}, {open} open"),
    "cli.quit_ok": ("没有进行中的付款或退款，可以关闭", "No payment or refund in flight: safe to close"),
    "cli.quit_busy": ("有 {count} 笔付款/退款正在进行，请等它完成后再更新或关闭收银台",
                      "{count} payment(s)/refund(s) in flight: let them finish before updating or closing the cashier"),
    "cli.bad_limit": ("条数应为 1 到 {maximum} 之间的整数：{text}", "The limit must be a whole number from 1 to {maximum}: {text}"),
    "cli.bundle_written": ("已写入支持包：{path}（账本检查：{integrity}）", "Support bundle written: {path} (ledger check: {integrity})"),
    "cli.interrupted": ("已中断", "Interrupted"),
    "cli.refund_needs_pin": ("已设置店长密码：退款请加 --pin-stdin，并从标准输入提供店长密码",
                             "A manager PIN is set: refund with --pin-stdin and give the PIN on standard input"),
    "cli.bad_date": ("日期格式应为 YYYY-MM-DD：{text}", "The date must be YYYY-MM-DD: {text}"),
    "cli.bad_seconds": ("秒数应为 0 或正数：{text}", "Seconds must be 0 or more: {text}"),
})


class CliError(UserError):
    pass


READ_ONLY = {"history", "report", "print"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (str, int)):
        return value.value
    return value


def is_held(order) -> bool:
    from cashier.engine.core import is_held as held

    return held(order)


def _ts(value: float | None) -> str | None:
    return datetime.fromtimestamp(value).isoformat(timespec="seconds") if value else None


def order_dict(order) -> dict[str, Any]:
    return {
        "out_trade_no": order.out_trade_no,
        "status": order.state,
        "amount": order.amount,
        "amount_to_pay": order.amount_to_pay,
        "paid_amount": order.paid_amount,
        "method": order.method,
        "wallet": order.wallet,
        "profile": order.profile,
        "gateway": order.gateway,
        "qr": order.qr,
        "qr_image_url": order.qr_image_url,
        "gateway_trade_no": order.gateway_trade_no,
        "reason": order.reason,
        "reason_code": order.reason_code,
        "held": is_held(order),  # paid, but the site froze the money (reason says so)
        "created_at": _ts(order.created_at),
        "expires_at": _ts(order.expires_at),
        "paid_at": _ts(order.paid_at),
        "refundable": None,
    }


def refund_dict(refund) -> dict[str, Any]:
    return {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": refund.out_trade_no,
        "status": refund.state,
        "amount": refund.amount,
        "reason": refund.reason,
        "gateway_refund_no": refund.gateway_refund_no,
        "failure_reason": refund.failure_reason,
        "created_at": _ts(refund.created_at),
        "finished_at": _ts(refund.finished_at),
    }


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, data: dict[str, Any], text: str) -> None:
        if self.as_json:
            print(json.dumps(_jsonable(data), ensure_ascii=False))
        else:
            print(text)

    def note(self, text: str) -> None:
        print(text, file=sys.stderr)


MAX_HISTORY = 100_000


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_HISTORY:
        raise argparse.ArgumentTypeError(tr("cli.bad_limit", text=text, maximum=MAX_HISTORY))
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cashier-cli", description="收银台命令行 / cashier command line")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--lang", choices=["zh_CN", "en"], help="language of messages")
    sub = parser.add_subparsers(dest="command", required=True)

    prof = sub.add_parser("profile", help="merchant profiles").add_subparsers(dest="profile_command", required=True)
    add = prof.add_parser("add", help="add or replace a profile")
    add.add_argument("name")
    add.add_argument("--gateway", required=True)
    add.add_argument("--base-url", required=True)
    add.add_argument("--merchant-id", required=True)
    add.add_argument("--app-id", default="")
    add.add_argument("--notify-url", default="http://127.0.0.1/notify")
    add.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--key-stdin", action="store_true", help="read the merchant key from standard input")
    add.add_argument("--replace", action="store_true")
    prof.add_parser("list", help="list profiles")
    rm = prof.add_parser("remove", help="remove a profile and its key")
    rm.add_argument("name")
    use = prof.add_parser("use", help="make a profile the active one")
    use.add_argument("name")

    pay = sub.add_parser("pay", help="create a QR order")
    pay.add_argument("profile")
    pay.add_argument("--amount", required=True)
    pay.add_argument("--method", required=True, choices=["merged", "wechat", "alipay", "qq"])
    pay.add_argument("--subject", default="")
    pay.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS",
                     help="wait up to SECONDS for the payment (polling at the gateway's rate)")

    micro = sub.add_parser("micropay", help="charge a scanned payment code")
    micro.add_argument("profile")
    micro.add_argument("--amount", required=True)
    micro.add_argument("--auth-code", required=True)
    micro.add_argument("--subject", default="")
    micro.add_argument("--wait", type=_seconds, default=90.0, metavar="SECONDS",
                       help="wait up to SECONDS for a final state (query, then reverse at the deadline)")

    query = sub.add_parser("query", help="query an order (查单)")
    query.add_argument("profile")
    query.add_argument("out_trade_no")

    cancel = sub.add_parser("cancel", help="stop waiting: close a QR order, or query-then-reverse a micropay")
    cancel.add_argument("profile")
    cancel.add_argument("out_trade_no")
    cancel.add_argument("--wait", type=_seconds, default=60.0, metavar="SECONDS",
                        help="wait up to SECONDS for the close/reverse to finish")

    refund = sub.add_parser("refund", help="refund an order, fully or partly")
    refund.add_argument("profile")
    refund.add_argument("out_trade_no")
    refund.add_argument("--amount", required=True)
    refund.add_argument("--reason", default="")
    refund.add_argument("--actor", default="cli")
    refund.add_argument("--pin-stdin", action="store_true",
                        help="read the manager PIN from standard input (needed once a manager PIN is set)")
    refund.add_argument("--wait", type=_seconds, default=0.0, metavar="SECONDS")

    rq = sub.add_parser("refund-query", help="follow a refund")
    rq.add_argument("profile")
    rq.add_argument("out_refund_no")

    doctor = sub.add_parser("doctor", help="without a profile: check this machine (display, keyring, data folder, "
                                           "gateways, clock); with one: reach its gateway and check the credentials")
    doctor.add_argument("profile", nargs="?")

    sub.add_parser("request-quit", help="for installers: exit 0 when no payment or refund is in flight in these "
                                        "books, else name them and exit 3")

    resume = sub.add_parser("resume", help="settle every unresolved order and refund")
    resume.add_argument("--wait", type=_seconds, default=120.0, metavar="SECONDS")

    hist = sub.add_parser("history", help="newest orders, or those a search finds")
    hist.add_argument("--limit", type=_limit, default=20, help=f"1 to {MAX_HISTORY} orders")
    hist.add_argument("--search", default="", metavar="TEXT",
                      help="as typed at the counter: an amount (12.34), a time (15:00, 14:00-16:00), a day "
                           "(昨天, 12-01), a wallet (微信) or an order number")
    from cashier.ledger.records import SEARCH_STATUSES

    hist.add_argument("--state", choices=SEARCH_STATUSES, default=None, help="only orders in this state")

    rep = sub.add_parser("report", help="a day's report per gateway and wallet")
    rep.add_argument("--date", default=None, help="YYYY-MM-DD (default today)")
    rep.add_argument("--counter", default=None, metavar="ID",
                     help="only this counter's sales and the refunds made there (default: the whole shop)")

    shift = sub.add_parser("shift", help="shifts (交班)").add_subparsers(dest="shift_command", required=True)
    sopen = shift.add_parser("open", help="open a shift with the clerk's name and the cash float")
    sopen.add_argument("--clerk", required=True)
    sopen.add_argument("--float", dest="float_amount", default="0", metavar="YUAN")
    sclose = shift.add_parser("close", help="close the open shift with the counted cash")
    sclose.add_argument("--counted", required=True, metavar="YUAN")
    sclose.add_argument("--note", default="")
    sclose.add_argument("--next-clerk", default=None, help="hand over: open the next clerk's shift at once")
    slist = shift.add_parser("list", help="the newest shifts of the whole shop, or of one counter")
    slist.add_argument("--counter", default=None, metavar="ID")
    slist.add_argument("--limit", type=int, default=20)
    srep = shift.add_parser("report", help="a shift's report (default: the open or the last one)")
    srep.add_argument("shift", nargs="?", type=int)
    scor = shift.add_parser("correct", help="a manager's correction of a closed shift (needs the PIN)")
    scor.add_argument("shift", type=int)
    scor.add_argument("--amount", required=True, help="signed: -5.00 takes 5 yuan off")
    scor.add_argument("--reason", required=True)
    scor.add_argument("--pin-stdin", action="store_true", help="read the manager PIN from standard input")

    cash = sub.add_parser("cash", help="a cash sale (现金)")
    cash.add_argument("--amount", required=True)
    cash.add_argument("--tendered", default=None, help="what the customer gave; prints the change")

    move = sub.add_parser("cash-move", help="备用金 in (+) or 取款 out (-), with a reason")
    move.add_argument("--amount", required=True, help="signed: -50.00 takes 50 yuan out")
    move.add_argument("--reason", required=True)

    crefund = sub.add_parser("cash-refund", help="give cash back for a cash sale (needs the PIN)")
    crefund.add_argument("out_trade_no")
    crefund.add_argument("--amount", required=True)
    crefund.add_argument("--reason", default="")
    crefund.add_argument("--pin-stdin", action="store_true", help="read the manager PIN from standard input")

    recon = sub.add_parser("reconcile", help="对账: re-query a day's orders at the gateway; or resolve a difference",
                           description="reconcile PROFILE --date YYYY-MM-DD | "
                                       "reconcile resolve OUT_TRADE_NO --action record|refund|checked --note TEXT")
    recon.add_argument("target", metavar="PROFILE|resolve")
    recon.add_argument("out_trade_no", nargs="?")
    recon.add_argument("--date", default=None, help="YYYY-MM-DD (default today)")
    recon.add_argument("--action", choices=["record", "refund", "checked"])
    recon.add_argument("--note", default="")
    recon.add_argument("--pin-stdin", action="store_true", help="read the manager PIN from standard input")

    export = sub.add_parser("export", help="orders, refunds and cash of a date range as CSV (Excel: UTF-8 with BOM)")
    export.add_argument("--from", dest="first", required=True, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="last", required=True, metavar="YYYY-MM-DD")
    export.add_argument("--out", required=True, metavar="FILE.csv")

    bundle = sub.add_parser("support-bundle",
                            help="zip logs, settings, profiles (never keys) and ledger facts for support")
    bundle.add_argument("--out", default=None, metavar="FILE", help="the zip to write (default: in this folder)")

    conf = sub.add_parser("config", help="the counter's settings (counter id, ledger URL, ...)")
    conf_sub = conf.add_subparsers(dest="config_command", required=True)
    get = conf_sub.add_parser("get", help="print a setting (all of them without KEY)")
    get.add_argument("key", nargs="?")
    put = conf_sub.add_parser("set", help="change a setting")
    put.add_argument("key")
    put.add_argument("value")

    ledger = sub.add_parser("ledger", help="where the books are kept").add_subparsers(
        dest="ledger_command", required=True)
    mig = ledger.add_parser("migrate", help="copy these books (SQLite) into a shared PostgreSQL ledger; "
                                            "run again, it copies nothing new; totals are compared")
    mig.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host[:port]/database")
    mig.add_argument("--from", dest="source", default=None, metavar="URL_OR_FILE",
                     help="the books to copy (default: this counter's SQLite ledger)")
    pw = ledger.add_parser("password", help="store the shared ledger's database password in the system keyring")
    pw.add_argument("--url", default=None, help="the ledger (default: the configured one)")
    pw.add_argument("--stdin", action="store_true", required=True, help="read the password from standard input")
    ledger.add_parser("where", help="which ledger this counter uses")

    from cashier import cli_devices

    cli_devices.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lang:
        i18n.set_language(args.lang)
    out = Output(args.json)
    logs.setup("cashier-cli")
    command = " ".join(filter(None, (args.command, *(getattr(args, f"{args.command}_command", None),))))
    # Never the arguments: they may hold a payment code.
    log.info("cashier-cli %s: start (%s)", command,
             " ".join(f"{k}={v}" for k, v in logs.environment_summary().items()))
    started = time.monotonic()
    try:
        code = _run(args, out)
    except KeyboardInterrupt:
        _fail(out, tr("cli.interrupted"))
        code = 130
    except Exception as exc:  # the last resort: one plain line, the traceback in the log file
        _fail(out, logs.describe(exc))
        code = 1
    log.info("cashier-cli %s: exit %d in %.0f ms", command, code, (time.monotonic() - started) * 1000)
    return code


def _fail(out: Output, message: str) -> None:
    line = logs.one_line(message)
    try:
        if out.as_json:
            print(json.dumps({"error": line}, ensure_ascii=False))
        print(f"cashier-cli: {line}", file=sys.stderr)
    except (OSError, ValueError):  # stdout/stderr closed or a broken pipe: nowhere left to say it
        pass


def _run(args: argparse.Namespace, out: Output) -> int:
    if args.command == "profile":
        return _profile(args, out)
    if args.command == "config":
        from cashier import cli_config

        return cli_config.config(args, out)
    if args.command == "ledger":
        from cashier import cli_config

        return cli_config.ledger(args, out)
    if args.command == "doctor" and not args.profile:
        return _machine_doctor(out)
    if args.command == "request-quit":
        return _request_quit(out)
    if args.command == "support-bundle":  # works when the ledger cannot be opened: that is when it helps
        from pathlib import Path

        from cashier.support import default_name, make_bundle

        made = make_bundle(Path(args.out) if args.out else Path.cwd() / default_name())
        out.emit(made, tr("cli.bundle_written", path=made["path"], integrity=made["ledger"].get("integrity", "-")))
        return 0
    from cashier import cli_devices

    if args.command in cli_devices.COMMANDS and getattr(args, "print_command", None) not in cli_devices.NEEDS_LEDGER:
        return cli_devices.run(args, out)
    from cashier.services import open_context

    ctx = open_context(start=False)
    try:
        # Resume what an earlier run left (an interrupted pay --wait is picked up here),
        # unless a running window schedules these books, or the command only reads.
        if args.command not in READ_ONLY and not ctx.scheduled_elsewhere:
            resumed = ctx.engine.recover()
            if resumed:
                out.note(tr("cli.resumed", count=len(resumed)))
                ctx.engine.run_due()
        if args.command in cli_devices.COMMANDS:
            return cli_devices.run(args, out, ctx)
        return _command(args, out, ctx)
    finally:
        ctx.close()


def _machine_doctor(out: Output) -> int:
    from cashier import doctor

    checks = doctor.run_checks()
    failed = any(c.status == "fail" for c in checks)
    out.emit({"ok": not failed, "checks": [c.to_dict() for c in checks]}, doctor.render(checks))
    return 1 if failed else 0


def _check_manager_pin(args) -> None:
    """Refunds need the manager's PIN once the owner has set one (as in the window)."""
    from cashier import settings as user_settings
    from cashier.cli_books import _pin

    current = user_settings.load()
    if not current.has_pin:
        return
    pin = _pin(args)
    if pin is None:
        raise CliError("cli.refund_needs_pin")
    if not current.verify_pin(pin):
        raise CliError("settings.pin_wrong")


def _request_quit(out: Output) -> int:
    """Asked by the Windows installer before it replaces the program: are these books busy?"""
    from cashier import paths
    from cashier.counter import in_flight
    from cashier.ledger import Ledger

    # A request out or a customer paying: the program must not be replaced under them.
    path = paths.database_path()
    busy_orders: list = []
    busy_refunds: list = []
    if path.exists():
        with Ledger(path) as ledger:
            busy_orders, busy_refunds = in_flight(ledger)
    if not busy_orders and not busy_refunds:
        out.emit({"busy": False, "ledger": str(path)}, tr("cli.quit_ok"))
        return 0
    text = "\n".join([tr("cli.quit_busy", count=len(busy_orders) + len(busy_refunds))]
                     + ["  " + _order_text(o) for o in busy_orders] + ["  " + _refund_text(r) for r in busy_refunds])
    out.emit({"busy": True, "ledger": str(path), "orders": [order_dict(o) for o in busy_orders],
              "refunds": [refund_dict(r) for r in busy_refunds]}, text)
    return 3


def _profile(args: argparse.Namespace, out: Output) -> int:
    from cashier import secrets
    from cashier.gateways.base import Profile
    from cashier.profiles import ProfileStore, validate

    store = ProfileStore()
    if args.profile_command == "list":
        profiles = store.list()
        active = store.active()
        rows = [{**p.to_dict(), "active": active is not None and p.name == active.name,
                 "has_key": secrets.has_secret(p.name)} for p in profiles]
        text = "\n".join(f"{'*' if r['active'] else ' '} {r['name']}\t{r['gateway']}\t{r['base_url']}\t"
                         f"{r['merchant_id']}{'' if r['has_key'] else '  (no key)'}" for r in rows) or tr("cli.no_profiles")
        out.emit({"profiles": rows}, text)
        return 0
    if args.profile_command == "remove":
        store.remove(args.name)
        secrets.delete_secret(args.name)
        out.emit({"removed": args.name}, tr("cli.profile_removed", name=args.name))
        return 0
    if args.profile_command == "use":
        store.set_active(args.name)
        out.emit({"active": args.name}, args.name)
        return 0
    # add
    extra = {}
    for item in args.extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError("cli.bad_extra", text=item)
        extra[key] = value
    profile = validate(Profile(name=args.name, gateway=args.gateway, base_url=args.base_url,
                               merchant_id=args.merchant_id, app_id=args.app_id, notify_url=args.notify_url,
                               extra=extra))
    if not args.key_stdin:
        raise CliError("cli.key_needed")
    secret = sys.stdin.readline().strip()
    if not secret:
        raise CliError("cli.key_stdin_empty")
    secrets.set_secret(profile.name, secret)  # keyring first: without one, nothing is stored
    try:
        store.add(profile, replace=args.replace)
    except BaseException:
        secrets.delete_secret(profile.name)
        raise
    out.emit({"saved": profile.name, "profile": profile.to_dict()}, tr("cli.profile_saved", name=profile.name))
    return 0


def _seconds(text: str) -> float:
    """A --wait: 0 or more seconds ("inf": no limit). NaN or a negative number is refused
    before anything is sent, rather than read as "do not wait"."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:  # also false for NaN
        raise argparse.ArgumentTypeError(tr("cli.bad_seconds", text=text))
    return value


def _command(args: argparse.Namespace, out: Output, ctx) -> int:
    from cashier.gateways.base import Method
    from cashier.ledger import states as S
    from cashier.money import parse_amount

    engine = ctx.engine
    name = getattr(args, "profile", None)
    if name in ctx.problems:  # e.g. the key is missing from the keyring: say that, not "no profile"
        raise CliError("engine.gateway_error", message=ctx.problems[name])
    if args.command == "pay":
        gw = engine.gateway(args.profile)
        amount = parse_amount(args.amount, minimum=gw.limits.min_amount, maximum=gw.limits.max_amount)
        order = engine.start_qr(args.profile, amount, Method(args.method), subject=args.subject)
        if args.wait > 0:
            out.note(tr("cli.waiting"))
            order = _wait(engine, order.out_trade_no, args.wait, stop={S.PENDING, S.UNKNOWN, S.SENDING})
        out.emit(order_dict(order), _order_text(order))
        return 0 if order.state == S.PAID or args.wait <= 0 else 3
    if args.command == "micropay":
        gw = engine.gateway(args.profile)
        amount = parse_amount(args.amount, minimum=gw.limits.min_amount, maximum=gw.limits.max_amount)
        order = engine.start_micropay(args.profile, amount, args.auth_code, subject=args.subject)
        if order.state not in S.FINAL_ORDER_STATES and args.wait > 0:
            order = _wait(engine, order.out_trade_no, args.wait, stop=S.UNRESOLVED_ORDER_STATES - {S.NEEDS_CHECK})
        out.emit(order_dict(order), _order_text(order))
        return 0 if order.state == S.PAID else 3
    if args.command == "query":
        engine.gateway(args.profile)
        order = _patiently(lambda: engine.check(args.out_trade_no, actor="cli"))
        data = order_dict(order)
        if order.state == S.PAID:
            data["refundable"] = engine.refundable(order.out_trade_no)
        out.emit(data, _order_text(order))
        return 0
    if args.command == "cancel":
        engine.gateway(args.profile)
        order = engine.stop_waiting(args.out_trade_no, actor="cli")
        if args.wait > 0:  # query-then-reverse may have to wait for the gateway's rate limit
            order = _wait(engine, order.out_trade_no, args.wait,
                          stop={S.SENDING, S.UNKNOWN, S.USERPAYING, S.REVERSING})
        out.emit(order_dict(order), _order_text(order))
        # Exit 3 when the customer was charged after all (refund instead), or when the
        # stop is not settled within --wait: a script must not read "cancelled" into it.
        if order.state == S.PAID or (args.wait > 0 and order.state in {S.SENDING, S.UNKNOWN, S.USERPAYING,
                                                                         S.REVERSING}):
            return 3
        return 0
    if args.command == "refund":
        engine.gateway(args.profile)
        amount = parse_amount(args.amount)
        _check_manager_pin(args)
        refund = engine.refund(args.out_trade_no, amount, args.reason, actor=args.actor)
        if args.wait > 0:
            refund = _wait_refund(engine, refund.out_refund_no, args.wait)
        out.emit(refund_dict(refund), _refund_text(refund))
        if refund.state == S.REFUND_FAILED or (args.wait > 0 and refund.state != S.REFUND_SUCCEEDED):
            return 3  # refused, or not final within --wait (as pay and micropay)
        return 0
    if args.command == "refund-query":
        engine.gateway(args.profile)
        refund = ctx.ledger.get_refund(args.out_refund_no)
        if refund is None:
            raise CliError("cli.unknown_refund", no=args.out_refund_no)
        if refund.state not in S.FINAL_REFUND_STATES:
            refund = _patiently(lambda: engine.check_refund(args.out_refund_no, actor="cli"))
        out.emit(refund_dict(refund), _refund_text(refund))
        return 0
    if args.command == "doctor":
        from cashier.counter import doctor

        detail, found = doctor(engine.gateway(args.profile), args.profile)  # charges nothing
        out.emit({"profile": args.profile, "ok": True, "detail": detail, "found": found},
                 tr("cli.doctor_ok", detail=detail) + "".join(f"\n{k}: {v}" for k, v in found.items()))
        return 0
    if args.command == "resume":
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            wait = engine.run_due()
            if wait is None:
                break
            time.sleep(max(0.05, min(wait, deadline - time.monotonic(), 1.0)))
        left = ctx.ledger.unresolved_orders()
        out.emit({"unresolved": [order_dict(o) for o in left]},
                 "\n".join(_order_text(o) for o in left) or "OK")
        return 0 if not left else 3
    if args.command == "history":
        from cashier.history_search import parse_search

        parsed = parse_search(args.search, now=ctx.engine.now(), status=args.state)
        entries = ctx.engine.search_history(parsed.query, limit=args.limit)
        out.emit({"search": parsed.description,
                  "orders": [order_dict(e.order) | {"refunded": e.refunded, "refund_state": e.refund_state}
                             for e in entries]},
                 "\n".join(_order_text(e.order) + (f"  refunded {e.refunded:f}" if e.refunded else "")
                           for e in entries))
        return 0
    if args.command in BOOKS_COMMANDS:
        from cashier import cli_books

        return cli_books.run(args, out, ctx)
    if args.command == "report":
        day = _day(args.date)
        report = ctx.ledger.daily_report(day, counter_id=args.counter)
        out.emit(report.to_dict(), _report_text(report))
        return 0
    raise CliError("error.generic")


BOOKS_COMMANDS = {"shift", "cash", "cash-move", "cash-refund", "reconcile", "export"}


def _day(text: str | None) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError("cli.bad_date", text=text) from None


def _patiently(call, attempts: int = 4):
    """Run a query; when the gateway's rate limit says "not yet", wait for the slot."""
    from cashier.engine import EngineError

    for attempt in range(attempts):
        try:
            return call()
        except EngineError as exc:
            if exc.key != "engine.check_too_soon" or attempt == attempts - 1:
                raise
            time.sleep(float(exc.params.get("wait", 1)))
    raise AssertionError("unreachable")


def _wait(engine, out_trade_no: str, seconds: float, *, stop: set[str]):
    """Run the engine's due steps until the order leaves `stop` states or time is up."""
    deadline = time.monotonic() + seconds
    order = engine.order(out_trade_no)
    while order.state in stop and time.monotonic() < deadline:
        wait = engine.run_due()
        order = engine.order(out_trade_no)
        if order.state not in stop:
            break
        time.sleep(max(0.05, min(wait if wait is not None else 1.0, 1.0, deadline - time.monotonic())))
    return engine.order(out_trade_no)


def _wait_refund(engine, out_refund_no: str, seconds: float):
    from cashier.ledger import states as S

    deadline = time.monotonic() + seconds
    refund = engine.ledger.get_refund(out_refund_no)
    while refund.state not in S.FINAL_REFUND_STATES and time.monotonic() < deadline:
        wait = engine.run_due()
        refund = engine.ledger.get_refund(out_refund_no)
        time.sleep(max(0.05, min(wait if wait is not None else 1.0, 1.0, deadline - time.monotonic())))
    return engine.ledger.get_refund(out_refund_no)


def _report_text(report) -> str:
    lines = []
    if report.unresolved_orders or report.unresolved_refunds:
        lines.append(tr("cli.report.unresolved", orders=len(report.unresolved_orders),
                        refunds=len(report.unresolved_refunds)))
        lines += ["  " + _order_text(o) for o in report.unresolved_orders]
        lines += ["  " + _refund_text(r) for r in report.unresolved_refunds]
    if report.held_orders:
        lines.append(tr("cli.report.held", count=len(report.held_orders)))
        lines += ["  " + _order_text(o) for o in report.held_orders]
    lines.append(tr("cli.report.header", day=report.day.isoformat()))
    for line in (*report.lines, report.totals):
        label = f"{line.gateway} {line.wallet}".strip() or tr("cli.report.total")
        lines.append(f"  {label:<20} {line.paid_count:>5} {format(line.paid_sum, 'f'):>12} "
                     f"{line.refund_count:>5} {format(line.refund_sum, 'f'):>12} {format(line.net, 'f'):>12}")
    if report.cash_in or report.cash_out:
        lines.append(tr("cli.report.cash_moves", cash_in=format(report.cash_in, "f"), cash_out=format(report.cash_out, "f")))
    for run in report.reconciliation:
        lines.append(tr("cli.report.recon", profile=run["profile"], checked=run["orders_checked"],
                        count=len(run["differences"]), open=run["unresolved"]))
    return "\n".join(lines)


def _order_text(order) -> str:
    state = tr("cli.paid_held") if is_held(order) else order.state
    parts = [order.out_trade_no, state, format(order.amount_to_pay or order.amount, "f"), order.wallet]
    if order.qr:
        parts.append(order.qr)
    if order.reason:
        parts.append(order.reason)
    return "  ".join(str(p) for p in parts if p)


def _refund_text(refund) -> str:
    parts = [refund.out_refund_no, refund.state, format(refund.amount, "f"), refund.failure_reason or ""]
    return "  ".join(p for p in parts if p)


if __name__ == "__main__":
    raise SystemExit(main())
