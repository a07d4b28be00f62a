"""Screenshots of every page of the real window in demo mode, for a person to look
at (not a test), typed into with xdotool as a keyboard and a scanner would. Needs an
X display (the window is sized to the screen); on a headless machine, per screen size
and language:

    for size in 1024x768 1366x768; do for lang in zh_CN en; do
      xvfb-run -a -s "-screen 0 ${size}x24" python tools/screenshots.py /tmp/shots/$size-$lang --lang $lang
    done; done

(no window manager: as on a kiosk). With xdotool on the PATH the amount is typed at
a person's pace (120 ms a key), the payment code at scanner speed (1 ms a key) and a
gateway address into the profile dialog at password-manager speed (30 ms a key);
without it the keys are sent through Qt. Writes first_run, checkout, qr, success,
scanned_code, micropay_waiting, cancelled, profile_switch, to_check, history,
(the back office: shift_open, cash_change, checkout_after_cash, shift_close,
reconcile_review),
history_refund, report, settings, settings_profiles, profile_dialog and
not_a_payment_code PNGs into the directory given, and prints any layout fault the
layout tests would report (tests/ui/layout_check.py). Grabs the whole X screen, so
dialogs are in the picture too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default="/tmp/shots")
    parser.add_argument("--lang", default="zh_CN", choices=["zh_CN", "en"])
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CASHIER_HOME", tempfile.mkdtemp(prefix="cashier-shots-"))
    os.environ["CASHIER_LANG"] = args.lang
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from cashier import i18n
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow
    from tests.ui.layout_check import layout_faults

    i18n.set_language(args.lang)
    app = make_app([], language=args.lang)
    xdotool = shutil.which("xdotool") if os.environ.get("DISPLAY") else None

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(pred, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise SystemExit("timed out waiting for the screen")
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str, window=None) -> None:
        spin(0.4)
        pixmap = QGuiApplication.primaryScreen().grabWindow(0)
        path = out / f"{name}.png"
        pixmap.save(str(path))
        target = window or QApplication.activeModalWidget()
        if target is not None:
            for fault in layout_faults(target):
                print(f"  layout fault on {name}: {fault}")
        print(path)

    def keys(text: str, delay_ms: int, enter: bool = False) -> None:
        """Type through the X server (xdotool) at `delay_ms` a key, as a person or a
        scanner would; through Qt when there is no xdotool."""
        if xdotool:
            proc = subprocess.Popen([xdotool, "type", "--delay", str(delay_ms), text])
            while proc.poll() is None:
                app.processEvents()
                time.sleep(0.005)
            if enter:
                subprocess.run([xdotool, "key", "Return"], check=True)
            spin(0.3)
            return
        target = QApplication.focusWidget()
        for ch in text:
            QTest.keyClicks(target, ch)
            spin(delay_ms / 1000)
        if enter:
            QTest.keyClick(target, Qt.Key.Key_Return)
        spin(0.3)

    def key(name: str, qt_key) -> None:
        if xdotool:
            subprocess.run([xdotool, "key", name], check=True)
            spin(0.3)
        else:
            QTest.keyClick(QApplication.focusWidget(), qt_key)
            spin(0.1)

    # First run: no profile, no demo.
    first = MainWindow()
    first.show_on_screen()
    first.show_first_run()
    shot("first_run", first)
    first.close()
    first.shutdown()

    window = MainWindow(demo=True)
    window.show_on_screen()
    wait(lambda: window._painted)
    window.start_context()
    wait(lambda: window.ctx is not None and window.counter is not None)
    window.activateWindow()
    co = window.checkout
    co.setFocus()
    spin(0.5)

    keys("36.80", 120)
    shot("checkout", window)
    key("F1", Qt.Key.Key_F1)
    wait(lambda: co.mode == "qr")
    shot("qr", window)
    window.customer.pay_shown()
    wait(lambda: co.current is not None and co.current.state == "paid")
    shot("success", window)
    key("Return", Qt.Key.Key_Return)

    # A payment code scanned first (scanner speed), then the amount; the active demo
    # profile takes no codes, so the code goes to one that does.
    from cashier.ui.demo import demo_code

    code = demo_code()
    window.counter.demo_next_code("password", 60.0, code)
    keys(code, 1, enter=True)
    shot("scanned_code", window)
    keys("12.50", 120, enter=True)
    wait(lambda: co.mode == "waiting")
    spin(1.2)
    shot("micropay_waiting", window)
    co.cancel()
    wait(lambda: co.mode == "result", 60)
    co.new_checkout()

    # Something that is not a payment code, scanned: never shown, only its kind and length.
    keys("demo-ltzf-secret-0123456789", 1, enter=True)
    shot("not_a_payment_code", window)
    key("Escape", Qt.Key.Key_Escape)

    # A QR the customer walked away from, cancelled (LTZF cannot close it: watched quietly).
    keys("8", 120)
    key("F3", Qt.Key.Key_F3)
    wait(lambda: co.mode == "qr")
    key("Escape", Qt.Key.Key_Escape)
    wait(lambda: co.mode == "result")
    shot("cancelled", window)
    key("Escape", Qt.Key.Key_Escape)

    # The profile switcher (F6).
    key("F6", Qt.Key.Key_F6)
    spin(0.5)
    shot("profile_switch", window)
    key("Escape", Qt.Key.Key_Escape)

    page = window.show_page("attention")
    spin(1.0)
    if page.orders:
        page.table.selectRow(0)
    shot("to_check", window)

    from cashier.settings import SettingsStore

    SettingsStore().set_pin("2468")
    page = window.show_page("history")
    wait(lambda: bool(page.orders))
    paid = next(o for o in page.orders if o.state == "paid")
    page.select(paid.out_trade_no)
    wait(lambda: page.refund_button.isEnabled())
    shot("history", window)
    dialog = page.open_refund_dialog()
    dialog.show()
    spin(0.5)
    dialog.amount.setFocus()
    keys("10", 120)
    shot("history_refund")
    dialog.reject()

    # The back office: the cash key (F10) with the change, 交班 (F11), 对账 (F12).
    window.show_page("checkout")
    co.setFocus()
    co.new_checkout()
    keys("12", 120)
    window.cash_sale()
    wait(lambda: getattr(window, "shift_dialog", None) is not None and window.shift_dialog.isVisible())
    window.shift_dialog.clerk.setText("小王" if args.lang != "en" else "Wang")
    window.shift_dialog.float.setText("100")
    shot("shift_open")
    window.shift_dialog.accept()
    wait(lambda: getattr(window, "cash_dialog", None) is not None and window.cash_dialog.isVisible())
    window.cash_dialog.tendered.setFocus()
    keys("20", 120)
    shot("cash_change")
    window.cash_dialog.accept()
    spin(0.3)
    shot("checkout_after_cash", window)
    window.close_shift()
    wait(lambda: getattr(window, "close_dialog", None) is not None and window.close_dialog.isVisible())
    window.close_dialog.counted.setFocus()
    keys("111.50", 120)
    shot("shift_close")
    window.close_dialog.reject()
    window.reconcile()
    wait(lambda: getattr(window, "recon_dialog", None) is not None and window.recon_dialog.isVisible())
    recon = window.recon_dialog
    window.ctx.sim_client.foreign_order("epay", "1001", "8.88")  # an order only the gateway knows
    epay = next((n for n in window.counter.profiles() if window.counter.info(n).gateway == "epay"), None)
    if epay is not None:
        recon.profile.setCurrentText(epay)
    recon.start()
    wait(lambda: recon.result is not None, 120)
    shot("reconcile_review")
    recon.reject()

    report = window.show_page("report")
    wait(lambda: report.report is not None)
    shot("report", window)

    settings = window.show_page("settings")
    shot("settings", window)
    settings.tabs.setCurrentIndex(1)
    settings.table.selectRow(2)
    settings.test_selected()
    spin(2.0)
    shot("settings_profiles", window)

    from cashier.ui.settings_page import ProfileDialog

    dialog = ProfileDialog(window)
    dialog.show()
    spin(0.5)
    dialog.base_url.clear()
    dialog.base_url.setFocus()
    keys("https://pay.example.com/gateway", 30)  # a password manager's pace
    dialog.merchant_id.setFocus()
    keys("1230001234", 1)
    dialog.secret.setFocus()
    keys("demo-secret-typed-fast", 1)
    shot("profile_dialog")
    print(f"profile dialog: address {dialog.base_url.text()!r}, merchant {dialog.merchant_id.text()!r}, "
          f"key {len(dialog.secret.text())} characters; status bar {window.status_note.text()!r}")
    dialog.reject()

    window.close()
    window.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
