"""`cashier-cli` commands for the counter's peripherals (setup scripts and support):

    cashier-cli print receipt OUT_TRADE_NO [--printer URL]
    cashier-cli print test [--printer URL]
    cashier-cli drawer open [--printer URL]
    cashier-cli say TEXT [--wav FILE]

They print synchronously and say plainly when the printer can't be reached.
"""

from __future__ import annotations

import argparse

from cashier.i18n import UserError, define, tr

define({
    "cli.printed": ("已打印：{what}", "Printed: {what}"),
    "cli.said": ("已播报：{text}", "Said: {text}"),
})

COMMANDS = {"print", "drawer", "say"}
NEEDS_LEDGER = {"receipt"}


def add_parsers(sub) -> None:
    printer = argparse.ArgumentParser(add_help=False)
    printer.add_argument("--printer", metavar="URL", help="tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0, COM3, "
                                                          "win32://Name, cups://Name (default: the one in Settings)")
    prt = sub.add_parser("print", help="print a receipt or a test page").add_subparsers(dest="print_command",
                                                                                        required=True)
    receipt = prt.add_parser("receipt", parents=[printer], help="print (again) the receipt of a paid order")
    receipt.add_argument("out_trade_no")
    prt.add_parser("test", parents=[printer], help="print a test page (Chinese text, paper width)")
    drawer = sub.add_parser("drawer", help="the cash drawer").add_subparsers(dest="drawer_command", required=True)
    drawer.add_parser("open", parents=[printer], help="kick the drawer open through the printer")
    say = sub.add_parser("say", help="say a text aloud with the voice announcer")
    say.add_argument("text")
    say.add_argument("--wav", metavar="FILE", help="write the speech to a WAV file instead of the speakers")


def _settings(args):
    from cashier import settings as user_settings

    s = user_settings.load()
    if getattr(args, "printer", None):
        s = s.replace(printer_url=args.printer)
    return s


def run(args, out, ctx=None) -> int:
    from cashier.peripherals import printer as p

    s = _settings(args)
    if args.command == "say":
        import threading

        from cashier.peripherals.voice import Announcer

        done, result = threading.Event(), []
        voice = Announcer(volume=s.voice_volume / 100, timeout=30,
                          on_done=lambda spoken: (result.append(spoken), done.set()))
        try:
            voice.say(args.text, wav=args.wav)
            done.wait(35)
        finally:
            voice.close()
        if not result or not result[0].ok:
            raise UserError("voice.failed", reason=result[0].error if result else "timeout")
        out.emit({"said": args.text, "wav": args.wav}, tr("cli.said", text=args.text))
        return 0
    target = p.parse_printer_url(s.printer_url)
    if args.command == "drawer":
        p.kick_drawer(target)
        out.emit({"drawer": "opened", "printer": target.label()}, tr("peripherals.drawer_opened"))
        return 0
    if args.print_command == "test":
        slip = p.test_slip(shop=s.shop_name, counter=s.counter_id, paper_mm=s.printer_paper_mm,
                           encoding=s.printer_encoding)
    else:
        order = ctx.engine.order(args.out_trade_no)
        if order.state != "paid":
            raise UserError("peripherals.not_paid", no=args.out_trade_no)
        slip = p.sale_slip(order, shop=s.shop_name)
    p.print_slip(target, slip, paper_mm=s.printer_paper_mm, encoding=s.printer_encoding)
    out.emit({"printed": slip.kind, "printer": target.label(), "out_trade_no": slip.code or None},
             tr("cli.printed", what=slip.title))
    return 0
