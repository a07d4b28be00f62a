"""Keyboard only: every page by its key, then a QR sale, a 付款码 sale, a refund and
已核对, every key sent to whatever has the focus (as a keyboard does), and not one
mouse event. Dialogs are driven while they are open (their exec() loop runs)."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import FENGNIAO

WECHAT_CODE = "134567890123456789"
OTHER_CODE = "134567890123456780"
PIN = "2468"
NO = Qt.KeyboardModifier.NoModifier
ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


class MouseWatch(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
                            QEvent.Type.MouseButtonDblClick, QEvent.Type.TouchBegin):
            self.seen += 1
        return False


class Keyboard:
    def __init__(self, counter) -> None:
        self.c = counter

    def target(self):
        return QApplication.focusWidget() or QApplication.activeModalWidget() or self.c.window

    def press(self, key, mod=NO) -> None:
        self.c.keys.t += 400
        QTest.keyClick(self.target(), key, mod)
        QApplication.processEvents()

    def type(self, text: str) -> None:
        for ch in text:
            self.c.keys.t += 200  # a person's pace
            QTest.keyClicks(self.target(), ch)
        self.c.keys.t += 500
        self.c.window.scanner.poll()

    def scan(self, code: str) -> None:
        self.c.keys.t += 500
        for ch in code:
            self.c.keys.t += 1
            QTest.keyClicks(self.target(), ch)
        self.c.keys.t += 1
        QTest.keyClick(self.target(), Qt.Key.Key_Return)

    def in_dialog(self, steps, key, mod=NO) -> None:
        """Press `key`, which opens a modal dialog; run `steps` in it (they end it)."""
        done = []

        def go() -> None:
            modal = QApplication.activeModalWidget()
            if modal is None or QApplication.activeWindow() is not modal:
                QTimer.singleShot(20, go)
                return
            steps()
            done.append(True)

        QTimer.singleShot(0, go)
        self.press(key, mod)
        self.c.qtbot.waitUntil(lambda: bool(done) and QApplication.activeModalWidget() is None
                               and QApplication.activeWindow() is self.c.window, timeout=20000)


def test_keyboard_only_walk_sale_code_refund_and_checked(counter, qtbot):
    window, co = counter.window, counter.checkout
    kb = Keyboard(counter)
    watch = MouseWatch()
    QApplication.instance().installEventFilter(watch)
    try:
        window.activateWindow()
        co.setFocus()
        # Every page by its key, and back.
        for i, name in enumerate(("checkout", "attention", "history", "report", "settings"), 1):
            assert f"Alt+{i}" in window.nav_buttons[name].text()
            kb.press(getattr(Qt.Key, f"Key_{i}"), ALT)
            counter.idle()
            assert window.pages.currentWidget() is window.page(name)
            assert QApplication.focusWidget() is not None  # the page took the focus
        kb.press(Qt.Key.Key_Tab, CTRL)  # settings: the next tab
        assert window._lazy_pages["settings"].tabs.currentIndex() == 1
        kb.press(Qt.Key.Key_F9)
        assert window.pages.currentWidget() is co and QApplication.focusWidget() is co

        # The owner sets the manager PIN in Settings (Ctrl+P opens the dialog).
        kb.press(Qt.Key.Key_5, ALT)
        tabs = window._lazy_pages["settings"].tabs
        for expected in list(range(2, tabs.count())) + [0]:  # on through the devices tab, back to the first
            kb.press(Qt.Key.Key_Tab, CTRL)
            assert tabs.currentIndex() == expected

        def set_pin() -> None:
            kb.type(PIN)
            kb.press(Qt.Key.Key_Tab)
            kb.type(PIN)
            kb.press(Qt.Key.Key_Return)

        kb.in_dialog(set_pin, Qt.Key.Key_P, CTRL)
        from cashier.settings import SettingsStore

        assert SettingsStore().load().verify_pin(PIN)

        # A QR sale: amount, F1, the demo customer pays (Ctrl+Shift+P), Enter.
        kb.press(Qt.Key.Key_1, ALT)
        kb.type("12.34")
        kb.press(Qt.Key.Key_F1)
        counter.wait_mode("qr")
        qr_order = co.current.out_trade_no
        kb.press(Qt.Key.Key_P, CTRL | Qt.KeyboardModifier.ShiftModifier)
        counter.idle()
        counter.run(6)
        counter.wait_state("paid")
        kb.press(Qt.Key.Key_Return)
        assert co.mode == "entry" and co.amount.text == ""

        # A 付款码 sale: amount, the scanner, paid (the code goes to a profile that takes codes).
        kb.type("8.88")
        kb.scan(WECHAT_CODE)
        counter.wait_state("paid")
        assert co.current.method == "micropay" and co.current.amount == Decimal("8.88")
        kb.press(Qt.Key.Key_Return)

        # Switch profile by keyboard (F6, then the profile's digit), for an order to check.
        menu_index = counter.window.counter.profiles().index(FENGNIAO) + 1

        def pick() -> None:
            menu = QApplication.activePopupWidget()
            if menu is None:
                QTimer.singleShot(20, pick)
                return
            QTest.keyClick(menu, getattr(Qt.Key, f"Key_{menu_index}"))

        QTimer.singleShot(0, pick)
        kb.press(Qt.Key.Key_F6)
        qtbot.waitUntil(lambda: co.profile == FENGNIAO, timeout=5000)
        counter.sim.micropay_behaviour("never", auth_code=OTHER_CODE)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is co, timeout=5000)  # the keys are back
        kb.type("15")
        kb.scan(OTHER_CODE)
        counter.wait_mode("waiting")
        counter.sim.fault("http500", gateway="fengniao", op="*", count=-1)
        for _ in range(40):
            counter.run(5)
            if co.current.state == "needs_check":
                break
        counter.wait_state("needs_check")
        counter.sim.clear_faults()
        stuck = co.current.out_trade_no

        # 已核对 on the to-check page: Alt+2, pick the row, F7, the name, Enter.
        kb.press(Qt.Key.Key_2, ALT)
        page = window.attention
        qtbot.waitUntil(lambda: any(o.out_trade_no == stuck for o in page.orders), timeout=10000)
        assert QApplication.focusWidget() is page.table  # the page gave its list the keys
        row = next(i for i, o in enumerate(page.orders) if o.out_trade_no == stuck)
        kb.press(Qt.Key.Key_Home)
        for _ in range(row):
            kb.press(Qt.Key.Key_Down)
        assert page.selected().out_trade_no == stuck

        def name() -> None:
            kb.type("Wang")
            kb.press(Qt.Key.Key_Return)

        kb.in_dialog(name, Qt.Key.Key_F7)
        counter.idle()
        assert counter.engine.order(stuck).checked_by == "Wang"

        # A refund: Alt+3, the paid QR order, F8, the amount, the PIN, Enter.
        kb.press(Qt.Key.Key_3, ALT)
        history = window._lazy_pages["history"]
        qtbot.waitUntil(lambda: any(o.out_trade_no == qr_order for o in history.orders), timeout=10000)
        if QApplication.focusWidget() is history.search:
            kb.press(Qt.Key.Key_Down)  # from the search line into the list
        assert QApplication.focusWidget() is history.table
        row = next(i for i, o in enumerate(history.orders) if o.out_trade_no == qr_order)
        kb.press(Qt.Key.Key_Home)
        for _ in range(row):
            kb.press(Qt.Key.Key_Down)
        counter.idle()
        qtbot.waitUntil(lambda: history.refund_button.isEnabled(), timeout=10000)

        def refund() -> None:
            kb.type("5")
            dialog = history.refund_dialog
            while QApplication.focusWidget() is not dialog.pin:
                kb.press(Qt.Key.Key_Tab)
            kb.type(PIN)
            kb.press(Qt.Key.Key_Return)
            qtbot.waitUntil(lambda: dialog.result_refund is not None, timeout=10000)

        kb.in_dialog(refund, Qt.Key.Key_F8)
        refund_record = history.refund_dialog.result_refund
        assert refund_record is not None and refund_record.amount == Decimal("5.00")
    finally:
        QApplication.instance().removeEventFilter(watch)
    assert watch.seen == 0
