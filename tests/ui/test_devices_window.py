"""The counter window with its peripherals: the customer display follows a real sale,
receipts print on success (a fake network printer), a receipt's code scanned on
订单/退款 opens the order."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cashier.settings import Settings
from cashier.ui import customer_display as cd
from cashier.ui.qr import qr_matrix
from tests.peripherals.conftest import FakePrinter

WECHAT_CODE = "134567890123456789"


def paid_alipay_sale(counter, amount: str) -> str:
    """A QR sale on the demo LTZF profile that the simulated customer pays."""
    counter.type_human(amount)
    counter.key(Qt.Key.Key_F3)
    counter.wait_mode("qr")
    no = counter.checkout.current.out_trade_no
    counter.sim.pay("ltzf", no)
    counter.run(6)
    counter.wait_state("paid")
    return no


def attach_display(counter, qtbot):
    display = cd.CustomerDisplay(shop="好又多", result_seconds=60)
    qtbot.addWidget(display)
    display.resize(800, 600)
    display.show()
    counter.checkout.customer_view.connect(display.show_view)
    return display


def test_customer_display_follows_a_qr_sale(counter, qtbot):
    display = attach_display(counter, qtbot)
    co = counter.checkout
    counter.type_human("12.50")
    assert display.state in (cd.AMOUNT, cd.SCAN) and display.amount.text() == "应付 ¥12.50"
    counter.key(Qt.Key.Key_F2)
    counter.wait_mode("qr")
    qtbot.waitUntil(lambda: display.state == cd.QR and display.qr.module_px > 0)
    assert display.qr.payload == co.qr.payload == co.current.qr
    assert display.qr.grid() == qr_matrix(co.current.qr)  # the same matrix as the clerk's
    assert display.prompt.text() == "请用微信扫码付款"
    counter.sim.pay("ltzf", co.current.out_trade_no)
    counter.run(6)
    counter.wait_state("paid")
    qtbot.waitUntil(lambda: display.state == cd.PAID)
    assert display.prompt.text() == "支付成功，谢谢惠顾" and display.amount.text() == "已付 ¥12.50"
    counter.key(Qt.Key.Key_Return)  # next customer
    qtbot.waitUntil(lambda: display.state == cd.IDLE)


def test_customer_display_asks_for_the_payment_code(counter, qtbot):
    display = attach_display(counter, qtbot)
    counter.window.use_profile("演示·蜂鸟")  # takes payment codes
    counter.type_human("3")
    assert display.state == cd.SCAN and display.prompt.text() == "请出示付款码"


def test_receipt_prints_on_success_and_reprints_from_history(counter, qtbot, tmp_path):
    printer = FakePrinter()
    try:
        settings = Settings(auto_print=True, printer_url=printer.url, shop_name="好又多")
        counter.window.apply_settings(settings)
        no = paid_alipay_sale(counter, "8.80")
        assert printer.wait_jobs(1, timeout=10)
        assert no.encode() in printer.data and b"8.80" in printer.data

        # 订单/退款: a receipt's code scanned at scanner speed opens that order.
        counter.key(Qt.Key.Key_Return)
        page = counter.window.show_page("history")
        qtbot.waitUntil(lambda: page.search.hasFocus(), timeout=5000)
        for ch in no:
            counter.keys.t += 1
            QTest.keyClicks(page.search, ch)
        QTest.keyClick(page.search, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: page.selected_order is not None and page.selected_order.out_trade_no == no,
                        timeout=10000)
        qtbot.waitUntil(page.reprint_button.isEnabled, timeout=10000)
        assert counter.window.status_note.text() == ""  # nothing of the scan in the status bar

        page.reprint()
        assert printer.wait_jobs(2, timeout=10)
    finally:
        printer.close()


def test_devices_settings_test_print_and_save(counter, qtbot):
    printer = FakePrinter()
    try:
        page = counter.window.show_page("settings")
        tab = page.devices
        tab.printer.setText("ftp://nonsense")
        tab.print_test()
        assert "打印机地址无效" in page.message.text()
        tab.printer.setText(printer.url)
        tab.shop.setText("好又多便利店")
        tab.print_test()
        assert printer.wait_jobs(1, timeout=10)
        qtbot.waitUntil(lambda: page.message.text() == "已发送到打印机", timeout=5000)
        assert "好又多便利店".encode("gb18030") in printer.data
        tab.auto_print.setChecked(True)
        tab.words_wechat.setText("到账 {amount} 元")
        assert page.save()
        from cashier.settings import SettingsStore

        saved = SettingsStore().load()
        assert saved.printer_url == printer.url and saved.auto_print and saved.shop_name == "好又多便利店"
        assert saved.voice_words == {"wechat": "到账 {amount} 元"}
        tab.words_alipay.setText("no amount here")
        assert not page.save()
        assert "{amount}" in page.message.text()
    finally:
        printer.close()


def test_scanning_a_receipt_at_the_checkout_opens_the_order(counter, qtbot):
    co = counter.checkout
    no = paid_alipay_sale(counter, "2.30")
    counter.key(Qt.Key.Key_Return)
    counter.scan(no)  # the receipt's code, at scanner speed (1 ms a key)
    page = counter.window._lazy_pages["history"]  # opened by the scan
    assert page is not None and page.isVisible()
    qtbot.waitUntil(lambda: page.selected_order is not None and page.selected_order.out_trade_no == no, timeout=10000)
    assert co.amount.text == ""  # nothing of the code leaked into the amount


def test_order_numbers_are_told_from_payment_codes():
    from cashier.engine.numbers import make_number
    from cashier.scanner import ORDER_NUMBER, Scan, classify_payment_code

    for counter_id in ("1", "01", "A7", "Z9X1"):
        for kind in ("P", "R"):
            no = make_number(kind, counter_id, 1_790_000_000.0, 123)
            assert ORDER_NUMBER.match(no) and classify_payment_code(no) is None
            assert Scan(no, no, None).kind == "order"
    assert not ORDER_NUMBER.match("134567890123456789")


def test_the_counter_refuses_to_close_while_a_payment_is_in_flight(counter):
    """What the window system (or an installer's Restart Manager) asking to close meets."""
    assert not counter.window.refuse_close()
    counter.type_human("6.00")
    counter.key(Qt.Key.Key_F2)
    counter.wait_mode("qr")
    assert counter.window.refuse_close()
    assert "正在进行" in counter.window.status_note.text()
    counter.key(Qt.Key.Key_Escape)  # cancelled: nothing waits on an answer any more
    counter.idle()
    counter.run(1)
    counter.idle()
    assert counter.engine.order(counter.checkout.current.out_trade_no).state not in ("pending", "sending", "unknown")
    assert not counter.window.refuse_close()


def test_the_devices_tab_saves_from_its_own_tab_with_ctrl_s(counter, qtbot):
    page = counter.window.show_page("settings")
    page.tabs.setCurrentWidget(page.devices)
    assert page.devices.save_button.isVisible() and not page.save_button.isVisible()
    page.devices.shop.setText("便民小店")
    page.devices.save_button.setFocus()
    QTest.keyClick(page.devices.save_button, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    from cashier.settings import SettingsStore

    qtbot.waitUntil(lambda: SettingsStore().load().shop_name == "便民小店", timeout=5000)
