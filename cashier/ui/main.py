"""`cashier`: the counter window.

    cashier                    the shop's profiles (first run: offers demo mode)
    cashier --demo             the embedded simulator with a demo profile per gateway
    cashier --exit-after-first-frame   exit 0 once the main window has painted
    cashier --lang en|zh_CN    override the language for this run

Start-up is kept short: Qt and the window first, showing a plain start-up panel;
right after that first frame the pages are built; once they are on screen the
engine, ledger, gateways and (in demo mode) the simulator are imported and opened on
a worker thread (bench/startup_bench.py measures each moment).
"""

from __future__ import annotations

import os
import sys
import time

T0 = time.perf_counter()


def parse_args(argv: list[str]):
    import argparse  # only when there is something to parse: quick start-up

    parser = argparse.ArgumentParser(prog="cashier", description="收银台 / counter cashier")
    parser.add_argument("--demo", action="store_true", help="demo mode: embedded gateway simulator")
    parser.add_argument("--exit-after-first-frame", action="store_true",
                        help="exit 0 once the main window has painted (start-up measurement)")
    parser.add_argument("--exit-when-ready", action="store_true",
                        help="exit 0 once payments can be taken (engine and gateways ready)")
    parser.add_argument("--lang", choices=["auto", "zh_CN", "en"], help="language for this run")
    parser.add_argument("--print-timings", action="store_true", help="print start-up timings to stderr")
    return parser.parse_args(argv)


def _has_profiles() -> bool:
    from cashier.profiles import ProfileStore

    try:
        return bool(ProfileStore().list())
    except Exception:
        return True  # a damaged file: the window says so, first run would hide it


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.environ.get("CASHIER_LOG"):
        import logging

        logging.basicConfig(level=os.environ["CASHIER_LOG"])
    from cashier import logs

    logs.hold()  # the log file is opened after the first frame; records wait in memory
    try:
        return _run(args)
    except Exception as exc:  # before or after the window: one line, the traceback in the log
        logs.setup("cashier")
        line = logs.one_line(logs.describe(exc))
        print(f"cashier: {line}", file=sys.stderr)
        _show_fatal(line)
        return 1


def _show_fatal(line: str) -> None:
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox

        if QApplication.instance() is not None:
            QMessageBox.critical(None, "收银台 cashier", line)
    except Exception:
        pass


def _run(args) -> int:
    from cashier import i18n, logs
    from cashier import settings as settings_mod

    settings, settings_error = settings_mod.SettingsStore().load_or_default()
    i18n.set_language(args.lang or os.environ.get("CASHIER_LANG") or settings.language)

    from cashier.ui.app import make_app

    timings: dict[str, float] = {"settings": time.perf_counter() - T0}
    app = make_app([], language=i18n.language())
    timings["app"] = time.perf_counter() - T0
    from cashier.ui.window import MainWindow

    demo = args.demo
    first_run = not demo and not _has_profiles()
    # The window paints a plain start-up panel first and builds its pages right after
    # that first frame, while the engine opens on a worker thread.
    window = MainWindow(demo=demo, settings=settings, deferred=True)
    window.ask_handover_on_close = True  # the clerk quits: offer 交班 while a shift is open
    from cashier.ui.app import LastResort

    last_resort = LastResort(lambda: window).install()
    timings["window"] = time.perf_counter() - T0
    if settings_error is not None:
        window.flash(settings_error.message())

    def on_first_frame() -> None:
        timings["first_frame"] = time.perf_counter() - T0
        if args.print_timings:  # at once, for bench/startup_bench.py (the exit comes later)
            print("first_frame", flush=True)
        if args.exit_after_first_frame:
            app.quit()
            return
        logs.setup("cashier")
        if first_run:
            window.complete()
            window.show_first_run()
        else:
            # The engine opens on a worker once the checkout is on screen: opened while
            # the pages are built and painted, it would only slow both (one GIL), and
            # the checkout would show later for the same moment of readiness.
            window.pages_painted.connect(window.start_context)
            window.complete()
        timings["built"] = time.perf_counter() - T0

    def on_pages_painted() -> None:
        timings["pages_painted"] = time.perf_counter() - T0
        if args.print_timings:
            print("pages_painted", flush=True)

    def on_ready(_ctx) -> None:
        timings["ready"] = time.perf_counter() - T0
        if args.print_timings:
            print("ready", flush=True)
        if args.exit_when_ready:
            app.quit()

    window.first_frame.connect(on_first_frame)
    window.pages_painted.connect(on_pages_painted)
    window.context_ready.connect(on_ready)
    window.show_on_screen()
    code = app.exec()
    window.shutdown()
    last_resort.uninstall()
    if args.print_timings:
        print(" ".join(f"{k}={v * 1000:.0f}ms" for k, v in timings.items()), file=sys.stderr)
    return code
