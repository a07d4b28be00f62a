"""Every page of the real window, at the counter screens shops have, in both
languages: nothing outside its window or parent, no two siblings overlapping, no
button or label cutting its text (font metrics through the style), no table whose
columns run past its width or whose rows cut their text (table_faults)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import FENGNIAO, close_counter, open_counter
from tests.ui.layout_check import layout_faults, table_faults
from tests.ui.words_check import word_faults

WECHAT_CODE = "134567890123456789"
# Available areas in logical pixels. 1366×768 at 125 % scaling (QT_SCALE_FACTOR=1.25)
# is 1093×614 logical pixels: the same window sees the same space.
SIZES = {
    "1024x768": QRect(0, 0, 1024, 768),
    "1280x800": QRect(0, 0, 1280, 800),
    "1366x768": QRect(0, 0, 1366, 768),
    "1920x1080": QRect(0, 0, 1920, 1080),
    "1366x768@125%": QRect(0, 0, 1093, 614),
}


def _check(counter, area: QRect, screen: str, faults: dict) -> None:
    window = counter.window
    QApplication.processEvents()
    counter.qtbot.wait(1)
    QApplication.processEvents()
    found = layout_faults(window, area) + _words(counter, window) + _tables(window)
    if found:
        faults[screen] = found


def _tables(widget) -> list[str]:
    """table_faults of every table in sight (a page's, a dialog's)."""
    from PySide6.QtWidgets import QTableWidget

    return [f for t in widget.findChildren(QTableWidget) if t.isVisible() for f in table_faults(t)]


def _check_dialog(counter, dialog, area: QRect, screen: str, faults: dict) -> None:
    dialog.show()
    counter.qtbot.waitExposed(dialog)
    QApplication.processEvents()
    found = layout_faults(dialog, area) + _words(counter, dialog) + _tables(dialog)
    if found:
        faults[screen] = found
    dialog.reject()


def _words(counter, widget) -> list[str]:
    from cashier import i18n

    from cashier.counter import profile_title

    # What the merchant typed: a demo profile's name is the app's, shown in the UI's language.
    typed = [profile_title(p.name) for p in counter.ctx.profiles] + [p.merchant_id for p in counter.ctx.profiles]
    return word_faults(widget, i18n.language(), typed)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits(qtbot, tmp_path, size, lang):
    area = SIZES[size]
    counter = open_counter(qtbot, tmp_path, lang=lang, area=area)
    faults: dict[str, list[str]] = {}
    try:
        window, co = counter.window, counter.checkout
        assert window.size() == area.size()
        _check(counter, area, "checkout", faults)
        counter.type_human("36.80")
        counter.key(Qt.Key.Key_F1)
        counter.wait_mode("qr")
        _check(counter, area, "qr", faults)
        counter.run(5)  # the engine's query, then 查单 (F5): the answer is said under the state
        with qtbot.waitSignal(co.qr_check.clicked, timeout=5000):
            counter.key(Qt.Key.Key_F5)
        counter.idle()
        assert "\n" in co.qr_status.text()
        _check(counter, area, "qr_checked", faults)
        counter.sim.pay("ltzf", co.current.out_trade_no)
        counter.run(6)
        counter.run(5)  # a 一码付 order is asked on one wallet's path, then the other's
        counter.wait_state("paid")
        _check(counter, area, "paid", faults)
        counter.key(Qt.Key.Key_Return)
        window.set_profile(FENGNIAO)
        counter.sim.micropay_behaviour("never", auth_code=WECHAT_CODE)
        counter.type_human("15")
        counter.scan(WECHAT_CODE)
        counter.wait_mode("waiting")
        _check(counter, area, "waiting", faults)
        counter.clock.advance(16)
        counter.sim.advance(16)
        counter.key(Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: co.current.state not in ("userpaying", "unknown"), timeout=10000)
        if co.current.state == "reversing":
            _check(counter, area, "reversing", faults)
            counter.run(5)
        counter.wait_mode("result")
        _check(counter, area, "reversed", faults)
        counter.key(Qt.Key.Key_Escape)
        for name in ("attention", "history", "report", "settings"):
            page = window.show_page(name)
            counter.idle()
            _check(counter, area, name, faults)
            if name == "history":
                page.select(next(o for o in page.orders if o.state == "paid").out_trade_no) if page.orders else None
                counter.idle()
                _check(counter, area, "history_selected", faults)
            if name == "settings":
                page.tabs.setCurrentIndex(1)
                _check(counter, area, "settings_profiles", faults)
                from cashier.ui.settings_page import ProfileDialog

                dialog = ProfileDialog(window)
                for i in range(dialog.gateway.count()):  # every gateway's own fields
                    dialog.gateway.setCurrentIndex(i)
                    _check_dialog(counter, dialog, area, f"profile_dialog_{dialog.gateway.currentData()}", faults)
        from cashier.ui.history import RefundDialog, SetPinDialog

        history = window.show_page("history")
        counter.idle()
        paid = next(o for o in history.orders if o.state == "paid")
        from decimal import Decimal

        _check_dialog(counter, RefundDialog(window, paid, Decimal("36.80")), area, "refund_dialog", faults)
        _check_dialog(counter, SetPinDialog(window), area, "pin_dialog", faults)
        from cashier.ui.attention import CheckerDialog

        _check_dialog(counter, CheckerDialog(window, paid), area, "checked_by_dialog", faults)
        window.show_first_run()
        _check(counter, area, "first_run", faults)
    finally:
        close_counter(counter)
    assert not faults, "\n".join(f"{screen}: {f}" for screen, found in faults.items() for f in found)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", ["1024x768", "1366x768"])
def test_qr_time_up_keeps_the_layout(qtbot, tmp_path, size, lang):
    """At the QR's expiry, before the last query answers, the side says it checks once
    more: the sentence wraps in its column, the QR keeps its size, the page list its
    width, and no 'waiting for the customer' is shown under 'time is up' (seen under
    Xvfb at 1024×768: the one-line sentence squeezed the QR to a third and narrowed
    the page list)."""
    from PySide6.QtWidgets import QFrame

    area = SIZES[size]
    counter = open_counter(qtbot, tmp_path, lang=lang, area=area)
    faults: dict[str, list[str]] = {}
    try:
        window, co = counter.window, counter.checkout
        nav = window.findChild(QFrame, "nav")
        counter.type_human("3.21")
        counter.key(Qt.Key.Key_F3)
        counter.wait_mode("qr")
        QApplication.processEvents()
        qr_width, nav_width = co.qr.width(), nav.width()
        counter.clock.advance(co.current.expires_at - counter.clock.now() + 1)  # time up, no query yet
        co._on_tick()
        QApplication.processEvents()
        counter.qtbot.wait(1)
        QApplication.processEvents()
        assert co.qr_countdown.text() and "0:00" not in co.qr_countdown.text()
        assert not co.qr_status.isVisible()
        assert co.qr.width() >= qr_width * 0.9 and nav.width() == nav_width
        _check(counter, area, "qr_time_up", faults)
    finally:
        close_counter(counter)
    assert not faults, "\n".join(f"{screen}: {f}" for screen, found in faults.items() for f in found)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_demo_panel_leaves_the_checkout_its_width(qtbot, tmp_path, lang):
    """At 1024×768 the demo customer's panel is no wider than the page list needs:
    the checkout's 'Profile: 演示·蓝兔支付' stays on one line (a longer spin-box text
    widened the panel and broke it onto two)."""
    area = SIZES["1024x768"]
    counter = open_counter(qtbot, tmp_path, lang=lang, area=area)
    try:
        QApplication.processEvents()
        label = counter.checkout.entry.profile_label
        assert label.text()
        one_line = label.fontMetrics().height()
        assert label.heightForWidth(label.width()) < one_line * 1.5, label.text()
    finally:
        close_counter(counter)


# The longest words the order lists show: states, notes (the engine's reasons) and
# methods, in both languages; a paid order with a part refunded and one under way.
ORDER_ROWS = (  # (state path, reason code and params, method, wallet)
    (["needs_check"], ("reason.cannot_reverse", {}), "micropay", "wechat"),
    (["needs_check"], ("reason.double_payment", {"other": "P0120261120150500000001"}), "merged", "alipay"),
    (["pending", "expired"], ("reason.expired", {}), "merged", "unknown"),
    (["userpaying"], (None, {}), "micropay", "alipay"),
    (["pending"], ("reason.never_shown", {}), "wechat", "wechat"),
    (["unknown"], ("reason.recovered", {}), "micropay", "unknown"),
)
MIN_HISTORY_ROWS = 8


def _orders_to_read(counter) -> tuple[str, str, str]:
    """Twelve paid orders and the ones above (the history and 待处理 have rows to
    show); returns (a paid order with refunds, a paid order, one that needs checking)."""
    from decimal import Decimal

    ledger = counter.ctx.ledger
    numbers = []
    for i in range(12 + len(ORDER_ROWS)):
        no = f"P01202611201{i:03d}000000{i:03d}"
        extra = ORDER_ROWS[i - 12] if i >= 12 else (["paid"], (None, {}), "micropay", "wechat")
        path, (code, params), method, wallet = extra
        counter.clock.advance(60)
        ledger.create_order(out_trade_no=no, sale_id=no, counter_id="01", profile="演示·蓝兔支付", gateway="ltzf",
                            method=method, wallet=wallet, amount=Decimal("1234.56"))
        for step in path:
            ledger.update_order(no, state=step, **({"reason_code": code, "reason_params": params} if code else {}))
        numbers.append(no)
    refunded = numbers[0]
    for n, (state, code) in enumerate((("succeeded", None), ("needs_check", "reason.refund_amount_mismatch"))):
        ledger.create_refund(out_refund_no=f"R{refunded}{n}", out_trade_no=refunded, amount=Decimal("100.00"),
                             reason="退货", actor="店长")
        fields = {"failure_code": code, "failure_params": {"refunded": "90.00", "amount": "100.00"}} if code else {}
        ledger.update_refund(f"R{refunded}{n}", state=state, **fields)
    return refunded, numbers[1], numbers[12]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_order_lists_read_whole(qtbot, tmp_path, size, lang):
    """待处理 shows every column's words whole (no column past the table's width, no
    cell cut); the history keeps MIN_HISTORY_ROWS orders in sight with an order picked,
    its detail whole (scrolling) and its buttons in sight, never clipped."""
    from tests.ui.layout_check import table_faults

    area = SIZES[size]
    counter = open_counter(qtbot, tmp_path, lang=lang, area=area)
    try:
        window = counter.window
        refunded, paid, stuck = _orders_to_read(counter)
        attention = window.show_page("attention")
        counter.idle()
        qtbot.waitUntil(lambda: len(attention.orders) == len(ORDER_ROWS), timeout=10000)  # (none is quiet)
        QApplication.processEvents()
        assert table_faults(attention.table) == []
        shown = " ".join(attention.table.item(r, c).text() for r in range(attention.table.rowCount())
                         for c in range(attention.table.columnCount()))
        for order in attention.orders:  # every note in full on the page itself, not only on hovering
            assert order.out_trade_no in shown and (order.reason or "") in shown
        assert layout_faults(window, area) == []

        history = window.show_page("history")
        counter.idle()
        for picked in (refunded, paid, stuck):
            history.select(picked)
            counter.idle()
            QApplication.processEvents()
            table = history.table
            assert table.rowCount() >= MIN_HISTORY_ROWS
            in_sight = table.viewport().height() // table.rowHeight(0)
            assert in_sight >= MIN_HISTORY_ROWS, f"{size}: the list shows {in_sight} rows"
            assert table_faults(table) == [] and table_faults(history.refund_table) == []
            assert history.refund_table.isVisible() == (picked == refunded)
            for button in (history.refund_button, history.mark_button, history.check_button,
                           history.refund_check, history.reprint_button):
                assert button.isVisible() and button.visibleRegion().boundingRect() == button.rect(), button.text()
            assert history.refund_button.isEnabled() == (picked == paid)
            assert history.mark_button.isEnabled() == (picked == stuck)
            assert layout_faults(window, area) == []  # the detail's words whole (it scrolls)
    finally:
        close_counter(counter)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_the_status_bar_shows_a_note_whole(qtbot, tmp_path, size, lang):
    """'The demo customer paid' (the demo customer pays the shown QR) reads whole on
    the status bar's line (in English at 1024×768 and 1366×768 it wrapped in the bar's
    leftover room and the bar cut it; seen under Xvfb): the other items give way while
    it shows, and come back when it is cleared. The bar never grows (a line more cut
    the page list); a note longer than the whole bar is elided, whole in its tooltip."""
    area = SIZES[size]
    counter = open_counter(qtbot, tmp_path, lang=lang, area=area)
    faults: dict[str, list[str]] = {}
    try:
        from cashier.i18n import tr

        window = counter.window
        bar = window.statusBar()
        height = bar.height()
        items = (window.status_profile, window.status_conn, window.status_pending, window.status_clerk)
        counter.type_human("12.00")
        counter.key(Qt.Key.Key_F1)
        counter.wait_mode("qr")
        window.customer.pay_shown()
        counter.idle()
        note = window.status_note
        assert note.text() == tr("ui.demo.paid")
        _check(counter, area, "demo_paid", faults)
        assert note.isVisible() and note.fontMetrics().horizontalAdvance(note.text()) <= note.contentsRect().width()
        assert window.status_conn.isVisible(), "a short note leaves the connection in sight"
        window.flash(" ".join([tr("ui.demo.nothing")] * 8))  # wider than the whole bar
        _check(counter, area, "long_note", faults)
        assert note.toolTip() == note.text()
        assert bar.height() == height
        note.setText("")  # (the flash's timer clears it)
        QApplication.processEvents()
        for label in items:
            assert label.isVisible() and label.visibleRegion().boundingRect() == label.rect(), label.text()
        _check(counter, area, "cleared", faults)
    finally:
        close_counter(counter)
    assert not faults, "\n".join(f"{screen}: {f}" for screen, found in faults.items() for f in found)
