"""The back office in the real window: the cash key with the change shown big, the
shift close (交班) with a counted difference, reconciliation review with the manager
PIN; the shift report saved as a PDF through Qt's print support.

Screenshots and the PDF go to $CASHIER_SHOTS (default: the test's tmp dir) for a
person to look at. The PDF's check needs poppler-utils (pdftoppm, pdftotext)."""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtTest import QTest

from cashier.settings import SettingsStore

EPAY = "演示·易支付"
PIN = "1357"


def _shot(widget, tmp_path, name: str) -> Path:
    """A picture for a person, and the words a clerk sees checked (no internal ids)."""
    from tests.ui.words_check import word_faults

    assert word_faults(widget, "zh_CN", [EPAY, "小王"]) == []
    out = Path(os.environ.get("CASHIER_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


def _open_shift_and_sell_cash(counter, qtbot, tmp_path):
    window = counter.window
    counter.type_human("12")
    window.cash_sale()  # F10; no shift yet: the open-shift dialog comes first
    qtbot.waitUntil(lambda: getattr(window, "shift_dialog", None) is not None and window.shift_dialog.isVisible())
    window.shift_dialog.clerk.setText("小王")
    window.shift_dialog.float.setText("100")
    window.shift_dialog.accept()
    qtbot.waitUntil(lambda: getattr(window, "cash_dialog", None) is not None and window.cash_dialog.isVisible())
    dialog = window.cash_dialog
    QTest.keyClicks(dialog.tendered, "10")
    assert "还差" in dialog.change.text() and not dialog.ok.isEnabled()  # not enough tendered
    dialog.tendered.setText("")
    QTest.keyClicks(dialog.tendered, "20")
    assert dialog.change.text() == "找零 ¥8.00" and dialog.ok.isEnabled()
    dialog.change.ensurePolished()
    assert dialog.change.fontInfo().pointSize() >= 40  # the change is shown big
    _shot(dialog, tmp_path, "cash_change")
    dialog.ok.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    return dialog.sale


def test_cash_key_shows_the_change_and_records_the_sale(counter, qtbot, tmp_path):
    sale = _open_shift_and_sell_cash(counter, qtbot, tmp_path)
    assert (sale.amount, sale.change) == (Decimal("12.00"), Decimal("8.00"))
    assert "小王" in counter.window.status_clerk.text()  # the clerk's name on the checkout
    assert "找零 ¥8.00" in counter.checkout.message.text()
    assert counter.ctx.ledger.cash_entry(sale.out_trade_no).tendered == Decimal("20.00")
    _shot(counter.window, tmp_path, "checkout_after_cash")
    page = counter.window.show_page("report")  # the day report holds cash too
    qtbot.waitUntil(lambda: page.report is not None and page.table.rowCount() >= 2)
    assert [page.table.item(r, 0).text() for r in range(page.table.rowCount())][0] == "现金"
    assert page.table.item(0, 3).text() == "¥12.00"
    _shot(counter.window, tmp_path, "day_report")


def test_shift_close_shows_expected_counted_and_difference(counter, qtbot, tmp_path):
    _open_shift_and_sell_cash(counter, qtbot, tmp_path)
    window = counter.window
    window.cash_move()  # Shift+F10: 取款 with a reason
    qtbot.waitUntil(lambda: getattr(window, "move_dialog", None) is not None and window.move_dialog.isVisible())
    move = window.move_dialog
    move.amount.setText("20")
    move.accept()  # no reason: refused, and said
    assert move.isVisible() and move.message.text() == "请填写原因"
    move.reason.setText("交给老板")
    _shot(move, tmp_path, "cash_move")
    move.accept()
    assert move.entry.amount == Decimal("-20.00")
    window.close_shift()  # F11
    qtbot.waitUntil(lambda: getattr(window, "close_dialog", None) is not None and window.close_dialog.isVisible())
    dialog = window.close_dialog
    assert "92.00" in dialog.expected.text()  # 100 float + 12 cash − 20 taken out
    QTest.keyClicks(dialog.counted, "91.50")
    assert dialog.difference.text() == "差额 ¥-0.50"
    printed = dialog.print_html()  # 打印 / 存为 PDF before 交班: the count typed so far is on it
    assert "清点 ¥91.50" in printed and "差额 ¥-0.50" in printed
    _shot(dialog, tmp_path, "shift_close")
    dialog.ok.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.closed.counted_cash == Decimal("91.50") and dialog.closed.difference == Decimal("-0.50")
    assert dialog.closed.cash_out == Decimal("20.00")
    assert "未开班" in window.status_clerk.text()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (pdftoppm, pdftotext)")
def test_shift_report_pdf_has_its_chinese_text(counter, qtbot, tmp_path):
    from cashier.ui.books_dialogs import save_pdf, shift_report_html

    _open_shift_and_sell_cash(counter, qtbot, tmp_path)
    report = counter.window.books.close_shift(Decimal("110.00"))
    out = Path(os.environ.get("CASHIER_SHOTS") or tmp_path)
    pdf = out / "shift_report.pdf"
    save_pdf(shift_report_html(report, shop="演示小店"), str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    # Noto CJK's PDF text maps some glyphs to Kangxi radicals (⼩ for 小): same shapes.
    text = unicodedata.normalize("NFKC", text)
    for words in ("交班报表", "收银员", "小王", "应有现金", "112.00", "差额", "-2.00", "现金"):
        assert words in text, words
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(out / "shift_report")],
                   check=True)
    assert list(out.glob("shift_report*.png"))


def test_reconciliation_review_with_the_manager_pin(counter, qtbot, tmp_path):
    from cashier.gateways.base import Method

    SettingsStore().set_pin(PIN)
    window, engine = counter.window, counter.engine
    order = engine.start_qr(EPAY, Decimal("25.00"), Method.WECHAT)
    counter.sim.pay_order(order)
    counter.run(5)
    engine.check(order.out_trade_no)
    counter.sim.set_amount("epay", order.out_trade_no, "52.00")
    foreign = counter.sim.foreign_order("epay", "1001", "8.88")
    window.reconcile()  # F12
    qtbot.waitUntil(lambda: getattr(window, "recon_dialog", None) is not None and window.recon_dialog.isVisible())
    dialog = window.recon_dialog
    dialog._sleep = counter.clock.advance  # rate-limit waits on the test's clock
    # Nothing to resolve before a run: the three actions are greyed, not silent.
    assert not any(b.isEnabled() for b in dialog.action_buttons.values())
    dialog.profile.setCurrentText(EPAY)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=20000)
    assert dialog.table.rowCount() == 2
    assert all(b.isEnabled() for b in dialog.action_buttons.values())  # the first difference is picked
    kinds = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(2)}
    assert kinds == {order.out_trade_no: "金额不符", foreign["out_trade_no"]: "本店没有这笔订单"}
    _shot(dialog, tmp_path, "reconcile_review")
    row = next(r for r in range(2) if dialog.table.item(r, 0).text() == foreign["out_trade_no"])
    dialog.table.selectRow(row)
    dialog.note.setText("另一台设备收的")
    dialog.action_buttons["record"].click()  # no PIN: refused, nothing recorded
    assert "店长密码" in dialog.message.text()
    assert counter.ctx.ledger.get_order(foreign["out_trade_no"]) is None
    dialog.pin.setText(PIN)
    dialog.action_buttons["record"].click()
    assert dialog.message.text() == "" and dialog.table.item(row, 4).text() == "补记收款"
    assert counter.ctx.ledger.get_order(foreign["out_trade_no"]).state == "paid"
    _shot(dialog, tmp_path, "reconcile_resolved")
    dialog.reject()


def test_cash_refund_from_the_drawer_needs_the_manager_pin(counter, qtbot, tmp_path):
    SettingsStore().set_pin(PIN)
    sale = _open_shift_and_sell_cash(counter, qtbot, tmp_path)
    window = counter.window
    window.cash_move()  # Shift+F10, kind: cash refund
    qtbot.waitUntil(lambda: getattr(window, "move_dialog", None) is not None and window.move_dialog.isVisible())
    move = window.move_dialog
    assert not move.sale.isVisible() and not move.pin.isVisible()
    move.kind.setCurrentIndex(move.kind.findData(0))
    assert move.sale.isVisible() and move.pin.isVisible()
    move.sale.setText(sale.out_trade_no)
    move.amount.setText("5")
    move.reason.setText("退货")
    move.pin.setText("0000")
    move.accept()
    assert move.isVisible() and "店长密码不正确" in move.message.text()
    move.pin.setText(PIN)
    _shot(move, tmp_path, "cash_refund")
    move.accept()
    qtbot.waitUntil(lambda: not move.isVisible())
    assert move.entry.amount == Decimal("-5.00")
    assert "5.00" in window.status_note.text()
    window.close_shift()
    qtbot.waitUntil(lambda: getattr(window, "close_dialog", None) is not None and window.close_dialog.isVisible())
    assert "107.00" in window.close_dialog.expected.text()  # 100 float + 12 cash − 5 refunded
    window.close_dialog.reject()


def test_shift_close_takes_the_typed_count_not_the_report_table(counter, qtbot, tmp_path):
    """The shift's totals are a report: the count the clerk types lands in 清点现金,
    Tab leaves the table, and no key edits a figure in it (seen under Xvfb: '200'
    replaced 现金 in the table and 交班 stayed greyed)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QAbstractItemView

    _open_shift_and_sell_cash(counter, qtbot, tmp_path)
    window = counter.window
    window.close_shift()  # F11
    qtbot.waitUntil(lambda: getattr(window, "close_dialog", None) is not None and window.close_dialog.isVisible())
    dialog = window.close_dialog
    table = dialog.table
    before = [table.item(0, c).text() for c in range(table.columnCount())]
    assert dialog.focusWidget() is dialog.counted
    QTest.keyClicks(dialog.focusWidget(), "112")
    assert dialog.counted.text() == "112" and dialog.ok.isEnabled()
    assert table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    assert not table.tabKeyNavigation()
    assert not table.verticalHeader().isVisible()  # no row numbers beside the figures
    table.setFocus()
    QTest.keyClicks(table, "9")
    QTest.keyClick(table, Qt.Key.Key_F2)
    assert [table.item(0, c).text() for c in range(table.columnCount())] == before
    dialog.reject()


def test_printed_reports_follow_the_language(qtbot, tmp_path):
    """Print / PDF of the shift report (交班) and of the day report in English mode:
    no Chinese but the names typed (the clerk's, the profiles'); the headings and
    figures read in English (they were hard-coded Chinese)."""
    import html as html_mod
    import re

    from cashier.ui.books_dialogs import day_report_html, shift_report_html
    from tests.ui.conftest import close_counter, open_counter
    from tests.ui.words_check import CJK

    counter = open_counter(qtbot, tmp_path, lang="en")
    try:
        window = counter.window
        books = window.books
        books.open_shift("小王", Decimal("100"))
        books.cash_sale(Decimal("12"), Decimal("20"))
        books.cash_move(Decimal("-5"), "bank")
        page = window.show_page("report")
        qtbot.waitUntil(lambda: page.report is not None and page.table.rowCount() >= 1)
        day = day_report_html(page.report, shop="Corner shop")
        shift = shift_report_html(books.close_shift(Decimal("106.50")), shop="Corner shop")
        names = ["小王", *[p.name for p in counter.ctx.profiles]]
        for text in (day, shift):
            plain = html_mod.unescape(re.sub(r"<[^>]+>", " ", text.split("</style>", 1)[-1]))
            for name in names:
                plain = plain.replace(name, "")
            assert not CJK.search(plain), plain
        for words in ("Clerk", "Expected cash", "107.00", "counted", "106.50", "Difference", "-0.50", "Taken"):
            assert words in shift, words
        for words in ("Gateway", "Net", "Total", "12.00"):
            assert words in day, words
    finally:
        close_counter(counter)


def test_back_office_dialogs_say_what_they_are(counter, qtbot, tmp_path):
    """No window manager, no title bar: each dialog names itself inside (开班, 现金收款,
    备用金 / 取款, 交班, 对账, 商户配置). Under Xvfb the open-shift dialog showed only
    '收银员' and '备用金'."""
    from PySide6.QtWidgets import QLabel

    def says_title(dialog) -> bool:
        title = dialog.windowTitle()
        return bool(title) and any(w.text() == title and w.isVisible() for w in dialog.findChildren(QLabel))

    window = counter.window
    counter.type_human("12")
    window.cash_sale()
    qtbot.waitUntil(lambda: getattr(window, "shift_dialog", None) is not None and window.shift_dialog.isVisible())
    assert says_title(window.shift_dialog)
    window.shift_dialog.clerk.setText("小王")
    window.shift_dialog.accept()
    qtbot.waitUntil(lambda: getattr(window, "cash_dialog", None) is not None and window.cash_dialog.isVisible())
    assert says_title(window.cash_dialog)
    window.cash_dialog.reject()
    window.cash_move()
    qtbot.waitUntil(lambda: getattr(window, "move_dialog", None) is not None and window.move_dialog.isVisible())
    assert says_title(window.move_dialog)
    window.move_dialog.reject()
    window.close_shift()
    qtbot.waitUntil(lambda: getattr(window, "close_dialog", None) is not None and window.close_dialog.isVisible())
    assert says_title(window.close_dialog) and "小王" in window.close_dialog.windowTitle()
    window.close_dialog.reject()
    window.reconcile()
    qtbot.waitUntil(lambda: getattr(window, "recon_dialog", None) is not None and window.recon_dialog.isVisible())
    assert says_title(window.recon_dialog)
    window.recon_dialog.reject()
    profile = window.show_page("settings").add_profile()
    qtbot.waitExposed(profile)
    assert says_title(profile)
    profile.reject()


def test_print_preview_fits_a_small_counter_and_prints_with_ctrl_p(qtbot, tmp_path):
    """打印 / PDF at 1024×768 with no window manager: the preview is as big as the
    window and its Print button is on the toolbar, with Ctrl+P (it sat in the
    toolbar's overflow, out of the keyboard's reach; seen under Xvfb)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QToolBar

    from cashier.ui.books_dialogs import preview_dialog, shift_report_html
    from tests.ui.conftest import close_counter, open_counter

    counter = open_counter(qtbot, tmp_path, area=QRect(0, 0, 1024, 768))
    try:
        window = counter.window
        window.books.open_shift("小王", Decimal("100"))
        dialog = preview_dialog(window, shift_report_html(window.books.shift_report()))
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.size() == window.size()
        toolbar = dialog.findChild(QToolBar)
        print_action = toolbar.actions()[-1]
        assert print_action.text() in ("打印", "Print")
        assert print_action.shortcut() == QKeySequence("Ctrl+P")
        assert toolbar.widgetForAction(print_action).isVisible()  # not folded into the overflow
        dialog.reject()
    finally:
        close_counter(counter)
