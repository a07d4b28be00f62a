"""Defects found by a keyboard-only walk of the real window under Xvfb (no window
manager, 1024×768 and 1366×768, Chinese and English)."""

from __future__ import annotations

import re
from decimal import Decimal

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication

from cashier.i18n import tr
from tests.ui.conftest import FENGNIAO, LTZF, close_counter, open_counter

WECHAT_CODE = "134567890123456789"
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


def _first_run_window(qtbot):
    from cashier.ui.app import make_app
    from cashier.ui.window import MainWindow

    make_app([])
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.show_first_run()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window


def _press(window, key, mod=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(QApplication.focusWidget() or window, key, mod)
    QApplication.processEvents()


def test_first_run_checkout_says_no_merchant_and_the_way_back(qtbot):
    """First run, Alt+1: the checkout said 正在连接支付网关，请稍候… forever (nothing was
    connecting: no merchant is set up), and nothing led back to the welcome page."""
    window = _first_run_window(qtbot)
    _press(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.pages.currentWidget() is window.checkout
    hint = window.checkout.hint.text()
    assert "正在连接" not in hint
    assert "还没有设置商户账户" in hint and "Alt+0" in hint and "商户配置" in hint
    _press(window, Qt.Key.Key_Return)  # Enter on an amount: the same reason, not "connecting"
    assert "正在连接" not in window.checkout.message.text()
    _press(window, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)
    assert window.pages.currentWidget() is window.first_run
    assert not any(b.isChecked() for b in window.nav_buttons.values())  # no page of the menu looks chosen
    window.shutdown()


def test_first_run_back_office_keys_say_why(qtbot):
    """F10/F11/F12 (advertised in the status bar) did nothing, silently, with no books."""
    window = _first_run_window(qtbot)
    window.show_page("checkout")
    for key in (Qt.Key.Key_F10, Qt.Key.Key_F11, Qt.Key.Key_F12):
        window.checkout.message.setText("")
        _press(window, key)
        assert "还没有设置商户账户" in window.checkout.message.text(), key
    window.show_page("report")
    window.status_note.setText("")
    _press(window, Qt.Key.Key_F11)  # elsewhere: said in the status bar
    assert "还没有设置商户账户" in window.status_note.text()
    window.shutdown()


def test_first_run_profile_added_in_settings_opens_the_books(qtbot):
    """设置 → 商户配置 → 重新加载配置 on the first run (no context yet) did nothing:
    the checkout stayed without books."""
    window = _first_run_window(qtbot)
    window.show_page("settings").window_reload()
    assert window.first_run is None
    qtbot.waitUntil(lambda: window.ctx is not None, timeout=20000)
    assert window.books is not None
    assert "还没有设置商户账户" not in window.checkout.hint.text()
    window.shutdown()


def test_cash_sale_done_is_a_note_with_the_sale_number(counter):
    """现金收款 ¥12.00，找零 ¥0.00 showed in the error red, and no screen showed the cash
    sale's number, which the cash refund (Shift+F10) asks for."""
    window, co = counter.window, counter.checkout
    window.books.open_shift("小王", Decimal("100"))
    counter.type_human("12")
    QTest.keyClick(co, Qt.Key.Key_F10)
    dialog = window.cash_dialog
    dialog.accept()
    sale = dialog.sale
    text = co.message.text()
    assert "现金收款 ¥12.00" in text and sale.out_trade_no in text
    red = co.message.palette().color(QPalette.ColorRole.WindowText).name()
    assert red != "#d83931"
    co._say("x")  # the next refusal is red again
    assert co.message.palette().color(QPalette.ColorRole.WindowText).name() == "#d83931"


def test_forwarded_payment_code_says_which_merchant_took_it(counter):
    """LTZF takes no payment codes; the demo route sends them to 蜂鸟. The success
    screen did not say who has the money."""
    co = counter.checkout
    assert co.profile == LTZF and counter.window.micropay_profile() == FENGNIAO
    counter.type_human("8.88")
    counter.scan(WECHAT_CODE)
    counter.wait_state("paid")
    assert co.result_detail.isVisible()
    assert f"由“{FENGNIAO}”收款" in co.result_detail.text()


def test_own_payment_code_names_no_other_merchant(counter):
    co = counter.checkout
    counter.window.set_profile(FENGNIAO)
    counter.type_human("8.88")
    counter.scan(WECHAT_CODE)
    counter.wait_state("paid")
    assert "收款" not in co.result_detail.text().replace("收款成功", "")


def test_english_shows_demo_profiles_in_english(qtbot, tmp_path):
    """English mode showed 'Profile: 演示·蓝兔支付', "taken by '演示·蜂鸟'"."""
    c = open_counter(qtbot, tmp_path, lang="en")
    try:
        window, co = c.window, c.checkout
        assert co.profile == LTZF  # the stored name (a ledger key) is unchanged
        assert window.status_profile.text() == "Profile: Demo · LTZF"
        assert co.entry.profile_label.text() == "Profile: Demo · LTZF"
        assert "Demo · Fengniao" in co.hint.text()
        for text in (window.status_profile.text(), co.entry.profile_label.text(), co.hint.text()):
            assert not CJK.search(text), text
        menu = co.choose_profile()
        names = [a.text() for a in menu.actions()]
        menu.close()
        assert names and not any(CJK.search(t) for t in names), names
        c.type_human("8.88")
        c.scan(WECHAT_CODE)
        c.wait_state("paid")
        assert "Taken by 'Demo · Fengniao'" in co.result_detail.text()
        assert not CJK.search(co.result_detail.text())
    finally:
        close_counter(c)


def test_chinese_keeps_demo_profile_names(counter):
    assert counter.window.status_profile.text() == f"商户：{LTZF}"


def test_reconcile_words_have_plurals():
    import cashier.cli  # noqa: F401 (defines its words)
    import cashier.cli_books  # noqa: F401
    import cashier.ui.books_dialogs  # noqa: F401

    assert tr("ui.recon.done", lang="en", checked=3, count=1) == "Done: 3 checked, 1 difference"
    assert tr("ui.recon.done", lang="en", checked=3, count=2) == "Done: 3 checked, 2 differences"
    assert "1 difference," in tr("ui.rep.recon", lang="en", runs=1, found=1, left=0)
    assert "1 difference," in tr("ui.print.recon_line", lang="en", profile="p", checked=1, found=1, left=0)
    assert "1 difference," in tr("cli.report.recon", lang="en", profile="p", checked=1, count=1, open=0)
    assert tr("cli.recon_done", lang="en", checked=1, count=1) == "Reconciled: 1 order checked, 1 difference"
    assert tr("ui.shift.unresolved", lang="en", count=1).startswith("1 unresolved order,")
    assert tr("ui.recon.done", lang="zh_CN", checked=3, count=1) == "对账完成：查询 3 笔，差异 1 处"


def test_handover_question_is_titled_handover(counter):
    """The question about closing the shift on quit carried the title 开班."""
    from cashier.ui.books_dialogs import handover_question

    shift = counter.window.books.open_shift("小王", Decimal("100"))
    box = handover_question(counter.window, shift)
    assert box.windowTitle() == "交班"
    box.deleteLater()


def test_print_preview_has_a_close_button(counter, qtbot):
    """The print preview could be left only by Esc: nothing on screen said so."""
    from cashier.ui.books_dialogs import preview_dialog, shift_report_html

    window = counter.window
    window.books.open_shift("小王", Decimal("100"))
    dialog = preview_dialog(window, shift_report_html(window.books.shift_report()))
    dialog.show()
    qtbot.waitExposed(dialog)
    button = dialog.close_button
    assert button.isVisible() and "Esc" in button.text() and "关闭" in button.text()
    button.click()
    assert not dialog.isVisible()


def test_profile_menu_leaves_the_amount_in_sight(qtbot, tmp_path):
    """F6 at 1024×768: the menu dropped from 切换商户 covered the right-aligned amount,
    and the box read empty while it was open."""
    c = open_counter(qtbot, tmp_path, area=QRect(0, 0, 1024, 768))
    try:
        co = c.checkout
        c.type_human("12")
        menu = co.choose_profile()
        qtbot.waitExposed(menu)
        box = co.amount_label
        box_rect = QRect(box.mapToGlobal(box.rect().topLeft()), box.size())
        assert not menu.geometry().intersects(box_rect), (menu.geometry(), box_rect)
        assert co.amount_label.text() == "¥ 12"
        menu.close()
        QApplication.processEvents()
    finally:
        close_counter(c)


def _paid_by_code(c) -> str:
    c.type_human("8.88")
    c.scan(WECHAT_CODE)
    c.wait_state("paid")
    no = c.checkout.current.out_trade_no
    c.key(Qt.Key.Key_Return)
    return no


def _history_detail(c, no: str) -> str:
    page = c.window.show_page("history")
    c.qtbot.waitUntil(lambda: any(o.out_trade_no == no for o in page.orders), timeout=10000)
    page.select(no)
    c.idle()
    c.qtbot.waitUntil(lambda: no in page.detail.text(), timeout=10000)
    return page.detail.text()


def test_refund_rest_has_its_key(counter, qtbot):
    """退还余额 in the refund dialog had no key: the keyboard-only manager typed the
    amount by hand."""
    no = _paid_by_code(counter)
    page = counter.window.show_page("history")
    qtbot.waitUntil(lambda: any(o.out_trade_no == no for o in page.orders), timeout=10000)
    page.select(no)
    counter.idle()
    qtbot.waitUntil(lambda: page.refundable == Decimal("8.88"), timeout=10000)
    dialog = page.open_refund_dialog()
    dialog.show()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    key = dialog.rest.property("key")
    assert key and dialog.rest.text().endswith(key) and "¥8.88" in dialog.rest.text()
    taken = [b.shortcut().toString() for b in dialog.findChildren(QAbstractButton) if not b.shortcut().isEmpty()]
    assert taken.count(key) == 1 and key not in ("Return", "Enter", "Esc", "Tab")
    assert dialog.amount.hasFocus() and dialog.amount.text() == ""
    QTest.keyClick(dialog.amount, QKeySequence(key)[0].key())
    qtbot.waitUntil(lambda: dialog.amount.text() == "8.88", timeout=2000)  # (a key's click is animated)
    assert dialog.pin.hasFocus()  # next: the manager's PIN
    dialog.reject()


def test_history_names_the_merchant_of_a_forwarded_code(counter):
    """A payment code forwarded to 蜂鸟 (LTZF takes none): 订单/退款 did not say which
    merchant has the money."""
    no = _paid_by_code(counter)
    assert counter.engine.order(no).profile == FENGNIAO
    assert f"收款商户：{FENGNIAO}" in _history_detail(counter, no)


def test_history_names_no_merchant_when_all_are_the_active_ones(counter):
    counter.window.set_profile(FENGNIAO)
    no = _paid_by_code(counter)
    assert "收款商户" not in _history_detail(counter, no)


def test_english_settings_and_history_show_demo_profiles_in_english(qtbot, tmp_path):
    """English mode: the settings' profile table and 付款码 picker, and the history's
    merchant, said 演示·蓝兔支付 / 演示·蜂鸟."""
    from cashier.counter import profile_title

    c = open_counter(qtbot, tmp_path, lang="en")
    try:
        no = _paid_by_code(c)
        detail = _history_detail(c, no)
        assert "Merchant: Demo · Fengniao" in detail
        assert not CJK.search(detail.replace(no, "")), detail
        settings = c.window.show_page("settings")
        c.idle()
        names = [settings.table.item(r, 0).text() for r in range(settings.table.rowCount())]
        assert "Demo · LTZF" in names and not any(CJK.search(n) for n in names), names
        tips = [settings.table.item(r, 0).toolTip() for r in range(settings.table.rowCount())]
        assert not any(CJK.search(t) for t in tips), tips
        picker = settings.micropay_profile
        items = [picker.itemText(i) for i in range(picker.count())]
        assert f"Automatic (demo: '{profile_title(FENGNIAO)}')" in items
        assert not any(CJK.search(t) for t in items), items
        assert picker.findData(FENGNIAO) >= 0  # the stored name is what is saved
        assert settings.rows[0][0].name.startswith("演示·")
    finally:
        close_counter(c)


def test_english_reconcile_names_demo_profiles_in_english(qtbot, tmp_path):
    """对账 (F12) in English: its profile picker said 演示·易支付; what it reconciles is
    still the stored profile."""
    from cashier.ui.books_dialogs import ReconcileDialog

    c = open_counter(qtbot, tmp_path, lang="en")
    try:
        dialog = ReconcileDialog(c.window.books, c.window.counter.profiles(), c.window)
        qtbot.addWidget(dialog)
        items = [dialog.profile.itemText(i) for i in range(dialog.profile.count())]
        assert items and not any(CJK.search(t) for t in items), items
        assert "Demo · Fengniao" in items
        dialog.profile.setCurrentIndex(items.index("Demo · Fengniao"))
        assert dialog.profile.currentData() == FENGNIAO
    finally:
        close_counter(c)
