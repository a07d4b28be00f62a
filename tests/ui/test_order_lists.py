"""The order lists (待处理, 订单/退款) as a clerk reads them: a one-code order's method,
an unpaid order's detail, and 查单 (F5) right after the engine's own query: never
'queried too often', the answer on the page, not in the status bar."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import close_counter, open_counter

METHOD_COLUMN = 3


def _one_code_order(counter, no: str, *, wallet: str, paid: bool) -> str:
    ledger = counter.ctx.ledger
    counter.clock.advance(60)
    ledger.create_order(out_trade_no=no, sale_id=no, counter_id="01", profile="演示·蓝兔支付", gateway="ltzf",
                        method="merged", wallet=wallet, amount=Decimal("12.30"))
    ledger.update_order(no, state="pending", expect="sending")
    ledger.update_order(no, state="paid" if paid else "expired", expect="pending")
    return no


def _history(counter, picked: str):
    page = counter.window.show_page("history")
    counter.idle()
    page.select(picked)
    counter.idle()
    QApplication.processEvents()
    return page


@pytest.mark.parametrize("lang, words", [("en", "One-code QR · WeChat"), ("zh_CN", "一码付 · 微信")])
def test_a_one_code_order_paid_with_wechat_reads_so(qtbot, tmp_path, lang, words):
    """Not 'Any wallet · WeChat' (the checkout button's label) in the list or the detail."""
    counter = open_counter(qtbot, tmp_path, lang=lang)
    try:
        no = _one_code_order(counter, "P0120261120150000000001", wallet="wechat", paid=True)
        page = _history(counter, no)
        row = [o.out_trade_no for o in page.orders].index(no)
        assert page.table.item(row, METHOD_COLUMN).text() == words
        qtbot.waitUntil(lambda: no in page.detail.text(), timeout=5000)
        assert words in page.detail.text()
    finally:
        close_counter(counter)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_unpaid_order_shows_no_paid_amount(qtbot, tmp_path, lang):
    """An order with nothing paid says so; no '实付 ¥—'."""
    counter = open_counter(qtbot, tmp_path, lang=lang)
    try:
        no = _one_code_order(counter, "P0120261120150000000002", wallet="unknown", paid=False)
        page = _history(counter, no)
        qtbot.waitUntil(lambda: no in page.detail.text(), timeout=5000)
        text = page.detail.text()
        assert "—" not in text and ("实付" not in text and "未付款" in text if lang == "zh_CN"
                                    else "paid ¥" not in text and "not paid" in text), text
    finally:
        close_counter(counter)


def _qr_order_just_queried(counter) -> str:
    """A one-code QR order on the checkout, the engine's own query just gone out
    (the merchant's query slot is taken)."""
    counter.type_human("8.80")
    counter.key(Qt.Key.Key_F1)
    counter.wait_mode("qr")
    no = counter.checkout.current.out_trade_no
    counter.run(5)
    counter.idle()
    assert counter.window.counter.last_query(no) is not None
    return no


def _f5(counter, page, button) -> None:
    page.window.activateWindow()
    with counter.qtbot.waitSignal(button.clicked, timeout=5000):
        counter.keys.t += 500
        QTest.keyClick(QApplication.focusWidget() or page, Qt.Key.Key_F5)
    counter.idle()
    QApplication.processEvents()


def test_f5_in_the_history_right_after_the_engines_query(qtbot, tmp_path):
    counter = open_counter(qtbot, tmp_path)
    try:
        no = _qr_order_just_queried(counter)
        page = _history(counter, no)
        page.table.setFocus()
        _f5(counter, page, page.check_button)
        qtbot.waitUntil(lambda: page.message.isVisible(), timeout=5000)
        said = page.message.text()
        assert "太频繁" not in said and ("还没有付款" in said or "正在查单" in said), said
        assert said not in counter.window.status_note.text() and not counter.window.status_note.text()
        counter.sim.pay("ltzf", no)  # then the customer pays: the next query says so on the page
        _f5(counter, page, page.check_button)
        for _ in range(3):
            counter.run(6)
            counter.idle()
            if page.selected_order.state == "paid":
                break
        qtbot.waitUntil(lambda: page.selected_order.state == "paid" and "已付款" in page.message.text(),
                        timeout=5000)
        assert "太频繁" not in page.message.text() and not counter.window.status_note.text()
    finally:
        close_counter(counter)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_f5_on_the_to_check_list_right_after_the_engines_query(qtbot, tmp_path, lang):
    counter = open_counter(qtbot, tmp_path, lang=lang)
    try:
        no = _qr_order_just_queried(counter)
        page = counter.window.show_page("attention")
        counter.idle()
        qtbot.waitUntil(lambda: any(o.out_trade_no == no for o in page.orders), timeout=5000)
        page.select(no)
        page.table.setFocus()
        _f5(counter, page, page.check_button)
        qtbot.waitUntil(lambda: page.message.isVisible(), timeout=5000)
        said = page.message.text()
        too_often = "太频繁" if lang == "zh_CN" else "too recently"
        answers = ("还没有付款", "正在查单") if lang == "zh_CN" else ("not paid yet", "Checking")
        assert no in said and too_often not in said and any(a in said for a in answers), said
        assert not counter.window.status_note.text()
    finally:
        close_counter(counter)
