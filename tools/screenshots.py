"""Screenshots of each main screen of the real window in demo mode, for a person to
look at (not a test). Needs an X display; on a headless machine:

    xvfb-run -a -s "-screen 0 1366x850x24" python tools/screenshots.py /tmp/shots

Writes first_run, checkout, qr, micropay_waiting, success, to_check, history_refund,
report and settings PNGs into the directory given (default /tmp/shots). Grabs the
whole X screen, so dialogs are in the picture too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/shots")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CASHIER_HOME", tempfile.mkdtemp(prefix="cashier-shots-"))
    os.environ.setdefault("CASHIER_LANG", "zh_CN")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    app = make_app([])

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

    def shot(name: str) -> None:
        spin(0.4)
        pixmap = QGuiApplication.primaryScreen().grabWindow(0)
        path = out / f"{name}.png"
        pixmap.save(str(path))
        print(path)

    # First run: no profile, no demo.
    first = MainWindow()
    first.show_on_screen()
    first.show_first_run()
    shot("first_run")
    first.close()
    first.shutdown()

    window = MainWindow(demo=True)
    window.show_on_screen()
    wait(lambda: window._painted)
    window.start_context()
    wait(lambda: window.ctx is not None and window.engine is not None)
    co = window.checkout
    co.setFocus()

    def type_amount(text: str) -> None:
        for ch in text:
            QTest.keyClicks(co, ch)
            spin(0.12)  # a person's pace: the scanner filter lets it through
        spin(0.2)

    type_amount("36.80")
    shot("checkout")

    QTest.keyClick(co, Qt.Key.Key_F1)
    wait(lambda: co.mode == "qr")
    shot("qr")
    window.customer.pay_shown()
    wait(lambda: co.current is not None and co.current.state == "paid")
    shot("success")
    co.new_checkout()

    # Micropay on a gateway that takes payment codes; the customer enters a password.
    window.set_profile("演示·蜂鸟")
    type_amount("12.50")
    window.customer.kind.setCurrentIndex(window.customer.kind.findData("password"))
    window.customer.seconds.setValue(60)
    window.customer.show_code()
    wait(lambda: co.mode == "waiting")
    spin(1.2)
    shot("micropay_waiting")
    co.cancel()
    wait(lambda: co.mode == "result", 60)
    co.new_checkout()

    # A QR order the customer walked away from: LTZF cannot close it, so it is
    # closed here and still watched for a late payment (listed under 待处理).
    window.set_profile("演示·蓝兔支付")
    type_amount("8")
    QTest.keyClick(co, Qt.Key.Key_F3)
    wait(lambda: co.mode == "qr")
    QTest.keyClick(co, Qt.Key.Key_Escape)
    wait(lambda: co.mode == "result")
    shot("cancelled")
    co.new_checkout()
    page = window.show_page("attention")
    wait(lambda: bool(page.orders))
    page.table.selectRow(0)
    shot("to_check")

    from cashier.settings import SettingsStore

    SettingsStore().set_pin("2468")
    page = window.show_page("history")
    wait(lambda: bool(page.orders))
    paid = next(o for o in page.orders if o.state == "paid")
    page.select(paid.out_trade_no)
    wait(lambda: page.refund_button.isEnabled())
    dialog = page.open_refund_dialog()
    dialog.amount.setText("10.00")
    dialog.show()
    shot("history_refund")
    dialog.reject()

    report = window.show_page("report")
    wait(lambda: report.report is not None)
    shot("report")

    settings = window.show_page("settings")
    shot("settings")
    settings.tabs.setCurrentIndex(1)
    settings.table.selectRow(2)
    settings.test_selected()
    wait(lambda: "连接" in settings.test_result.text() and "正在" not in settings.test_result.text())
    shot("settings_profiles")

    window.close()
    window.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
